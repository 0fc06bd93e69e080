use erlen::prelude::*;

#[command]
fn pair((a, b): (u8, u8)) {
    let _ = (a, b);
}

fn main() {}
