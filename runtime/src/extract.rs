//! Extractors: the values a handler can take as parameters besides path parameters and
//! `&Request`.

use std::str::FromStr;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use crate::error::HttpError;
use crate::handler::BodyUse;
use crate::request::Request;
use crate::response::Json;

/// A value a handler or hook can take as a parameter, built from the request.
///
/// A failure is a 400 (or whatever [`HttpError`] it returns) with a message, and goes to
/// the error handlers like any other error.
///
/// ```
/// use erlen::prelude::*;
///
/// struct UserAgent(String);
///
/// impl FromRequest for UserAgent {
///     fn from_request(req: &Request) -> Result<Self, HttpError> {
///         req.header("user-agent")
///             .map(|ua| UserAgent(ua.to_string()))
///             .ok_or_else(|| abort(400).with_message("a User-Agent header is required"))
///     }
/// }
///
/// #[get("/ua")]
/// fn ua(UserAgent(ua): UserAgent) -> String { ua }
///
/// let client = App::new().register(handlers![ua]).test_client();
/// assert_eq!(client.get("/ua").header("user-agent", "me").send().text(), "me");
/// assert_eq!(client.get("/ua").send().status(), 400);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither a route parameter nor an extractor",
    label = "no route parameter has this argument's name, and its type is not an extractor",
    note = "name the argument like a `<param>` of the route, or take `&Request`, `State<T>`, `Json<T>`, `Query<T>`, `Form<T>`, `Bytes`, `String`, `Method`, `HeaderMap`, `Session`, `Multipart`, `BodyStream` or `BodyReader`",
    note = "for your own type, implement `erlen::FromRequest` for it"
)]
pub trait FromRequest: Sized {
    /// What the extractor does with the body: by default nothing. erlen's `Bytes`,
    /// `String`, `Json` and `Form` need it in full; `BodyStream`, `BodyReader` and
    /// `Multipart` stream it. The macros combine the arguments' values at compile time.
    #[doc(hidden)]
    const BODY: BodyUse = BodyUse::None;

    /// Builds the value from the request.
    fn from_request(req: &Request) -> Result<Self, HttpError>;

    /// Builds the value for an `Option<Self>` argument: `Ok(None)` when the request has no
    /// such value, an error when it has a bad one. `Option` means "absent", not "failed",
    /// as axum's `OptionalFromRequestParts`.
    ///
    /// The default takes a client error (4xx) from [`FromRequest::from_request`] as absent
    /// and keeps a server error (a missing `State`, a 500) an error. erlen's extractors
    /// override it: `Option<Json<T>>` and `Option<Form<T>>` are `None` for an empty body
    /// only, `Option<Query<T>>` for an empty query only; a malformed one stays a 400.
    fn from_request_optional(req: &Request) -> Result<Option<Self>, HttpError> {
        match Self::from_request(req) {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.status().is_client_error() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Application state added with [`App::state`](crate::App::state), cloned out for the
/// handler (keep it cheap to clone: an `Arc`, a pool, a `reqwest::Client`).
///
/// ```
/// use erlen::prelude::*;
///
/// #[derive(Clone)]
/// struct Greeting(&'static str);
///
/// #[get("/")]
/// fn index(State(g): State<Greeting>) -> &'static str { g.0 }
///
/// let client = App::new().state(Greeting("hi")).register(handlers![index]).test_client();
/// assert_eq!(client.get("/").send().text(), "hi");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromRequest for State<T> {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        req.state::<T>().cloned().map(State).ok_or_else(|| {
            HttpError::internal(format!(
                "no application state of type `{}`: add it with `App::new().state(value)`",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// A JSON body: the request's content type must be JSON (`application/json`, or
/// `application/*+json` such as `application/problem+json`), else it is a 415, as
/// Flask's `request.get_json()` answers; then malformed JSON is a 400.
impl<T: DeserializeOwned> FromRequest for Json<T> {
    const BODY: BodyUse = BodyUse::Buffered;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        match req.header("content-type") {
            Some(content_type) if is_json(content_type) => req.json().map(Json),
            Some(other) => Err(crate::abort(415).with_message(format!(
                "expected a JSON body with content type application/json, not `{other}`"
            ))),
            None => Err(crate::abort(415)
                .with_message("expected a JSON body with content type application/json, and the request has no content type")),
        }
    }

    fn from_request_optional(req: &Request) -> Result<Option<Self>, HttpError> {
        if req.body().is_empty() { Ok(None) } else { Self::from_request(req).map(Some) }
    }
}

/// Whether a content type is JSON: `application/json` or `application/<anything>+json`,
/// in any case, with any parameters (`; charset=utf-8`).
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(subtype) => subtype == "json" || (subtype.len() > "+json".len() && subtype.ends_with("+json")),
        None => false,
    }
}

/// The query string deserialized into `T` (serde, urlencoded). A query that does not fit
/// `T` is a 400 that says why.
///
/// ```
/// use erlen::prelude::*;
///
/// #[derive(serde::Deserialize)]
/// struct Page { page: u32, per_page: Option<u32> }
///
/// #[get("/items")]
/// fn items(Query(p): Query<Page>) -> String { format!("{} {:?}", p.page, p.per_page) }
///
/// let client = App::new().register(handlers![items]).test_client();
/// assert_eq!(client.get("/items?page=2").send().text(), "2 None");
/// assert_eq!(client.get("/items?page=x").send().status(), 400);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        serde_urlencoded::from_str(req.query_string())
            .map(Query)
            .map_err(|e| crate::abort(400).with_message(format!("invalid query string: {e}")))
    }

