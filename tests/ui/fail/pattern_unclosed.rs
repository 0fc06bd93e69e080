use erlen::prelude::*;

#[get("/users/<int:id")]
fn user(id: i64) -> String {
    id.to_string()
}

fn main() {}
