use erlen::prelude::*;

#[get("/")]
#[before_request]
fn index() {}

fn main() {}
