use erlen::prelude::*;

#[get("/users/<id>/posts/<int:id>")]
fn post(id: i64) -> String {
    id.to_string()
}

fn main() {}
