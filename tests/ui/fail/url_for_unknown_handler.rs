use erlen::prelude::*;

#[get("/users/<int:id>")]
fn user(id: i64) -> String {
    id.to_string()
}

#[get("/")]
fn index() -> String {
    url_for!(usr, id = 7)
}

fn main() {}
