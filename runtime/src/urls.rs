//! Reverse routing: building a URL from an endpoint and parameter values, as Flask's
//! `url_for`. [`url_for!`](crate::url_for) checks its arguments at compile time and lands
//! in [`for_item`]; [`Request::url_for`](crate::Request::url_for) and the templates'
//! `url_for()` go by endpoint name through the app (`AppHandle::url_for`), which
//! [`resolve`]s the name, [`build`]s the path and [`finish`]es the URL.

use std::any::TypeId;
use std::fmt::{self, Display, Write};

use erlen_pattern::{Converter, Pattern, Segment};
use percent_encoding::utf8_percent_encode;

use crate::app::AppCore;
use crate::context::RequestContext;
use crate::error::HttpError;
use crate::routing::{PATH, QUERY, SEGMENT};

/// Why a URL could not be built; shown in the panic of `url_for!` and the error of
/// `Request::url_for`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlError {
    UnknownEndpoint(String),
    NotRegistered(&'static str),
    Missing { endpoint: String, param: String, pattern: String },
    Unknown { endpoint: String, param: String, pattern: String },
    Invalid { endpoint: String, param: String, value: String, converter: Converter },
}

impl Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::UnknownEndpoint(name) => write!(
                f,
                "no endpoint is named `{name}`: endpoints are the view's function name, `blueprint.name` for a blueprint's views, and `static` for static files"
            ),
            UrlError::NotRegistered(name) => write!(
                f,
                "`{name}` is not registered in this app: add it to `handlers![...]` in `App::register` or a blueprint"
            ),
            UrlError::Missing { endpoint, param, pattern } => {
                write!(f, "`{endpoint}` needs a value for `{param}` (its route is \"{pattern}\")")
            }
            UrlError::Unknown { endpoint, param, pattern } => {
                write!(f, "`{param}` is not a parameter of `{endpoint}` (its route is \"{pattern}\")")
            }
            UrlError::Invalid { endpoint, param, value, converter } => {
                write!(f, "`{value}` is not a valid `{converter}` value for `{param}` of `{endpoint}`")
            }
        }
    }
}

impl From<UrlError> for HttpError {
    fn from(e: UrlError) -> HttpError {
        HttpError::internal(format!("url_for: {e}"))
    }
}

/// Builds the path of `pattern` from `values` (name, text); with `query`, the values the
/// pattern does not name become the query string (as the templates' `url_for` does),
/// otherwise they are an error.
pub(crate) fn build(
    endpoint: &str,
    pattern: &Pattern,
    values: &[(&str, &str)],
    query: bool,
) -> Result<String, UrlError> {
    let mut url = String::new();
    for segment in pattern.segments() {
        match segment {
            Segment::Static(text) => url.extend(utf8_percent_encode(text, PATH)),
            Segment::Param { name, converter } => {
                let value = values.iter().find(|(n, _)| n == name).map(|(_, v)| *v).ok_or_else(|| {
                    UrlError::Missing {
                        endpoint: endpoint.to_string(),
                        param: name.clone(),
                        pattern: pattern.as_str().to_string(),
                    }
                })?;
                let valid = match converter {
                    Converter::String | Converter::Path => !value.is_empty(),
                    other => other.accepts(value),
                };
                if !valid {
                    return Err(UrlError::Invalid {
                        endpoint: endpoint.to_string(),
                        param: name.clone(),
                        value: value.to_string(),
                        converter: *converter,
                    });
                }
                let set = if *converter == Converter::Path { PATH } else { SEGMENT };
                url.extend(utf8_percent_encode(value, set));
            }
        }
    }
    let mut separator = '?';
    for (name, value) in values {
        if pattern.params().any(|(n, _)| n == *name) {
            continue;
        }
        if !query {
            return Err(UrlError::Unknown {
                endpoint: endpoint.to_string(),
                param: name.to_string(),
                pattern: pattern.as_str().to_string(),
            });
        }
        let _ = write!(
            url,
            "{separator}{}={}",
            utf8_percent_encode(name, QUERY),
            utf8_percent_encode(value, QUERY)
        );
        separator = '&';
    }
    Ok(url)
}

/// Makes `path` absolute with the request's scheme and host, and adds an `#anchor`.
pub(crate) fn finish(ctx: &RequestContext, path: String, external: bool, anchor: Option<&str>) -> String {
    let mut url = if external { format!("{}://{}{path}", ctx.scheme(), ctx.host()) } else { path };
    if let Some(anchor) = anchor {
        url.push('#');
        url.extend(utf8_percent_encode(anchor, PATH));
    }
    url
}

/// The endpoint named `name` (`.name` is relative to the current blueprint).
pub(crate) fn resolve(app: &AppCore, ctx: Option<&RequestContext>, name: &str) -> Result<usize, UrlError> {
    let full = match (name.strip_prefix('.'), ctx.and_then(RequestContext::blueprint)) {
        (Some(local), Some(bp)) => format!("{bp}.{local}"),
        (Some(local), None) => local.to_string(),
        (None, _) => name.to_string(),
    };
    app.endpoint_by_name(&full).ok_or(UrlError::UnknownEndpoint(full))
}

