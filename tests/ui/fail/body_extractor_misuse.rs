use erlen::prelude::*;

#[post("/a")]
async fn reader_in_async(_body: BodyReader) {}

#[post("/b")]
fn stream_in_plain(_body: BodyStream) {}

#[before_request]
fn form_in_hook(_form: Multipart) {}

fn main() {}
