use erlen::prelude::*;

#[get("/users/<int:id>")]
fn user() -> &'static str {
    "who?"
}

fn main() {}
