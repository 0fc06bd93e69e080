//! Errors a request can end in: [`HttpError`] and [`abort`].

use std::backtrace::Backtrace;
use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// An error that ends a request with an HTTP status, as Flask's `HTTPException`.
///
/// Views and hooks return it in `Err`, or any `std::error::Error + Send + Sync + 'static`
/// that converts into it with `?`. An error made by [`abort`] or [`HttpError::new`] is an
/// *HTTP error*: it carries the status to answer with. Any other error (and a panic) is an
/// *unhandled exception*: it becomes a 500, error handlers registered for its type see it,
/// and `teardown_request` hooks receive it when no type handler took it, as in Flask.
///
/// `HttpError` deliberately does not implement `std::error::Error` itself (like
/// `anyhow::Error`), so that `?` converts every other error into it.
///
/// ```
/// use erlen::prelude::*;
///
/// fn find(id: i64) -> Result<String, HttpError> {
///     if id == 0 {
///         return Err(abort(404).with_message("no user 0"));
///     }
///     let n: i64 = "12".parse()?; // a ParseIntError becomes a 500
///     Ok(format!("user {}", id + n))
/// }
/// assert_eq!(find(0).unwrap_err().status(), 404);
/// assert_eq!(find(1).unwrap(), "user 13");
/// ```
pub struct HttpError(Box<Inner>);

/// Boxed, so that `Result<T, HttpError>` stays small on the success path.
struct Inner {
    status: StatusCode,
    message: Option<Cow<'static, str>>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    headers: HeaderMap,
    kind: Kind,
    /// Where a panic was raised or an error converted, in debug mode (see `panics`).
    backtrace: Option<Backtrace>,
    /// The default page's content type and body, when the error brings its own (a
    /// validation error's JSON).
    page: Option<(HeaderValue, bytes::Bytes)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Exception,
    Panic,
}

/// Ends a request with `code`, as Flask's `abort(404)`: `return Err(abort(404))`.
///
/// A code outside 400..=599 is a programming mistake; it is answered as a 500 that says so.
///
/// ```
/// use erlen::prelude::*;
/// assert_eq!(abort(403).status(), StatusCode::FORBIDDEN);
/// assert_eq!(abort(42).status(), 500);
/// ```
pub fn abort(code: u16) -> HttpError {
    match StatusCode::from_u16(code) {
        Ok(status) if status.is_client_error() || status.is_server_error() => HttpError::new(status),
        _ => HttpError::internal(format!("abort({code}): the code must be in 400..=599")),
    }
}

impl HttpError {
    fn with_kind(status: StatusCode, kind: Kind) -> HttpError {
        let backtrace = match kind {
            Kind::Exception if crate::panics::capturing() => Some(Backtrace::force_capture()),
            Kind::Panic => crate::panics::take_panic_backtrace(),
            _ => None,
        };
        HttpError(Box::new(Inner {
            status,
            message: None,
            source: None,
            headers: HeaderMap::new(),
            kind,
            backtrace,
            page: None,
        }))
    }

    /// An HTTP error with `status` and the standard description of that status.
    pub fn new(status: StatusCode) -> HttpError {
        HttpError::with_kind(status, Kind::Http)
    }

    /// A 500 for a fault of the server or the app (a missing template, a misconfiguration):
    /// `detail` goes to the log and to error handlers, never to the client, who sees the
    /// plain 500 page.
    ///
    /// ```
    /// use erlen::prelude::*;
    /// let e = HttpError::internal("no template folder is set");
    /// assert_eq!(e.status(), 500);
    /// assert!(e.is_exception());
    /// ```
    pub fn internal(detail: impl Into<Cow<'static, str>>) -> HttpError {
        HttpError::with_kind(StatusCode::INTERNAL_SERVER_ERROR, Kind::Exception).with_message(detail)
    }

    /// Sets the text shown in the error page (and to error handlers through
    /// [`HttpError::message`]).
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> HttpError {
        self.0.message = Some(message.into());
        self
    }