/// `url_for!`: the endpoint of the handler whose generated type is `item`.
///
/// # Panics
///
/// Outside a request, or when the handler is not registered in the app (a 500 inside a
/// view, with the reason in the log).
pub fn for_item(
    item: TypeId,
    name: &'static str,
    values: &[(&str, &str)],
    external: bool,
    anchor: Option<&str>,
) -> String {
    let ctx = crate::context::expect("url_for!");
    let Some(app) = ctx.app.as_any().downcast_ref::<AppCore>() else {
        panic!("url_for!({name}): the request is served by an app erlen did not build")
    };
    let built = app.endpoint_by_item(item).ok_or(UrlError::NotRegistered(name)).and_then(|endpoint| {
        let endpoint = &app.endpoints[endpoint];
        build(&endpoint.name, endpoint.url_pattern(), values, false)
    });
    match built {
        Ok(path) => finish(&ctx, path, external, anchor),
        Err(e) => panic!("url_for!({name}): {e}"),
    }
}

/// Values for `url_for!` parameters, by converter; the macro checks the type through them.
macro_rules! url_value_trait {
    ($(#[$doc:meta])* $trait:ident, $fn:ident, $message:literal, $label:literal, $note:literal, [$($ty:ty),*]) => {
        $(#[$doc])*
        #[diagnostic::on_unimplemented(message = $message, label = $label, note = $note)]
        pub trait $trait {
            /// The value as it goes into the URL, before percent-encoding.
            fn to_url(&self) -> String;
        }
        $(impl $trait for $ty {
            fn to_url(&self) -> String {
                self.to_string()
            }
        })*
        impl<T: $trait + ?Sized> $trait for &T {
            fn to_url(&self) -> String {
                (**self).to_url()
            }
        }
        #[doc(hidden)]
        pub fn $fn<T: $trait + ?Sized>(value: &T) -> String {
            value.to_url()
        }
    };
}

url_value_trait!(
    /// Values for an `<int:...>` parameter in `url_for!`: the integer types.
    UrlInt,
    url_int,
    "`{Self}` cannot fill an `<int:...>` route parameter in `url_for!`",
    "expected an integer",
    "pass an integer such as `7` or `post.id` (any of `i8`..`u128`, `isize`, `usize`)",
    [i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize]
);
url_value_trait!(
    /// Values for a `<float:...>` parameter in `url_for!`: `f32` and `f64`.
    UrlFloat,
    url_float,
    "`{Self}` cannot fill a `<float:...>` route parameter in `url_for!`",
    "expected a float",
    "pass an `f64` or `f32` such as `1.5`",
    [f32, f64]
);
url_value_trait!(
    /// Values for a `<uuid:...>` parameter in `url_for!`: text holding a UUID, or your own
    /// UUID type implementing this trait.
    UrlUuid,
    url_uuid,
    "`{Self}` cannot fill a `<uuid:...>` route parameter in `url_for!`",
    "expected a UUID",
    "pass the UUID as text (`&str` or `String`), or implement `erlen::params::UrlUuid` for your UUID type",
    [str, String]
);

/// Values for a `<name>`, `<string:...>` or `<path:...>` parameter in `url_for!`:
/// anything that displays as text.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot fill a text route parameter in `url_for!`: it does not implement `Display`",
    label = "expected text",
    note = "pass a `&str`, a `String`, a number, or a type that implements `std::fmt::Display`"
)]
pub trait UrlText {
    /// The value as it goes into the URL, before percent-encoding.
    fn to_url(&self) -> String;
}

impl<T: Display + ?Sized> UrlText for T {
    fn to_url(&self) -> String {
        self.to_string()
    }
}

#[doc(hidden)]
pub fn url_text<T: UrlText + ?Sized>(value: &T) -> String {
    value.to_url()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(pattern: &str, values: &[(&str, &str)]) -> Result<String, UrlError> {
        build("e", &Pattern::parse(pattern).unwrap(), values, true)
    }

    #[test]
    fn parameters_are_percent_encoded_and_paths_keep_slashes() {
        assert_eq!(url("/users/<int:id>", &[("id", "7")]).unwrap(), "/users/7");
        assert_eq!(url("/f/<name>", &[("name", "a b/c?#%")]).unwrap(), "/f/a%20b%2Fc%3F%23%25");
        assert_eq!(url("/f/<path:p>", &[("p", "a b/c.css")]).unwrap(), "/f/a%20b/c.css");
        assert_eq!(url("/ü/<name>", &[("name", "é")]).unwrap(), "/%C3%BC/%C3%A9");
    }

    #[test]
    fn values_are_checked_against_converters() {
        assert!(matches!(url("/u/<int:id>", &[("id", "x")]), Err(UrlError::Invalid { .. })));
        assert!(matches!(url("/u/<int:id>", &[]), Err(UrlError::Missing { .. })));
        assert!(matches!(url("/u/<name>", &[("name", "")]), Err(UrlError::Invalid { .. })));
    }

    #[test]
    fn extra_values_become_the_query_or_an_error() {
        assert_eq!(url("/", &[("page", "2"), ("q", "a&b c")]).unwrap(), "/?page=2&q=a%26b%20c");
        let strict = build("e", &Pattern::parse("/").unwrap(), &[("page", "2")], false);
        assert!(matches!(strict, Err(UrlError::Unknown { .. })));
    }
}
