//! The request as views and hooks see it.

use std::any::Any;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::header::HOST;
use http::{Extensions, HeaderMap, HeaderValue, Method, Uri, Version};
use serde::de::DeserializeOwned;

use crate::error::HttpError;
use crate::incoming::Incoming;

/// An HTTP request, with its body read in full, unless the view streams it
/// ([`BodyStream`](crate::BodyStream), [`BodyReader`](crate::BodyReader),
/// [`Multipart`](crate::Multipart)).
///
/// Views take it as `&Request`; `before_request` and other hooks may take `&mut Request`
/// to change it or to store per-request values in its extensions (Flask's `g`).
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/hello")]
/// fn hello(req: &Request) -> String {
///     format!("{} {} q={:?}", req.method(), req.path(), req.query("q"))
/// }
///
/// let client = App::new().register(handlers![hello]).test_client();
/// assert_eq!(client.get("/hello?q=1").send().text(), "GET /hello q=Some(\"1\")");
/// ```
pub struct Request {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// The percent-decoded path, when it differs from the URI's.
    pub(crate) decoded_path: Option<String>,
    pub(crate) extensions: Extensions,
    pub(crate) params: Vec<(Arc<str>, String)>,
    pub(crate) endpoint: Option<Arc<str>>,
    pub(crate) remote_addr: Option<SocketAddr>,
    /// `http` or `https`: as the connection was made, or as a trusted proxy says.
    pub(crate) scheme: &'static str,
    /// The host a trusted proxy says the client asked for (`X-Forwarded-Host`).
    pub(crate) forwarded_host: Option<HeaderValue>,
    pub(crate) state: Arc<Extensions>,
    query_cache: OnceLock<Vec<(String, String)>>,
    cookie_cache: OnceLock<Vec<(String, String)>>,
    /// The body when the view streams it; behind a lock only so that an extractor, which
    /// sees `&Request`, can take it.
    unread: Mutex<Unread>,
}

/// Where a body that is not in [`Request::body`] is.
enum Unread {
    /// Nowhere: the body was read in full.
    Buffered,
    /// Not read yet, for the view to stream.
    Pending(Box<Incoming>),
    /// Made into what the view's extractor takes, before the view (a multipart form).
    Prepared(Box<dyn Any + Send>),
    /// Taken by an extractor.
    Taken,
}

/// The state of a request not yet given the app's: one shared empty set, so that
/// building a request allocates none.
fn no_state() -> Arc<Extensions> {
    static EMPTY: OnceLock<Arc<Extensions>> = OnceLock::new();
    EMPTY.get_or_init(Arc::default).clone()
}

impl Request {
    /// Builds a request from its parts. The path is percent-decoded here; a path that does
    /// not decode to UTF-8 is a 400.
    pub(crate) fn from_parts(parts: http::request::Parts, body: Bytes) -> Result<Request, HttpError> {
        let path = parts.uri.path();
        // Only a percent sign makes the decoded path differ from the URI's (which is
        // valid UTF-8, as a `&str`).
        let decoded = if path.contains('%') {
            percent_encoding::percent_decode_str(path).decode_utf8()
        } else {
            Ok(Cow::Borrowed(path))
        };
        let decoded_path = match decoded {
            Ok(Cow::Borrowed(_)) => None,
            Ok(Cow::Owned(decoded)) => Some(decoded),
            Err(_) => {
                return Err(crate::abort(400)
                    .with_message("the request path is not valid UTF-8 once percent-decoded"));
            }
        };
        Ok(Request {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            body,
            decoded_path,
            extensions: parts.extensions,
            params: Vec::new(),
            endpoint: None,
            remote_addr: None,
            scheme: "http",
            forwarded_host: None,
            state: no_state(),
            query_cache: OnceLock::new(),
            cookie_cache: OnceLock::new(),
            unread: Mutex::new(Unread::Buffered),
        })
    }

    /// Leaves the body unread, for the view to stream.
    pub(crate) fn set_unread(&mut self, incoming: Incoming) {
        *crate::sync::get_mut(&mut self.unread) = Unread::Pending(Box::new(incoming));
    }

