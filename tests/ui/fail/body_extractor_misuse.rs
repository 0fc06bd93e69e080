use erlen::prelude::*;

#[post("/a")]
async fn reader_in_async(_body: BodyReader) {}

#[post("/b")]
fn stream_in_plain(_body: BodyStream) {}

#[before_request]
fn form_in_hook(_form: Multipart) {}

#[post("/c")]
async fn optional_reader_in_async(_body: Option<BodyReader>) {}

#[before_request]
fn optional_form_in_hook(_form: Option<Multipart>) {}

#[post("/d")]
fn in_full_and_streamed(_body: Bytes, _reader: BodyReader) {}

#[post("/e")]
fn streamed_twice(_form: Multipart, _reader: BodyReader) {}

fn main() {
    let _ = handlers![
        reader_in_async,
        stream_in_plain,
        form_in_hook,
        optional_reader_in_async,
        optional_form_in_hook,
        in_full_and_streamed,
        streamed_twice
    ];
}
