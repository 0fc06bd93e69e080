//! Responses, and [`IntoResponse`]: everything a view or an error handler may return.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use crate::body::Body;
use crate::error::{HttpError, escape_html};

/// The response type: an `http::Response` whose [`Body`] is held in full or streams.
///
/// `after_request` hooks take it and return it, and may change its status, headers and
/// body (for a streamed body, by wrapping its stream).
pub type Response = http::Response<Body>;

/// Values a view, hook or error handler can return.
///
/// Implemented for text (`&'static str`, `String`: `text/plain`), bytes (`Vec<u8>`,
/// `Bytes`: `application/octet-stream`), [`Json`], [`Html`], [`Redirect`], `()` (an empty
/// 200), [`Response`], `(StatusCode, T)` and `(u16, T)` to set the status, `Option<T>`
/// (`None` is a 404) and `Result<T, E>` where `E` converts into [`HttpError`] (an `Err`
/// goes to the error handlers).
///
/// ```
/// use erlen::prelude::*;
///
/// let resp = (StatusCode::FORBIDDEN, "no").into_response();
/// assert_eq!(resp.status(), 403);
/// assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
/// let json = Json(serde_json::json!({"a": 1})).into_response();
/// assert_eq!(json.body().as_bytes().map(|b| &b[..]), Some(&br#"{"a":1}"#[..]));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a handler: it does not implement `IntoResponse`",
    label = "this type is not a response",
    note = "return a `String`, `&'static str`, `Json<T>`, `Html<T>`, `Response`, `(StatusCode, T)`, `Option<T>` or `Result<T, E>` where `T` is one of these",
    note = "put the status first: `(404, Json(body))` or `(StatusCode::NOT_FOUND, body)`; Flask's `body, 404` order does not compile",
    note = "for your own type, implement `erlen::IntoResponse` for it"
)]
pub trait IntoResponse {
    /// Turns the value into a response.
    fn into_response(self) -> Response;

    /// Turns the value into a response, or an error that the error handlers should see:
    /// `Result`, `Option`, and what can fail to become a response (`Json`, a `Template`, a
    /// `SendFile`, a tuple around one) override it; everything else is
    /// `Ok(into_response())`.
    #[doc(hidden)]
    fn into_outcome(self) -> Result<Response, HttpError>
    where
        Self: Sized,
    {
        Ok(self.into_response())
    }
}

/// The response for an outcome: an error renders as its default page (outside the
/// lifecycle, where no error handler can see it).
fn render(outcome: Result<Response, HttpError>) -> Response {
    outcome.unwrap_or_else(|e| e.default_response())
}

/// The content types erlen sets, checked once at compile time rather than per response.
pub(crate) const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
pub(crate) const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
pub(crate) const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

pub(crate) fn with_type(body: impl Into<Body>, content_type: HeaderValue) -> Response {
    let mut resp = Response::new(body.into());
    resp.headers_mut().insert(CONTENT_TYPE, content_type);
    resp
}

pub(crate) fn html_response(body: impl Into<Body>) -> Response {
    with_type(body, TEXT_HTML)
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(Body::empty())
    }
}

/// A body as it is, streamed or not, with status 200 and no content type (set one with an
/// `after_request` hook, or build a [`Response`] with `http::Response::builder()`).
impl IntoResponse for Body {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_type(Bytes::from_static(self.as_bytes()), TEXT_PLAIN)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_type(self, TEXT_PLAIN)
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            Cow::Borrowed(s) => s.into_response(),
            Cow::Owned(s) => s.into_response(),
        }
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        with_type(self, OCTET_STREAM)
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        with_type(Bytes::from_static(self), OCTET_STREAM)
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        with_type(self, OCTET_STREAM)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = self;
        resp
    }
}

/// `(StatusCode, T)` sets the status of `T`'s response. If `T` fails (a template that
/// does not render, JSON that does not serialize), the failure is the outcome, not a
/// response with this status.
impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        render(self.into_outcome())
    }

    fn into_outcome(self) -> Result<Response, HttpError> {
        let mut resp = self.1.into_outcome()?;
        *resp.status_mut() = self.0;
        Ok(resp)
    }
}

/// `(u16, T)` sets the status like Flask's `return body, 404`. A number that is not a
/// valid status (outside 100..=999) is a 500 that says so.
impl<T: IntoResponse> IntoResponse for (u16, T) {
    fn into_response(self) -> Response {
        render(self.into_outcome())
    }

    fn into_outcome(self) -> Result<Response, HttpError> {
        let status = StatusCode::from_u16(self.0).map_err(|_| {
            HttpError::internal(format!("the handler returned the invalid status code {}", self.0))
        })?;
        (status, self.1).into_outcome()
    }
}

impl<T: IntoResponse, E: Into<HttpError>> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        render(self.into_outcome())
    }

    fn into_outcome(self) -> Result<Response, HttpError> {
        match self {
            Ok(v) => v.into_outcome(),
            Err(e) => Err(e.into()),
        }
    }
}

/// `None` is a 404, as a missing row usually is.
impl<T: IntoResponse> IntoResponse for Option<T> {
    fn into_response(self) -> Response {
        render(self.into_outcome())
    }