    /// Attaches the error that caused this one; handlers registered for its type find it.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> HttpError {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Adds a header to the response this error renders to (the default page keeps it),
    /// such as `Allow` on a 405 or `Retry-After` on a 503.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> HttpError {
        self.0.headers.append(name, value);
        self
    }

    /// The body (and its content type) the error answers with when no error handler takes
    /// it, in place of the default HTML page.
    #[cfg_attr(not(feature = "validate"), allow(dead_code))]
    pub(crate) fn with_page(mut self, content_type: HeaderValue, body: bytes::Bytes) -> HttpError {
        self.0.page = Some((content_type, body));
        self
    }

    /// The error's own default page, if it brings one.
    pub(crate) fn page(&self) -> Option<&(HeaderValue, bytes::Bytes)> {
        self.0.page.as_ref()
    }

    pub(crate) fn from_panic(payload: &(dyn std::any::Any + Send)) -> HttpError {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".to_string());
        HttpError::with_kind(StatusCode::INTERNAL_SERVER_ERROR, Kind::Panic)
            .with_message(format!("panic: {text}"))
    }

    /// The status the request ends with.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The message given with [`HttpError::with_message`], the panic message for a panic,
    /// or the source error's text for an unhandled exception.
    pub fn message(&self) -> Option<Cow<'_, str>> {
        match (&self.0.message, &self.0.source) {
            (Some(m), _) => Some(Cow::Borrowed(m)),
            (None, Some(s)) => Some(Cow::Owned(s.to_string())),
            (None, None) => None,
        }
    }

    /// The underlying error, if there is one.
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.0.source.as_deref()
    }

    /// The underlying error as `T`, if it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.0.source.as_deref().and_then(|s| s.downcast_ref::<T>())
    }

    /// Where the error came from, in debug mode: for a panic, the stack where it was
    /// raised; for another unhandled error, where it was converted into an `HttpError`
    /// (the `?`). `None` outside debug mode and for HTTP errors such as `abort(404)`.
    pub fn backtrace(&self) -> Option<&Backtrace> {
        self.0.backtrace.as_ref()
    }

    /// Headers the error's response carries.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }

    /// Whether this is a panic caught in a view, hook or error handler.
    pub fn is_panic(&self) -> bool {
        self.0.kind == Kind::Panic
    }

    /// Whether this error is an unhandled exception (a panic, or an error that is not an
    /// HTTP error), which `teardown_request` hooks receive when no handler took it.
    pub fn is_exception(&self) -> bool {
        self.0.kind != Kind::Http
    }

    /// The message the client may see: an HTTP error's own, never an exception's.
    pub(crate) fn public_message(&self) -> Option<&str> {
        match self.0.kind {
            Kind::Http => self.0.message.as_deref(),
            Kind::Exception | Kind::Panic => None,
        }
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML, as Flask's `escape` (MarkupSafe) does.
///
/// ```
/// assert_eq!(erlen::escape_html("<a href='x'>&</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
/// ```
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Writing to a `String` cannot fail.
    let _ = write_escaped_html(&mut out, text);
    out
}

/// Writes `text` to `out` escaped as [`escape_html`] does, copying the runs between the
/// five characters whole: no allocation, and one write per run rather than per
/// character (the templates' formatter writes every `{{ value }}` through it).
pub(crate) fn write_escaped_html(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    let mut run = 0;
    for (at, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // The five are ASCII, so `at` is a character boundary.
        out.write_str(&text[run..at])?;
        out.write_str(entity)?;
        run = at + 1;
    }
    out.write_str(&text[run..])
}

impl<E: StdError + Send + Sync + 'static> From<E> for HttpError {
    fn from(error: E) -> HttpError {
        // A client's fault that travelled as an `io::Error` (from a `BodyReader`) keeps
        // its status: `io::copy(&mut body, &mut file)?` answers 413 for a body too large.
        if let Some(fault) = ClientFault::carried_by(&error) {
            return fault.to_http();
        }
        // A store that did not answer is a 503, whatever carried it here.
        if let Some(store) = (&error as &(dyn StdError + 'static)).downcast_ref::<StoreError>() {
            return store.to_http();
        }
        let mut e = HttpError::with_kind(StatusCode::INTERNAL_SERVER_ERROR, Kind::Exception);
        e.0.source = Some(Box::new(error));
        e
    }
}

