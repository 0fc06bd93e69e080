//! Every accepted form of the upload extractors and route limits, and of `csrf`.

use erlen::prelude::*;
use futures::StreamExt;

#[post("/stream", body_limit = "100 MiB", timeout = "30 s")]
async fn stream(mut body: BodyStream) -> Result<String, HttpError> {
    let mut n = 0;
    while let Some(piece) = body.next().await {
        n += piece?.len();
    }
    Ok(n.to_string())
}

#[post("/read", body_limit = 1048576)]
fn read(mut body: BodyReader) -> Result<String, HttpError> {
    Ok(std::io::copy(&mut body, &mut std::io::sink())?.to_string())
}

#[post("/form")]
fn form(form: Multipart, State(n): State<u8>) -> String {
    format!("{} {n}", form.fields().len())
}

#[post("/maybe")]
async fn maybe(form: Option<Multipart>) -> &'static str {
    if form.is_some() { "form" } else { "none" }
}

#[route("/a", methods = ["POST"], body_limit = "1 KiB")]
#[put("/b", timeout = "500 ms")]
fn stacked(body: Bytes) -> String {
    body.len().to_string()
}

#[post("/hook", csrf = false)]
fn hook() {}

#[route("/c", methods = ["POST"], body_limit = "1 KiB", csrf = true)]
#[put("/d")]
fn checked(body: Bytes) -> String {
    body.len().to_string()
}

#[websocket("/ws", csrf = false)]
async fn socket(_ws: WebSocket) {}

fn main() {
    let client = App::new()
        .state(1u8)
        .register(handlers![stream, read, form, maybe, stacked, hook, checked, socket])
        .test_client();
    assert_eq!(client.post("/stream").body("abc").send().text(), "3");
    assert_eq!(client.post("/read").body("abcd").send().text(), "4");
    assert_eq!(client.post("/maybe").body("x").send().text(), "none");
    assert_eq!(client.put("/b").body(vec![0; 2000]).send().status(), 413, "the limit applies to every URL");
}
