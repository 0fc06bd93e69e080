use erlen::prelude::*;

#[template_filter(shout)]
fn unquoted_name(value: String) -> String {
    value
}

#[template_global(allow_blocking)]
fn flagged() -> u32 {
    1
}

#[get("/both")]
#[template_filter]
fn both() -> &'static str {
    "both"
}

#[template_filter]
fn generic<T: ToString>(value: T) -> String {
    value.to_string()
}

#[template_global]
fn year() -> u32 {
    2026
}

#[get("/")]
fn index() -> String {
    url_for!(year)
}

fn main() {}
