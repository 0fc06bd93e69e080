//! The in-process test client: requests go through the same lifecycle as on a server,
//! without a socket.

use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use cookie::{Cookie, CookieJar};
use http::header::{COOKIE, SET_COOKIE};

use crate::app::{App, AppCore, BuildError};
use crate::body::{Body, BoxError};
use crate::exec::Mode;
use crate::incoming::Incoming;
use crate::request::Request;
use crate::session::Session;
use crate::sync::lock;

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
///
/// Like Flask's, it keeps the cookies the app sets (a jar per client, shared by its
/// clones) and sends them back, and can follow redirects and open the session.
#[derive(Clone, Debug)]
pub struct TestClient {
    app: Arc<AppCore>,
    jar: Option<Arc<Mutex<CookieJar>>>,
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
        Ok(TestClient { app: self.build()?, jar: Some(Arc::default()) })
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
            jar: self.jar.clone(),
            method,
            path: path.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            follow: false,
            upgrade: None,
        }
    }

    /// Opens a WebSocket to `path` in-process (the app's `#[websocket]` route), through the
    /// same lifecycle as a request: hooks may refuse it. See [`TestWebSocket`].
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[websocket("/ws")]
    /// async fn ws(mut ws: WebSocket) {
    ///     let _ = ws.send_text("hello").await;
    /// }
    ///
    /// #[before_request]
    /// fn auth(req: &Request) -> Option<Response> {
    ///     req.header("authorization").is_none().then(|| (StatusCode::UNAUTHORIZED, "log in").into_response())
    /// }
    ///
    /// let client = App::new().register(handlers![ws, auth]).test_client();
    /// let refused = client.websocket("/ws").connect().unwrap_err();
    /// assert_eq!(refused.status(), 401);
    /// let mut ws = client.websocket("/ws").header("authorization", "Bearer t").connect().unwrap();
    /// assert_eq!(ws.receive(), Some(Message::text("hello")));
    /// ```
    ///
    /// [`TestWebSocket`]: crate::websocket::TestWebSocket
    pub fn websocket(&self, path: &str) -> crate::websocket::TestWebSocketRequest {
        crate::websocket::TestWebSocketRequest::new(self.get(path))
    }

    /// Stops keeping cookies: requests carry only the headers they are given, as Flask's
    /// `test_client(use_cookies=False)`.
    pub fn without_cookies(mut self) -> TestClient {
        self.jar = None;
        self
    }

    fn jar(&self) -> MutexGuard<'_, CookieJar> {
        match &self.jar {
            Some(jar) => lock(jar),
            None => panic!("this test client keeps no cookies (`without_cookies`)"),
        }
    }

    /// The value of the cookie `name` in the client's jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.as_ref().and_then(|jar| lock(jar).get(name).map(|c| c.value().to_string()))
    }

    /// Puts a cookie in the client's jar, sent with the following requests.
    ///
    /// # Panics
    ///
    /// If the client keeps no cookies.
    pub fn set_cookie(&self, cookie: impl Into<Cookie<'static>>) {
        self.jar().add(cookie.into());
    }

    /// Removes the cookie `name` from the client's jar.
    ///
    /// # Panics
    ///
    /// If the client keeps no cookies.
    pub fn delete_cookie(&self, name: &str) {
        self.jar().force_remove(name);
    }

    /// Opens the session the client's cookie holds, lets `f` read and change it, and
    /// stores it back in the jar, as Flask's `session_transaction()`.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[get("/me")]
    /// fn me(session: Session) -> String {
    ///     session.get::<String>("user").unwrap_or_default()
    /// }
    ///
    /// let client = App::new().secret_key("dev").register(handlers![me]).test_client();
    /// client.session_transaction(|session| session.insert("user", "ada"));
    /// assert_eq!(client.get("/me").send().text(), "ada");
    /// assert_eq!(client.session_transaction(|session| session.get::<String>("user")).as_deref(), Some("ada"));
    /// ```
    ///
    /// # Panics
    ///
    /// If the app has no secret key, or the client keeps no cookies.
    pub fn session_transaction<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        let sessions = &self.app.sessions;
        let name = sessions.config.name();
        let header = self.cookie(name).map(|value| Cookie::new(name, value).to_string());
        let state = sessions.load(header.as_deref().into_iter()).unwrap_or_else(|| {
            panic!("the app has no secret key: set one with `App::secret_key` to use sessions")
        });
        let state = Arc::new(state);
        let out = f(&Session::new(state.clone()));
        if let Some(cookie) = sessions.cookie_for(&state) {
            self.store(&cookie);
        }
        out
    }

    fn store(&self, cookie: &Cookie<'_>) {
        if let Some(jar) = &self.jar {
            store_cookie(&mut lock(jar), cookie);
        }
    }
}

/// Keeps a cookie from a `Set-Cookie`, or drops it when it is a removal.
fn store_cookie(jar: &mut CookieJar, cookie: &Cookie<'_>) {
    let expired = cookie.max_age().is_some_and(|age| age.is_zero() || age.is_negative())
        || cookie.expires_datetime().is_some_and(|at| at <= cookie::time::OffsetDateTime::now_utc());
    if expired {
        jar.force_remove(cookie.name());
    } else {
        jar.add(cookie.clone().into_owned());
    }
}

/// A request being built by a [`TestClient`]; send it with `.send()` or `.await`.
#[must_use = "a test request does nothing until it is sent with `.send()` or `.await`"]
pub struct TestRequest {
    app: Arc<AppCore>,
    jar: Option<Arc<Mutex<CookieJar>>>,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    follow: bool,
    /// The in-memory connection a WebSocket upgrade takes over.
    upgrade: Option<crate::websocket::TestUpgrade>,
}

