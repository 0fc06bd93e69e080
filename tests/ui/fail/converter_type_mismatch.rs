use erlen::prelude::*;

#[get("/users/<int:id>")]
fn user(id: String) -> String {
    id
}

fn main() {}
