use erlen::prelude::*;

#[get("/", methods = ["POST"])]
fn index() -> &'static str {
    "?"
}

fn main() {}
