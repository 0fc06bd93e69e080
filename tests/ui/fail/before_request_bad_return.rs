use erlen::prelude::*;

#[before_request]
fn check(req: &Request) -> bool {
    req.header("x-token").is_some()
}

fn main() {}
