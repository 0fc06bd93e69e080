use erlen::prelude::*;

#[route("/")]
struct Index;

fn main() {}
