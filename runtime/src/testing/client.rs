//! The in-process test client: requests go through the same admission and lifecycle as
//! on a server, without a socket.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use cookie::{Cookie, CookieJar};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;

use super::response::TestResponse;
use crate::admit::RequestLimits;
use crate::app::{App, BuildError};
use crate::body::{Body, BoxFuture};
use crate::csrf::Csrf;
use crate::serve::Serve;
use crate::session::{Session, Sessions};
use crate::sync::lock;
use crate::websocket::TestUpgrade;

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
#[derive(Clone)]
pub struct TestClient {
    serve: Arc<Serve>,
    jar: Option<Arc<Mutex<CookieJar>>>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").field("app", &self.serve.admission.app).field("jar", &self.jar).finish()
    }
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
        let serve = Serve::in_process(self.build()?, RequestLimits::default(), 0);
        Ok(TestClient { serve: Arc::new(serve), jar: Some(Arc::default()) })
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
            serve: self.serve.clone(),
            jar: self.jar.clone(),
            method,
            path: path.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            follow: false,
            upgrade: None,
        }
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
    /// With a server-side [`SessionStore`](crate::SessionStore) the session is read from
    /// and written to its store, as a request would.
    ///
    /// # Panics
    ///
    /// If the app has no secret key, the client keeps no cookies, or the session's store
    /// does not answer.
    pub fn session_transaction<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        const NO_KEY: &str = "the app has no secret key: set one with `App::secret_key` to use sessions";
        let sessions =
            self.serve.admission.app.features.get::<Sessions>().unwrap_or_else(|| panic!("{NO_KEY}"));
        let name = sessions.config.name();
        let header = self.cookie(name).map(|value| Cookie::new(name, value).to_string());
        let (out, cookie) = sessions.transaction(header.as_deref(), f).unwrap_or_else(|| panic!("{NO_KEY}"));
        if let Some(cookie) = cookie {
            self.store(&cookie);
        }
        out
    }

    /// A CSRF token for the client's session, as a page of the app would give it (the
    /// session gets the token's value if it has none yet): send it in a `csrf_token` form
    /// field or an `X-CSRFToken` header to an app that protects itself with
    /// [`App::csrf_protect`].
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[post("/save")]
    /// fn save() -> &'static str { "saved" }
    ///
    /// let client = App::new().secret_key("dev").csrf_protect().register(handlers![save]).test_client();
    /// let token = client.csrf_token();
    /// assert_eq!(client.post("/save").form(&[("csrf_token", &token)]).send().text(), "saved");
    /// ```
    ///
    /// # Panics
    ///
    /// If the app does not protect against CSRF, or the client keeps no cookies.
    pub fn csrf_token(&self) -> String {
        let csrf = self.serve.admission.app.features.get::<Csrf>().unwrap_or_else(|| {
            panic!("the app makes no CSRF tokens: turn its protection on with `App::csrf_protect()`")
        });
        self.session_transaction(|session| csrf.token_for(session))
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
    serve: Arc<Serve>,
    jar: Option<Arc<Mutex<CookieJar>>>,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    follow: bool,
    /// The in-memory connection a WebSocket upgrade takes over.
    upgrade: Option<TestUpgrade>,
}

impl std::fmt::Debug for TestRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("follow_redirects", &self.follow)
            .finish_non_exhaustive()
    }
}

impl TestRequest {
    /// Sets a header unless the test set it.
    pub(crate) fn default_header(mut self, name: HeaderName, value: &'static str) -> TestRequest {
        self.headers.entry(name).or_insert(HeaderValue::from_static(value));
        self
    }

    /// Gives the request a connection to upgrade.
    pub(crate) fn upgrade(mut self, upgrade: TestUpgrade) -> TestRequest {
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

    /// The request as a client sends it: the jar's cookies, `Host: localhost` and the
    /// body's `Content-Length` unless the test set them (or set `Transfer-Encoding`, for
    /// a body of no declared length), the body in pieces of 64 KiB as it would arrive from
    /// a socket.
    fn to_request(&self) -> http::Request<Body> {
        let mut headers = self.headers.clone();
        if let Some(jar) = &self.jar {
            let cookies: Vec<String> = lock(jar).iter().map(|c| c.stripped().to_string()).collect();
            if !cookies.is_empty() && !headers.contains_key(COOKIE) {
                if let Ok(value) = HeaderValue::from_str(&cookies.join("; ")) {
                    headers.insert(COOKIE, value);
                }
            }
        }
        headers.entry(HOST).or_insert(HeaderValue::from_static("localhost"));
        if !self.body.is_empty() && !headers.contains_key(TRANSFER_ENCODING) {
            headers.entry(CONTENT_LENGTH).or_insert_with(|| HeaderValue::from(self.body.len()));
        }
        let body = if self.body.is_empty() { Body::empty() } else { in_pieces(self.body.clone()) };
        let mut builder = http::Request::builder().method(self.method.clone()).uri(&self.path);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        if let Some(upgrade) = &self.upgrade {
            builder = builder.extension(upgrade.clone());
        }
        builder.body(body).unwrap_or_else(|e| panic!("`{}` is not a valid request target: {e}", self.path))
    }

    /// Sends this one request through admission and the lifecycle, and keeps the cookies
    /// it sets.
    pub(crate) async fn send_once(&self) -> TestResponse {
        let req = self.to_request();
        let serve = self.serve.clone();
        // Served on the shared runtime, whatever runtime (if any) awaits us.
        let task = crate::bridge::handle().spawn(async move { serve.respond(req, None).await });
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

/// A body in memory as a client sends it: in pieces of 64 KiB (without copying).
fn in_pieces(bytes: Bytes) -> Body {
    const PIECE: usize = 64 * 1024;
    let pieces: Vec<Bytes> =
        (0..bytes.len()).step_by(PIECE).map(|at| bytes.slice(at..(at + PIECE).min(bytes.len()))).collect();
    Body::from_stream(futures::stream::iter(pieces))
}

/// How many redirects `follow_redirects` follows before it gives up.
const MAX_REDIRECTS: usize = 20;

impl IntoFuture for TestRequest {
    type Output = TestResponse;
    type IntoFuture = BoxFuture<'static, TestResponse>;

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

/// The path and query of a `Location`, which may be absolute (`http://host/path`).
fn local_target(location: &str) -> String {
    match location.parse::<http::Uri>() {
        Ok(uri) if uri.scheme().is_some() => uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        _ => location.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_client_has_a_function_for_each_method_of_the_table() {
        let client = crate::App::new().test_client();
        let made = [
            client.get("/"),
            client.post("/"),
            client.put("/"),
            client.patch("/"),
            client.delete("/"),
            client.head("/"),
            client.options("/"),
        ];
        for request in &made {
            assert!(erlen_pattern::METHODS.contains(&request.method.as_str()), "{}", request.method);
        }
        let shortcuts = ["GET", "POST", "PUT", "PATCH", "DELETE"];
        assert!(shortcuts.iter().all(|m| made.iter().any(|r| r.method == *m)));
    }
}