    fn from_request_optional(req: &Request) -> Result<Option<Self>, HttpError> {
        if req.query_string().is_empty() { Ok(None) } else { Self::from_request(req).map(Some) }
    }
}

/// A `application/x-www-form-urlencoded` body deserialized into `T`. A body that does not
/// fit is a 400; a request of another content type is a 415.
///
/// ```
/// use erlen::prelude::*;
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Login { user: String }
///
/// #[post("/login")]
/// fn login(Form(f): Form<Login>) -> String { f.user }
///
/// let client = App::new().register(handlers![login]).test_client();
/// assert_eq!(client.post("/login").form(&Login { user: "ada".into() }).send().text(), "ada");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Form<T> {
    const BODY: BodyUse = BodyUse::Buffered;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        let content_type = req.header("content-type").unwrap_or("");
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(crate::abort(415)
                .with_message("expected a form body with content type application/x-www-form-urlencoded"));
        }
        serde_urlencoded::from_bytes(req.body())
            .map(Form)
            .map_err(|e| crate::abort(400).with_message(format!("invalid form body: {e}")))
    }

    fn from_request_optional(req: &Request) -> Result<Option<Self>, HttpError> {
        if req.body().is_empty() { Ok(None) } else { Self::from_request(req).map(Some) }
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
            .map_err(|_| crate::abort(400).with_message("the request body is not valid UTF-8"))
    }
}

impl FromRequest for Method {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        Ok(req.method().clone())
    }
}

impl FromRequest for HeaderMap {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        Ok(req.headers().clone())
    }
}

/// An optional extractor: `None` when the request has no such value (see
/// [`FromRequest::from_request_optional`]); a malformed value is still an error.
impl<T: FromRequest> FromRequest for Option<T> {
    const BODY: BodyUse = T::BODY;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        T::from_request_optional(req)
    }
}

macro_rules! param_trait {
    ($(#[$doc:meta])* $trait:ident, $message:literal, $label:literal, $note:literal, [$($ty:ty),*]) => {
        $(#[$doc])*
        #[diagnostic::on_unimplemented(message = $message, label = $label, note = $note)]
        pub trait $trait: FromStr {
            /// Converts path parameter `name` of the matched route.
            #[doc(hidden)]
            fn from_param(req: &Request, name: &str) -> Result<Self, HttpError> {
                param(req, name)
            }
        }
        $(impl $trait for $ty {})*
    };
}

param_trait!(
    /// Types an `<int:name>` parameter converts into: the integer types.
    IntParam,
    "an `<int:...>` route parameter cannot be taken as `{Self}`",
    "the `int` converter produces an integer, not this type",
    "declare the argument as an integer type such as `i64`, `u32` or `usize`, or use `<name>` for text",
    [i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize]
);
param_trait!(
    /// Types a `<float:name>` parameter converts into: `f32` and `f64`.
    FloatParam,
    "a `<float:...>` route parameter cannot be taken as `{Self}`",
    "the `float` converter produces a float, not this type",
    "declare the argument as `f64` or `f32`",
    [f32, f64]
);
param_trait!(
    /// Types a `<uuid:name>` parameter converts into: `String` (checked to be a UUID), or
    /// any type implementing this trait, such as a UUID type of your own.
    UuidParam,
    "a `<uuid:...>` route parameter cannot be taken as `{Self}`",
    "the `uuid` converter produces a UUID, not this type",
    "declare the argument as `String`, or implement `erlen::UuidParam` for your UUID type",
    [String]
);

/// Types a `<name>`, `<string:name>` or `<path:name>` parameter converts into: anything
/// that implements `FromStr` (`String`, `PathBuf`, numbers, your own enums).
#[diagnostic::on_unimplemented(
    message = "a route parameter cannot be taken as `{Self}`: it does not implement `FromStr`",
    label = "not parseable from the path",
    note = "declare the argument as `String`, or implement `std::str::FromStr` for the type"
)]
pub trait StrParam: FromStr {
    /// Converts path parameter `name` of the matched route.
    #[doc(hidden)]
    fn from_param(req: &Request, name: &str) -> Result<Self, HttpError> {
        param(req, name)
    }
}
impl<T: FromStr> StrParam for T {}

/// Converts the text of path parameter `name` of the matched route; a value that does not
/// convert (say, an `int` too large for `u8`) is a 404, as a converter mismatch is in Flask.
pub(crate) fn param<T: FromStr>(req: &Request, name: &str) -> Result<T, HttpError> {
    let text = req.param(name).ok_or_else(|| {
        HttpError::internal(format!("route parameter `{name}` is missing: the route and its view disagree"))
    })?;
    text.parse().map_err(|_| {
        crate::abort(404)
            .with_message(format!("`{text}` is not a valid value for the route parameter `{name}`"))
    })
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for not in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/+json",
            "text/json",
            "application/jsonp",
        ] {
            assert!(!is_json(not), "{not}");
        }
    }
}
