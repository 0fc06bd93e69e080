use erlen::prelude::*;

#[before_serving]
fn warm_up() -> bool {
    true
}

fn main() {}
