use erlen::prelude::*;

#[get("users")]
fn users() -> &'static str {
    "[]"
}

fn main() {}
