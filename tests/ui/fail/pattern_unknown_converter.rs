use erlen::prelude::*;

#[get("/users/<number:id>")]
fn user(id: i64) -> String {
    id.to_string()
}

fn main() {}