impl TestRequest {
    /// Sets a header unless the test set it.
    pub(crate) fn default_header(mut self, name: HeaderName, value: &'static str) -> TestRequest {
        self.headers.entry(name).or_insert(HeaderValue::from_static(value));
        self
    }

    /// Gives the request a connection to upgrade.
    pub(crate) fn upgrade(mut self, upgrade: crate::websocket::TestUpgrade) -> TestRequest {
        self.upgrade = Some(upgrade);
        self
    }

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

    /// Follows redirects to their end, as Flask's `follow_redirects=True`: a 301, 302 or
    /// 303 is followed with a GET (as browsers do after a form's POST), a 307 or 308 with
    /// the same method and body. The final response's [`TestResponse::history`] holds the
    /// redirects on the way.
    pub fn follow_redirects(mut self) -> TestRequest {
        self.follow = true;
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

    /// The request as the app sees it, with the jar's cookies.
    fn to_request(&self) -> Result<Request, crate::HttpError> {
        let mut builder = http::Request::builder().method(self.method.clone()).uri(&self.path);
        if let Some(h) = builder.headers_mut() {
            *h = self.headers.clone();
            if let Some(jar) = &self.jar {
                let cookies: Vec<String> = lock(jar).iter().map(|c| c.stripped().to_string()).collect();
                if !cookies.is_empty() && !h.contains_key(COOKIE) {
                    if let Ok(value) = HeaderValue::from_str(&cookies.join("; ")) {
                        h.insert(COOKIE, value);
                    }
                }
            }
        }
        let request =
            builder.body(()).unwrap_or_else(|e| panic!("`{}` is not a valid request target: {e}", self.path));
        let (parts, ()) = request.into_parts();
        let mut request = Request::from_parts(parts, self.body.clone())?;
        if let Some(upgrade) = &self.upgrade {
            request.extensions_mut().insert(upgrade.clone());
        }
        Ok(request)
    }

    /// Routes the request first, as a server does, and applies the route's `body_limit`
    /// (or the server's default, 2 MiB); a view that streams its body gets it in 64 KiB pieces.
    fn plan_body(&self, mut req: Request) -> Result<Request, crate::HttpError> {
        let route = crate::dispatch::preroute(&self.app, &mut req);
        let limit = route.body_limit.unwrap_or(crate::serve::DEFAULT_BODY_LIMIT);
        if req.body.len() as u64 > limit {
            return Err(crate::incoming::too_large(limit).to_http());
        }
        req.body_limit = limit;
        if route.body.streams() {
            let body = std::mem::take(&mut req.body);
            req.set_unread(Incoming::from_bytes(body, limit));
        }
        Ok(req)
    }

    /// Sends this one request through the lifecycle, and keeps the cookies it sets.
    pub(crate) async fn send_once(&self) -> TestResponse {
        let req = match self.to_request() {
            Ok(req) => req,
            Err(e) => return TestResponse::from(e.default_response()),
        };
        let req = match self.plan_body(req) {
            Ok(req) => req,
            Err(e) => return TestResponse::from(e.default_response()),
        };
        let app = self.app.clone();
        // Dispatch on the shared runtime, whatever runtime (if any) awaits us.
        let task = crate::bridge::handle().spawn(async move {
            crate::dispatch::dispatch(&app, Box::new(req), &Mode::Offload { limit: None }).await
        });
        let resp = match task.await {
            Ok(resp) => TestResponse::from(resp),
            Err(e) => panic!("the request task failed: {e}"),
        };
        if let Some(jar) = &self.jar {
            let mut jar = lock(jar);
            for value in resp.headers.get_all(SET_COOKIE) {
                if let Some(cookie) = value.to_str().ok().and_then(|v| Cookie::parse(v).ok()) {
                    store_cookie(&mut jar, &cookie);
                }
            }
        }
        resp
    }
}

/// How many redirects `follow_redirects` follows before it gives up.
const MAX_REDIRECTS: usize = 20;

impl IntoFuture for TestRequest {
    type Output = TestResponse;
    type IntoFuture = crate::handler::BoxFuture<'static, TestResponse>;

    fn into_future(mut self) -> Self::IntoFuture {
        Box::pin(async move {
            let mut history = Vec::new();
            loop {
                let mut resp = self.send_once().await;
                resp.path = self.path.clone();
                let location = resp.header("location").map(local_target);
                let method = match resp.status.as_u16() {
                    301..=303 => Method::GET,
                    307 | 308 => self.method.clone(),
                    _ => {
                        resp.history = history;
                        return resp;
                    }
                };
                let Some(location) = location.filter(|_| self.follow) else {
                    resp.history = history;
                    return resp;
                };
                assert!(
                    history.len() < MAX_REDIRECTS,
                    "more than {MAX_REDIRECTS} redirects, the last to {location}"
                );
                if method == Method::GET && self.method != Method::GET {
                    self.body = Bytes::new();
                    self.headers.remove(CONTENT_TYPE);
                }
                self.method = method;
                self.path = location;
                history.push(resp);
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
    path: String,
    history: Vec<TestResponse>,
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

/// The path and query of a `Location`, which may be absolute (`http://host/path`).
fn local_target(location: &str) -> String {
    match location.parse::<http::Uri>() {
        Ok(uri) if uri.scheme().is_some() => uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        _ => location.to_string(),
    }
}
