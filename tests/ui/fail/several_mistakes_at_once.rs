use erlen::prelude::*;

#[route("/a/<int:id>/<slug>", methods = ["GRAB"])]
fn many(slug: String, other: &str) -> &'static str {
    let _ = (slug, other);
    "all reported together"
}

fn main() {}