    /// Takes the body for a streaming extractor: the unread body, or the one read in full
    /// as a single piece. A second streaming extractor in one view gets a 500 that says so.
    pub(crate) fn take_incoming(&self) -> Result<Incoming, HttpError> {
        let mut unread = crate::sync::lock(&self.unread);
        match std::mem::replace(&mut *unread, Unread::Taken) {
            Unread::Pending(incoming) => Ok(*incoming),
            Unread::Buffered => {
                *unread = Unread::Buffered;
                Ok(Incoming::from_bytes(self.body.clone(), u64::MAX))
            }
            other => {
                *unread = other;
                Err(HttpError::internal(
                    "the request body was already taken: a view can stream its body once, with one `BodyStream`, `BodyReader` or `Multipart` argument",
                ))
            }
        }
    }

    /// Keeps what a step before the view made of the streamed body (see
    /// [`BodyUse::Prepared`](crate::extract::BodyUse)), for the view's extractor.
    pub(crate) fn set_prepared<T: Send + 'static>(&mut self, prepared: T) {
        *crate::sync::get_mut(&mut self.unread) = Unread::Prepared(Box::new(prepared));
    }

    /// Takes what a step before the view made of the body, if it made a `T`.
    pub(crate) fn take_prepared<T: Send + 'static>(&self) -> Option<T> {
        let mut unread = crate::sync::lock(&self.unread);
        match std::mem::replace(&mut *unread, Unread::Taken) {
            Unread::Prepared(made) if made.is::<T>() => made.downcast::<T>().ok().map(|made| *made),
            other => {
                *unread = other;
                None
            }
        }
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The full request URI, as sent.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The percent-decoded path, such as `/users/7`.
    pub fn path(&self) -> &str {
        self.decoded_path.as_deref().unwrap_or_else(|| self.uri.path())
    }

    /// The raw query string, without `?`.
    pub fn query_string(&self) -> &str {
        self.uri.query().unwrap_or("")
    }

    /// The first value of the query parameter `name`, decoded.
    ///
    /// Returns `None` when the parameter is absent. For many or typed parameters use the
    /// [`Query`](crate::Query) extractor.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_values().iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn query_values(&self) -> &[(String, String)] {
        // Parsed on first use, so that requests that never look at their query pay nothing.
        self.query_cache.get_or_init(|| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(self.query_string()).unwrap_or_default()
        })
    }

    /// The value of header `name`, if it is present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of the cookie `name` the client sent, percent-decoded.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let cookies = self
            .cookie_cache
            .get_or_init(|| crate::cookies::parse(self.headers.get_all(http::header::COOKIE).iter()));
        cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body's media type: the `Content-Type` without its parameters
    /// (`application/json` of `application/json; charset=utf-8`), as sent.
    pub(crate) fn media_type(&self) -> Option<&str> {
        // The header's constant name: a `&str` would be parsed into a name on every call.
        self.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(media_type_of)
    }

    /// Whether the body's media type is `expected`, in any case (media types are
    /// case-insensitive).
    pub(crate) fn media_type_is(&self, expected: &str) -> bool {
        self.media_type().is_some_and(|t| t.eq_ignore_ascii_case(expected))
    }

    /// The id of the last Server-Sent Event the client saw, which `EventSource` sends as
    /// `Last-Event-ID` when it reconnects: resume the stream after it.
    pub fn last_event_id(&self) -> Option<&str> {
        self.header("last-event-id")
    }

    /// All request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// All request headers, to change in a `before_request` hook.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body, read in full before the lifecycle started. Empty when the view streams
    /// the body instead ([`BodyStream`](crate::BodyStream),
    /// [`BodyReader`](crate::BodyReader), [`Multipart`](crate::Multipart)): then hooks
    /// and other extractors cannot see it.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as cheaply clonable bytes (empty when the view streams it).
    pub fn body_bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body parsed as JSON. Malformed JSON, or JSON of the wrong shape, is a 400 whose
    /// message says what is wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| crate::abort(400).with_message(format!("invalid JSON body: {e}")))
    }

    /// A path parameter of the matched route, as text, by name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| &**n == name).map(|(_, v)| v.as_str())
    }

    /// The endpoint that matched, such as `index` or `bp.index` (Flask's
    /// `request.endpoint`); `None` when no route matched.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The blueprint of the matched route, if it belongs to one.
    pub fn blueprint(&self) -> Option<&str> {
        self.endpoint.as_deref().and_then(|e| e.rsplit_once('.')).map(|(bp, _)| bp)
    }

    /// The client's address, when the request came over a socket. Behind a proxy that the
    /// server trusts ([`Server::trust_proxy`](crate::Server::trust_proxy)), the address the
    /// proxy reports in `X-Forwarded-For` or `Forwarded` (with port 0 when it names none);
    /// otherwise the peer of the connection, which is the proxy's.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[get("/ip")]
    /// fn ip(req: &Request) -> String {
    ///     req.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default()
    /// }
    ///
    /// // The test client makes no connection: no address.
    /// let client = App::new().register(handlers![ip]).test_client();
    /// assert_eq!(client.get("/ip").send().text(), "");
    /// ```
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// The scheme the client used, `http` or `https`: `https` on a TLS connection, or when
    /// a trusted proxy says so in `X-Forwarded-Proto` or `Forwarded`
    /// ([`Server::trust_proxy`](crate::Server::trust_proxy)).
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[get("/")]
    /// fn index(req: &Request) -> String { format!("{}://{}", req.scheme(), req.host()) }
    ///
    /// let client = App::new().register(handlers![index]).test_client();
    /// assert_eq!(client.get("/").header("host", "example.com").send().text(), "http://example.com");
    /// ```
    pub fn scheme(&self) -> &str {
        self.scheme
    }

    /// The host (and port, if any) the client asked for: from `X-Forwarded-Host` or
    /// `Forwarded` when a trusted proxy sets it, else the `Host` header, else the
    /// authority of the request URI (HTTP/2's `:authority`), else `localhost`.
    pub fn host(&self) -> &str {
        self.host_value()
            .and_then(|h| h.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost")
    }

    /// The host as the request context keeps it, for absolute URLs.
    pub(crate) fn host_value(&self) -> Option<&HeaderValue> {
        self.forwarded_host.as_ref().or_else(|| self.headers.get(HOST))
    }

    /// Per-request values, Flask's `g`: `req.extensions().get::<User>()`.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Per-request values to set, typically in a `before_request` hook:
    /// `req.extensions_mut().insert(user)`.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The URL of the endpoint named `endpoint` (`index`, `blueprint.name`, `.name` for
    /// the current blueprint's, `static`) with its route parameters, percent-encoded; by
    /// name at run time, where [`url_for!`](crate::url_for) checks a handler at compile
    /// time.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[get("/users/<int:id>")]
    /// fn user(id: i64) -> String { id.to_string() }
    ///
    /// #[get("/")]
    /// fn index(req: &Request) -> Result<String, HttpError> {
    ///     req.url_for("user", &[("id", "7")])
    /// }
    ///
    /// let client = App::new().register(handlers![user, index]).test_client();
    /// assert_eq!(client.get("/").send().text(), "/users/7");
    /// ```
    ///
    /// # Errors
    ///
    /// A 500 (logged, not shown to the client) for an unknown endpoint, a missing or
    /// unknown parameter, or a value its converter does not accept.
    pub fn url_for(&self, endpoint: &str, values: &[(&str, &str)]) -> Result<String, HttpError> {
        let ctx = crate::context::expect("Request::url_for");
        ctx.app
            .url_for(&ctx, endpoint, values, false, false, None)
            .map_err(|e| HttpError::internal(format!("url_for: {e}")))
    }

    /// A value of application state added with [`App::state`](crate::App::state).
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.state.get::<Arc<T>>().map(|shared| &**shared)
    }

    /// The shared handle of a value of application state, for [`State<T>`](crate::State).
    pub(crate) fn shared_state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.state.get::<Arc<T>>().cloned()
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// The media type of a `Content-Type` value: what comes before its parameters, trimmed.
pub(crate) fn media_type_of(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}
