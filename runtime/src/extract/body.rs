//! Extractors of the body: in full (`Json`, `Bytes`, `String`), or streamed as it arrives
//! ([`BodyStream`], [`BodyReader`]).

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::Stream;
use serde::de::DeserializeOwned;

use super::from_request::{BodyUse, FromRequest};
use crate::error::{HttpError, abort};
use crate::incoming::Incoming;
use crate::request::Request;
use crate::response::Json;

/// A JSON body: the request's content type must be JSON (`application/json`, or
/// `application/*+json` such as `application/problem+json`), else it is a 415, as
/// Flask's `request.get_json()` answers; then malformed JSON is a 400.
impl<T: DeserializeOwned> FromRequest for Json<T> {
    const BODY: BodyUse = BodyUse::Buffered;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        match req.header("content-type") {
            Some(_) if req.media_type().is_some_and(is_json) => req.json().map(Json),
            Some(other) => Err(abort(415).with_message(format!(
                "expected a JSON body with content type application/json, not `{other}`"
            ))),
            None => Err(abort(415)
                .with_message("expected a JSON body with content type application/json, and the request has no content type")),
        }
    }

    fn from_request_optional(req: &Request) -> Result<Option<Self>, HttpError> {
        if req.body().is_empty() { Ok(None) } else { Self::from_request(req).map(Some) }
    }
}

/// Whether a media type (a content type without its parameters) is JSON:
/// `application/json` or `application/<anything>+json`, in any case.
fn is_json(media_type: &str) -> bool {
    let essence = media_type.to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(subtype) => subtype == "json" || (subtype.len() > "+json".len() && subtype.ends_with("+json")),
        None => false,
    }
}

/// The raw body.
impl FromRequest for Bytes {
    const BODY: BodyUse = BodyUse::Buffered;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        Ok(req.body_bytes().clone())
    }
}

/// The body as UTF-8 text; a body that is not UTF-8 is a 400.
impl FromRequest for String {
    const BODY: BodyUse = BodyUse::Buffered;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        String::from_utf8(req.body().to_vec())
            .map_err(|_| abort(400).with_message("the request body is not valid UTF-8"))
    }
}

/// The request body as an async stream of pieces, for an `async fn` view: an upload is
/// written out as it arrives, never held in memory.
///
/// Each item is a piece of the body, or the error that ends it: a 413 once the body goes
/// over the route's `body_limit` (or the server's), a 408 when the client stops sending,
/// a 400 for a broken body. Return it with `?` and the client gets that answer.
///
/// ```
/// use erlen::prelude::*;
/// use futures::StreamExt;
///
/// #[post("/upload", body_limit = "1 GiB")]
/// async fn upload(mut body: BodyStream) -> Result<String, HttpError> {
///     let mut total = 0;
///     while let Some(piece) = body.next().await {
///         total += piece?.len(); // write it to a file, hash it, forward it...
///     }
///     Ok(format!("{total} bytes"))
/// }
///
/// let client = App::new().register(handlers![upload]).test_client();
/// assert_eq!(client.post("/upload").body(vec![7u8; 5000]).send().text(), "5000 bytes");
/// ```
pub struct BodyStream(Incoming);

impl BodyStream {
    /// The largest body this route accepts, in bytes.
    pub fn limit(&self) -> u64 {
        self.0.limit()
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, HttpError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_chunk(cx).map(|item| item.map(|piece| piece.map_err(|f| f.to_http())))
    }
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream").field("read", &self.0.read()).field("limit", &self.0.limit()).finish()
    }
}

impl FromRequest for BodyStream {
    const BODY: BodyUse = BodyUse::Stream;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        req.take_incoming().map(BodyStream)
    }
}

/// The request body as a blocking reader (`std::io::Read`), for a plain `fn` view, the
/// Flask habit of `request.stream`: copy an upload to a file with `std::io::copy`
/// without holding it in memory.
///
/// A read fails with an `io::Error` that converts back into the client's answer when a
/// view returns it with `?`: a 413 once the body goes over the limit, a 408 when the
/// client stops sending, a 400 for a broken body.
///
/// ```
/// use erlen::prelude::*;
///
/// #[post("/upload", body_limit = "100 MiB")]
/// fn upload(mut body: BodyReader) -> Result<String, HttpError> {
///     let mut file = Vec::new(); // or std::fs::File::create(path)?
///     let n = std::io::copy(&mut body, &mut file)?;
///     Ok(format!("{n} bytes"))
/// }
///
/// let client = App::new().register(handlers![upload]).test_client();
/// assert_eq!(client.post("/upload").body("hello").send().text(), "5 bytes");
/// ```
pub struct BodyReader {
    incoming: Incoming,
    piece: Bytes,
}

impl BodyReader {
    /// The largest body this route accepts, in bytes.
    pub fn limit(&self) -> u64 {
        self.incoming.limit()
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.piece.has_remaining() {
            // The view runs off the runtime's threads (on the sync pool or a worker), so
            // waiting here parks only this thread, as any blocking read does.
            match crate::bridge::block_on(self.incoming.next_chunk()) {
                Some(Ok(piece)) => self.piece = piece,
                Some(Err(fault)) => return Err(io::Error::other(fault)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len());
        self.piece.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("read", &self.incoming.read())
            .field("limit", &self.incoming.limit())
            .finish()
    }
}

impl FromRequest for BodyReader {
    const BODY: BodyUse = BodyUse::Stream;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        req.take_incoming().map(|incoming| BodyReader { incoming, piece: Bytes::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;
    use crate::request::media_type_of;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
        ] {
            assert!(is_json(media_type_of(ok)), "{ok}");
        }
        for not in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/+json",
            "text/json",
            "application/jsonp",
        ] {
            assert!(!is_json(media_type_of(not)), "{not}");
        }
    }
}
