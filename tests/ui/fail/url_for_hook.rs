use erlen::prelude::*;

#[before_request]
fn load_user() {}

#[get("/")]
fn index() -> String {
    url_for!(load_user)
}

fn main() {}
