use erlen::prelude::*;

struct Database;

#[get("/users/<int:id>")]
fn user(id: i64, db: Database) -> String {
    let _ = db;
    id.to_string()
}

fn main() {}
