use erlen::prelude::*;

#[post("/a", body_limit = "100 MiBs")]
fn bad_unit() {}

#[post("/b", body_limit = "1.5 GB")]
fn fraction() {}

#[post("/c", timeout = "30 sec")]
fn bad_duration() {}

#[post("/d", timeout = "0 s")]
fn zero_timeout() {}

#[post("/e", timeout = 30)]
fn bare_number_timeout() {}

#[post("/f", max_body = "1 MiB")]
fn unknown_key() {}

#[post("/g", body_limit = "1 MiB")]
#[post("/h", body_limit = "2 MiB")]
fn set_twice() {}

#[websocket("/ws", timeout = "30 s")]
async fn socket(_ws: WebSocket) {}



#[post("/i", body_limit)]
fn no_value() {}

#[post("/j", body_limit = "1 MiB", body_limit = "2 MiB")]
fn twice_in_one() {}

#[route("/k", GET)]
fn bare_method() {}
fn main() {}
