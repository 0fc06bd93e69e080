use erlen::prelude::*;

struct Db;

#[command]
fn seed(db: Db, limit: Option<Db>) {
    let _ = (db, limit);
}

fn main() {}