    fn into_outcome(self) -> Result<Response, HttpError> {
        match self {
            Some(v) => v.into_outcome(),
            None => Err(crate::abort(404)),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        self.default_response()
    }

    fn into_outcome(self) -> Result<Response, HttpError> {
        Err(self)
    }
}

impl HttpError {
    /// The page erlen answers with when no error handler takes the error, in the style of
    /// Werkzeug's error pages. Unhandled exceptions do not show their message to clients.
    pub(crate) fn default_response(&self) -> Response {
        let reason = self.status().canonical_reason().unwrap_or("Error");
        let status = self.status();
        let mut resp = match self.page() {
            Some((content_type, body)) => with_type(body.clone(), content_type.clone()),
            None => {
                let description = match self.public_message() {
                    Some(m) => escape_html(m),
                    None => default_description(status).to_string(),
                };
                html_response(format!(
                    "<!doctype html>\n<html lang=en>\n<title>{code} {reason}</title>\n<h1>{reason}</h1>\n<p>{description}</p>\n",
                    code = status.as_u16()
                ))
            }
        };
        *resp.status_mut() = status;
        for (name, value) in self.headers() {
            resp.headers_mut().append(name, value.clone());
        }
        resp
    }
}

fn default_description(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The browser (or proxy) sent a request that this server could not understand.",
        401 => "The server could not verify that you are authorized to access the URL requested.",
        403 => "You don't have the permission to access the requested resource.",
        404 => {
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
        }
        405 => "The method is not allowed for the requested URL.",
        408 => {
            "The server closed the network connection because the browser didn't finish the request within the specified time."
        }
        413 => "The data value transmitted exceeds the capacity limit.",
        415 => "The server does not support the media type transmitted in the request.",
        431 => "One or more header fields exceeds the maximum size.",
        503 => "The server is temporarily unable to service your request. Please try again later.",
        504 => "The server did not answer in time.",
        300..=399 => "Redirecting to the target URL.",
        s if s >= 500 => "The server encountered an internal error and was unable to complete your request.",
        _ => "The request could not be served.",
    }
}

/// A JSON body: as a return value it serializes `T` with `application/json`; as an
/// extractor it parses the request body (a content type other than JSON is a 415,
/// malformed JSON a 400).
///
/// ```
/// use erlen::prelude::*;
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Point { x: i32, y: i32 }
///
/// #[post("/flip")]
/// fn flip(Json(p): Json<Point>) -> Json<Point> {
///     Json(Point { x: p.y, y: p.x })
/// }
///
/// let client = App::new().register(handlers![flip]).test_client();
/// let resp = client.post("/flip").json(&serde_json::json!({"x": 1, "y": 2})).send();
/// assert_eq!(resp.json::<serde_json::Value>(), serde_json::json!({"x": 2, "y": 1}));
/// let oops = client.post("/flip").header("content-type", "application/json").body("{oops");
/// assert_eq!(oops.send().status(), 400);
/// assert_eq!(client.post("/flip").body(r#"{"x": 1, "y": 2}"#).send().status(), 415);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        render(self.into_outcome())
    }

    fn into_outcome(self) -> Result<Response, HttpError> {
        let body = serde_json::to_vec(&self.0)
            .map_err(|e| HttpError::internal(format!("the response could not be serialized as JSON: {e}")))?;
        Ok(with_type(body, JSON))
    }
}

/// An HTML body (`text/html; charset=utf-8`). Escape what you interpolate into it.
///
/// ```
/// use erlen::prelude::*;
/// let resp = Html("<h1>URLs:</h1>").into_response();
/// assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        html_response(self.0)
    }
}

/// A redirect: `Redirect::to("/login")` is a 302 with `Location`, as Flask's `redirect()`.
///
/// ```
/// use erlen::prelude::*;
/// let resp = Redirect::permanent("/new").into_response();
/// assert_eq!(resp.status(), 308);
/// assert_eq!(resp.headers()["location"], "/new");
/// ```
#[derive(Debug, Clone)]
pub struct Redirect {
    status: StatusCode,
    location: String,
}

impl Redirect {
    /// A 302 Found to `location`.
    pub fn to(location: impl Into<String>) -> Redirect {
        Redirect { status: StatusCode::FOUND, location: location.into() }
    }

    /// A 303 See Other to `location`, the answer to a form POST.
    pub fn see_other(location: impl Into<String>) -> Redirect {
        Redirect { status: StatusCode::SEE_OTHER, location: location.into() }
    }

    /// A 308 Permanent Redirect to `location`, which keeps the method and body.
    pub fn permanent(location: impl Into<String>) -> Redirect {
        Redirect { status: StatusCode::PERMANENT_REDIRECT, location: location.into() }
    }
}

/// A redirect as an error, so that a check can end a view early with `?`, as
/// Werkzeug's `RequestRedirect` does: `let user = login_required(req)?;` where the check
/// returns `Result<&User, Redirect>`.
impl From<Redirect> for HttpError {
    fn from(redirect: Redirect) -> HttpError {
        let error = HttpError::new(redirect.status);
        match HeaderValue::try_from(redirect.location) {
            Ok(location) => error.with_header(LOCATION, location),
            Err(_) => HttpError::internal("redirect location is not a valid header value"),
        }
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        match HeaderValue::try_from(self.location) {
            Ok(location) => {
                let mut resp = self.status.into_response();
                resp.headers_mut().insert(LOCATION, location);
                resp
            }
            Err(_) => HttpError::internal("redirect location is not a valid header value").into_response(),
        }
    }
}

/// A 302 redirect to `location`, as Flask's `redirect()`: `return redirect(url_for!(index))`.
///
/// ```
/// use erlen::prelude::*;
/// let resp = redirect("/login").into_response();
/// assert_eq!(resp.status(), 302);
/// assert_eq!(resp.headers()["location"], "/login");
/// ```
pub fn redirect(location: impl Into<String>) -> Redirect {
    Redirect::to(location)
}
