use erlen::prelude::*;

#[post("/a", csrf = 1)]
fn number() {}

#[post("/b", csrf = "false")]
fn quoted() {}

#[post("/c", csrf)]
fn no_value() {}

#[post("/d", csrf = false, csrf = false)]
fn twice_in_one() {}

#[post("/e", csrf = false)]
#[put("/e", csrf = false)]
fn set_twice() {}

#[post("/f", csrf_exempt = true)]
fn unknown_key() {}

#[before_request(csrf = false)]
fn hook() {}

fn main() {}
