use erlen::prelude::*;

#[command]
fn greet(req: &Request, name: &str) {
    let _ = (req, name);
}

fn main() {}
