use erlen::prelude::*;

#[route("/items", methods = ["GET", "FETCH"])]
fn items() -> &'static str {
    "[]"
}

fn main() {}
