use erlen::prelude::*;

#[get("/")]
fn index(req: &mut Request) -> &'static str {
    let _ = req;
    "mut"
}

fn main() {}
