//! Cookies: [`Request::cookie`](crate::Request::cookie) reads them, [`ResponseExt`] sets
//! and deletes them, with the `cookie` crate's [`Cookie`] (path, domain, max-age,
//! expires, secure, http-only, same-site).

use cookie::Cookie;
use http::HeaderValue;
use http::header::SET_COOKIE;

use crate::response::Response;

/// Sets and deletes cookies on a [`Response`]: each cookie is one `Set-Cookie` header.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/theme/<name>")]
/// fn theme(name: String) -> Response {
///     let mut resp = redirect("/").into_response();
///     resp.set_cookie(Cookie::build(("theme", name)).path("/").http_only(true));
///     resp
/// }
///
/// #[get("/")]
/// fn index(req: &Request) -> String {
///     req.cookie("theme").unwrap_or("light").to_string()
/// }
///
/// let client = App::new().register(handlers![theme, index]).test_client();
/// assert_eq!(client.get("/").send().text(), "light");
/// client.get("/theme/dark").send();
/// assert_eq!(client.get("/").send().text(), "dark");
/// ```
pub trait ResponseExt {
    /// Adds a `Set-Cookie` header for `cookie`.
    fn set_cookie(&mut self, cookie: impl Into<Cookie<'static>>) -> &mut Self;

    /// Deletes the cookie `name` (path `/`): an empty value that expired long ago, as
    /// Flask's `delete_cookie`.
    fn delete_cookie(&mut self, name: &str) -> &mut Self;
}

impl ResponseExt for Response {
    fn set_cookie(&mut self, cookie: impl Into<Cookie<'static>>) -> &mut Self {
        let cookie = cookie.into();
        match HeaderValue::try_from(cookie.encoded().to_string()) {
            Ok(value) => {
                self.headers_mut().append(SET_COOKIE, value);
            }
            Err(_) => {
                tracing::error!(name = cookie.name(), "a cookie is not a valid header value; it was not set")
            }
        }
        self
    }

    fn delete_cookie(&mut self, name: &str) -> &mut Self {
        let mut cookie = Cookie::new(name.to_string(), "");
        cookie.set_path("/");
        cookie.make_removal();
        self.set_cookie(cookie)
    }
}

/// The `name=value` pairs of `Cookie` headers, percent-decoded; malformed pairs are
/// skipped.
pub(crate) fn parse<'a>(headers: impl Iterator<Item = &'a HeaderValue>) -> Vec<(String, String)> {
    headers
        .filter_map(|h| h.to_str().ok())
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .map(|c| (c.name().to_string(), c.value().to_string()))
        .collect()
}