/// A shared store (Redis) did not answer: unreachable, or not within the app's bounded
/// wait ([`App::redis_timeout`](crate::App::redis_timeout)). As an [`HttpError`] (with
/// `?` or `.into()`) it is a 503 with `Retry-After: 1`, which the app's error handlers may
/// render; a session or channel call while Redis is down gives it.
///
/// ```
/// use erlen::StoreError;
///
/// let err = StoreError::new("redis://127.0.0.1:6390/0: no answer within 2s");
/// let http: erlen::HttpError = err.into();
/// assert_eq!(http.status(), 503);
/// ```
#[derive(Debug, Clone)]
pub struct StoreError {
    reason: String,
}

impl StoreError {
    /// A store error that says why.
    pub fn new(reason: impl Into<String>) -> StoreError {
        StoreError { reason: reason.into() }
    }

    fn to_http(&self) -> HttpError {
        HttpError::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_message("a shared store (Redis) is unavailable; try again shortly")
            .with_header(http::header::RETRY_AFTER, HeaderValue::from_static("1"))
            .with_source(self.clone())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the shared store is unavailable: {}", self.reason)
    }
}

impl StdError for StoreError {}

/// A client error (413, 408, 400) raised while reading a request body, in a form that
/// travels through `std::error::Error` channels, such as an `io::Error` from a
/// [`BodyReader`](crate::BodyReader) or a multipart parser's stream error, and turns
/// back into the same [`HttpError`] at the end.
#[derive(Debug, Clone)]
pub(crate) struct ClientFault {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ClientFault {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ClientFault {
        ClientFault { status, message: message.into() }
    }

    pub(crate) fn to_http(&self) -> HttpError {
        HttpError::new(self.status).with_message(self.message.clone())
    }

    /// The fault inside `error`: itself, or an `io::Error` wrapping one.
    pub(crate) fn carried_by<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a ClientFault> {
        if let Some(fault) = error.downcast_ref::<ClientFault>() {
            return Some(fault);
        }
        error.downcast_ref::<std::io::Error>()?.get_ref()?.downcast_ref::<ClientFault>()
    }
}

impl fmt::Display for ClientFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ClientFault {}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.status)?;
        if let Some(m) = self.message() {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("status", &self.0.status)
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("source", &self.0.source)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_copies_the_runs_between_special_characters() {
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("plain — ベンチ"), "plain — ベンチ");
        assert_eq!(escape_html("<&>\"'"), "&lt;&amp;&gt;&quot;&#39;");
        assert_eq!(escape_html("é<b>ü</b>'"), "é&lt;b&gt;ü&lt;/b&gt;&#39;");
    }

    #[derive(Debug)]
    struct Oops;
    impl fmt::Display for Oops {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("oops <b>")
        }
    }
    impl StdError for Oops {}

    #[test]
    fn errors_convert_and_keep_their_type() {
        let e: HttpError = Oops.into();
        assert_eq!(e.status(), 500);
        assert!(e.is_exception());
        assert!(e.downcast_ref::<Oops>().is_some());
        assert_eq!(e.message().as_deref(), Some("oops <b>"));
        let page = e.default_response();
        let body = String::from_utf8_lossy(page.body().as_bytes().unwrap());
        assert!(!body.contains("oops"), "exception text must not leak: {body}");
    }

    #[test]
    fn abort_messages_are_escaped() {
        let page = abort(404).with_message("<script>").default_response();
        assert_eq!(page.status(), 404);
        assert!(String::from_utf8_lossy(page.body().as_bytes().unwrap()).contains("&lt;script&gt;"));
        assert!(!abort(404).is_exception());
    }
}
