//! What the test client gives back: the response, read in full or piece by piece.

use std::pin::Pin;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::body::{Body, BoxError};
use crate::sync::lock;

/// A response received by the [`TestClient`].
///
/// A streamed body is read when it is first asked for ([`TestResponse::text`],
/// [`bytes`](TestResponse::bytes), [`json`](TestResponse::json)), or piece by piece with
/// [`TestResponse::into_stream`].
pub struct TestResponse {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    collected: OnceLock<Bytes>,
    unread: Mutex<Option<Body>>,
    pub(super) path: String,
    pub(super) history: Vec<TestResponse>,
}

impl From<crate::Response> for TestResponse {
    fn from(resp: crate::Response) -> TestResponse {
        let (parts, body) = resp.into_parts();
        let collected = OnceLock::new();
        let unread = match body.as_bytes() {
            Some(bytes) => {
                let _ = collected.set(bytes.clone());
                None
            }
            None => Some(body),
        };
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            collected,
            unread: Mutex::new(unread),
            path: String::new(),
            history: Vec::new(),
        }
    }
}

impl std::fmt::Debug for TestResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.collected.get())
            .finish()
    }
}

impl TestResponse {
    /// The status; compares with a number: `assert_eq!(resp.status(), 200)`.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The first value of header `name`, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The path (and query) this response answered; after redirects were followed, the
    /// last one, as Flask's `response.request.path`.
    pub fn request_path(&self) -> &str {
        &self.path
    }

    /// The redirects followed on the way to this response, first to last (empty unless
    /// the request was sent with [`TestRequest::follow_redirects`]).
    pub fn history(&self) -> &[TestResponse] {
        &self.history
    }

    /// All headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body as text (invalid UTF-8 is replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// The body; a streamed one is read to its end first.
    ///
    /// # Panics
    ///
    /// If the body's stream ends with an error.
    pub fn bytes(&self) -> &Bytes {
        self.collected.get_or_init(|| {
            let body = lock(&self.unread).take();
            match body {
                Some(body) => crate::bridge::block_on(body.collect())
                    .unwrap_or_else(|e| panic!("the response body stream failed: {e}")),
                None => Bytes::new(),
            }
        })
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON of type `T`, with the body in the message.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(self.bytes())
            .unwrap_or_else(|e| panic!("the response body is not the expected JSON ({e}): {}", self.text()))
    }

    /// The body as a stream, to read piece by piece (an endless stream, such as Server-Sent
    /// Events, can only be read this way). Dropping it is the client going away.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[get("/numbers")]
    /// fn numbers() -> Body {
    ///     Body::from_iter((0..).map(|n: u64| format!("{n};")))  // endless
    /// }
    ///
    /// let client = App::new().register(handlers![numbers]).test_client();
    /// let mut body = client.get("/numbers").send().into_stream();
    /// let first = body.next_blocking().unwrap();
    /// assert!(first.starts_with(b"0;"));
    /// ```
    pub fn into_stream(self) -> TestBodyStream {
        let body = match crate::sync::into_inner(self.unread) {
            Some(body) => body,
            None => Body::from(self.collected.into_inner().unwrap_or_default()),
        };
        TestBodyStream { stream: Box::pin(body.into_data_stream()) }
    }
}

/// A response body read piece by piece: a [`futures::Stream`] of chunks, or
/// [`TestBodyStream::next_blocking`] in a plain `#[test]`.
pub struct TestBodyStream {
    stream: Pin<Box<dyn futures::Stream<Item = Result<Bytes, BoxError>> + Send>>,
}

impl TestBodyStream {
    /// The next chunk, waiting for it; `None` at the end of the body.
    ///
    /// # Panics
    ///
    /// If the body's stream ends with an error.
    pub fn next_blocking(&mut self) -> Option<Bytes> {
        use futures::StreamExt;
        crate::bridge::block_on(self.stream.next())
            .map(|chunk| chunk.unwrap_or_else(|e| panic!("the response body stream failed: {e}")))
    }
}

impl futures::Stream for TestBodyStream {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for TestBodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestBodyStream")
    }
}
