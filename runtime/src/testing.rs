//! The in-process test client: requests go through the same lifecycle as on a server,
//! without a socket.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::{App, AppCore, BuildError};
use crate::body::{Body, BoxError};
use crate::exec::Mode;
use crate::request::Request;

/// A client that serves requests to an app in-process, as Flask's `app.test_client()`.
///
/// Use `.send()` in a plain `#[test]` and `.await` in `#[tokio::test]`; both work in
/// either, and neither panics when the client is used or dropped inside a runtime.
/// Requests run on erlen's shared runtime, with sync handlers on erlen's sync pool, as on
/// the default backend.
///
/// ```
/// use erlen::prelude::*;
///
/// #[post("/echo")]
/// async fn echo(req: &Request) -> Vec<u8> { req.body().to_vec() }
///
/// let client = App::new().register(handlers![echo]).test_client();
/// let resp = client.post("/echo").header("x-a", "b").body("hi").send();
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.text(), "hi");
/// ```
#[derive(Clone, Debug)]
pub struct TestClient {
    app: Arc<AppCore>,
}

impl App {
    /// A test client for this app.
    ///
    /// # Panics
    ///
    /// If the app cannot be built (see [`App::build`]), with the list of problems: this is
    /// a test helper, and the panic is the test's failure message. Use
    /// [`App::try_test_client`] to get the error instead.
    pub fn test_client(self) -> TestClient {
        match self.try_test_client() {
            Ok(client) => client,
            Err(e) => panic!("{e}"),
        }
    }

    /// A test client for this app, or the reasons it cannot be built.
    pub fn try_test_client(self) -> Result<TestClient, BuildError> {
        Ok(TestClient { app: self.build()? })
    }
}

macro_rules! method_fns {
    ($($name:ident => $method:ident),*) => {$(
        #[doc = concat!("A `", stringify!($method), "` request to `path` (which may carry a query string).")]
        pub fn $name(&self, path: &str) -> TestRequest {
            self.request(Method::$method, path)
        }
    )*};
}

impl TestClient {
    method_fns!(get => GET, post => POST, put => PUT, patch => PATCH, delete => DELETE, head => HEAD, options => OPTIONS);

    /// A request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            app: self.app.clone(),
            method,
            path: path.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }
}

/// A request being built by a [`TestClient`]; send it with `.send()` or `.await`.
#[must_use = "a test request does nothing until it is sent with `.send()` or `.await`"]
pub struct TestRequest {
    app: Arc<AppCore>,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl TestRequest {
    /// Adds a header.
    ///
    /// # Panics
    ///
    /// If the name or value is not a valid header (a mistake in the test).
    pub fn header(mut self, name: &str, value: &str) -> TestRequest {
        let name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|_| panic!("`{name}` is not a valid header name"));
        let value = HeaderValue::from_str(value)
            .unwrap_or_else(|_| panic!("`{value}` is not a valid value for header `{name}`"));
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> TestRequest {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    ///
    /// # Panics
    ///
    /// If `value` cannot be serialized.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> TestRequest {
        let body =
            serde_json::to_vec(value).unwrap_or_else(|e| panic!("cannot serialize the JSON body: {e}"));
        self.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = body.into();
        self
    }

    /// Sets a urlencoded form body and its content type.
    ///
    /// # Panics
    ///
    /// If `value` cannot be serialized as a form.
    pub fn form<T: Serialize + ?Sized>(mut self, value: &T) -> TestRequest {
        let body =
            serde_urlencoded::to_string(value).unwrap_or_else(|e| panic!("cannot serialize the form: {e}"));
        self.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        self.body = body.into();
        self
    }

    /// Sends the request and waits for the response, blocking the thread. For `#[test]`;
    /// inside a runtime, prefer `.await`.
    pub fn send(self) -> TestResponse {
        crate::bridge::block_on(self.into_future())
    }

    fn into_request(self) -> Result<(Arc<AppCore>, Request), crate::HttpError> {
        let mut builder = http::Request::builder().method(self.method).uri(&self.path);
        if let Some(h) = builder.headers_mut() {
            *h = self.headers;
        }
        let request =
            builder.body(()).unwrap_or_else(|e| panic!("`{}` is not a valid request target: {e}", self.path));
        let (parts, ()) = request.into_parts();
        Ok((self.app, Request::from_parts(parts, self.body)?))
    }
}

impl IntoFuture for TestRequest {
    type Output = TestResponse;
    type IntoFuture = Pin<Box<dyn Future<Output = TestResponse> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (app, req) = match self.into_request() {
                Ok(parts) => parts,
                Err(e) => return TestResponse::from(e.default_response()),
            };
            // Dispatch on the shared runtime, whatever runtime (if any) awaits us.
            let task = crate::bridge::handle().spawn(async move {
                crate::dispatch::dispatch(&app, Box::new(req), &Mode::Offload { limit: None }).await
            });
            match task.await {
                Ok(resp) => TestResponse::from(resp),
                Err(e) => panic!("the request task failed: {e}"),
            }
        })
    }
}

/// A response received by the [`TestClient`].
///
/// A streamed body is read when it is first asked for ([`TestResponse::text`],
/// [`bytes`](TestResponse::bytes), [`json`](TestResponse::json)), or piece by piece with
/// [`TestResponse::into_stream`].
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    collected: OnceLock<Bytes>,
    unread: Mutex<Option<Body>>,
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
        TestResponse { status: parts.status, headers: parts.headers, collected, unread: Mutex::new(unread) }
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
            let body = self.unread.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
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
        let body = match self.unread.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()) {
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
