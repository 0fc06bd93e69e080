use erlen::prelude::*;

#[post("/a", rate_limit = "5 per minute")]
fn a() {}

#[post("/b", rate_limit = "0/minute")]
fn b() {}

#[post("/c", rate_limit = 5)]
fn c() {}

#[get("/d", rate_limit = "5/minute")]
#[post("/d", rate_limit = "1/second")]
fn d() {}

fn main() {}
