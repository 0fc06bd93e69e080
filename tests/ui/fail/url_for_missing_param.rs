use erlen::prelude::*;

#[get("/users/<int:id>/posts/<slug>")]
fn post(id: i64, slug: String) -> String {
    format!("{id} {slug}")
}

#[get("/")]
fn index() -> String {
    url_for!(post, id = 7)
}

fn main() {}
