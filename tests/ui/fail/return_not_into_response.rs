use erlen::prelude::*;

struct Page {
    title: String,
}

#[get("/")]
fn index() -> Page {
    Page { title: "home".into() }
}

fn main() {}
