//! CSRF protection, as Flask-WTF's `CSRFProtect`: [`App::csrf_protect`] checks every POST,
//! PUT, PATCH and DELETE for a token the app gave out, and every WebSocket upgrade for an
//! `Origin` of the app's own.
//!
//! A token is made for the session: the session keeps a random value (under
//! `csrf_token`, as Flask-WTF's), and the token is that value with the time it was made,
//! signed with the app's secret key (HMAC-SHA256; the fallback keys still verify). Any
//! instance of the app verifies it, and it expires after an hour unless configured
//! otherwise. Templates write it with `{{ csrf_token() }}`; a form sends it back in its
//! `csrf_token` field, JavaScript in an `X-CSRFToken` or `X-CSRF-Token` header.
//!
//! The check is the app's first `before_request` hook (Flask-WTF registers one), added
//! by the app when it is built: a failure is a 400 [`HttpError`] carrying a
//! [`CsrfError`], which the app's error handlers take by type or by code. A multipart
//! form's token is in its body, which is read after the hooks: for a view that takes
//! [`Multipart`](crate::Multipart), the check of the field is left to the extractor
//! (through [`FieldCheck`]), which runs it before the view.
//!
//! [`App::csrf_protect`]: crate::App::csrf_protect

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::body::BoxFuture;
use crate::context::RequestContext;
use crate::error::HttpError;
use crate::handler::{Before, Callable};
use crate::multipart::{FieldCheck, Multipart};
use crate::request::Request;
use crate::response::Response;
use crate::session::Session;

/// How [`App::csrf_protect_with`](crate::App::csrf_protect_with) checks requests, as
/// Flask-WTF's `WTF_CSRF_*` settings; the defaults are Flask-WTF's.
///
/// ```
/// use std::time::Duration;
/// use erlen::prelude::*;
/// use erlen::csrf::CsrfConfig;
///
/// let config = CsrfConfig::default().time_limit(Some(Duration::from_secs(8 * 3600)));
/// let app = App::new().secret_key("a long random secret").csrf_protect_with(config);
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
#[must_use = "CSRF settings apply once given to `App::csrf_protect_with`"]
pub struct CsrfConfig {
    time_limit: Option<Duration>,
    ssl_strict: bool,
    field_name: String,
}

impl Default for CsrfConfig {
    fn default() -> CsrfConfig {
        CsrfConfig {
            time_limit: Some(Duration::from_secs(3600)),
            ssl_strict: true,
            field_name: "csrf_token".into(),
        }
    }
}

impl CsrfConfig {
    /// How long a token stays valid (default one hour, `WTF_CSRF_TIME_LIMIT`); `None`: as
    /// long as the session.
    pub fn time_limit(mut self, limit: Option<Duration>) -> CsrfConfig {
        self.time_limit = limit;
        self
    }

    /// Over HTTPS, require a `Referer` of the app's own origin (default `true`,
    /// `WTF_CSRF_SSL_STRICT`).
    pub fn ssl_strict(mut self, strict: bool) -> CsrfConfig {
        self.ssl_strict = strict;
        self
    }

    /// The form field (and session key) of the token (default `csrf_token`,
    /// `WTF_CSRF_FIELD_NAME`).
    pub fn field_name(mut self, name: impl Into<String>) -> CsrfConfig {
        self.field_name = name.into();
        self
    }
}

/// Why a request failed the CSRF check: Flask-WTF's reasons, as [`CsrfError::reason`] and
/// the message of the 400 it ends in.
///
/// ```
/// use erlen::prelude::*;
/// use erlen::csrf::CsrfError;
///
/// #[post("/save")]
/// fn save() -> &'static str { "saved" }
///
/// #[errorhandler(CsrfError)]
/// fn bad_token(err: &CsrfError) -> (StatusCode, String) {
///     (StatusCode::BAD_REQUEST, format!("Refused: {}", err.reason()))
/// }
///
/// let client = App::new().secret_key("dev").csrf_protect().register(handlers![save, bad_token]).test_client();
/// assert_eq!(client.post("/save").send().text(), "Refused: The CSRF token is missing.");
/// let token = client.csrf_token();
/// assert_eq!(client.post("/save").header("X-CSRFToken", &token).send().text(), "saved");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsrfError {
    reason: Reason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Missing,
    SessionMissing,
    Invalid,
    Expired,
    Mismatch,
    ReferrerMissing,
    ReferrerMismatch,
    OriginMismatch,
}

impl CsrfError {
    /// The reason, one of Flask-WTF's: "The CSRF token is missing.", "The CSRF session
    /// token is missing.", "The CSRF token is invalid.", "The CSRF token has expired.",
    /// "The CSRF tokens do not match.", "The referrer header is missing.", "The referrer
    /// does not match the host."; and for a WebSocket upgrade, erlen's "The origin does not
    /// match the host."
    pub fn reason(&self) -> &'static str {
        match self.reason {
            Reason::Missing => "The CSRF token is missing.",
            Reason::SessionMissing => "The CSRF session token is missing.",
            Reason::Invalid => "The CSRF token is invalid.",
            Reason::Expired => "The CSRF token has expired.",
            Reason::Mismatch => "The CSRF tokens do not match.",
            Reason::ReferrerMissing => "The referrer header is missing.",
            Reason::ReferrerMismatch => "The referrer does not match the host.",
            Reason::OriginMismatch => "The origin does not match the host.",
        }
    }

    /// The 400 the request ends in.
    fn into_http(self) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST).with_message(self.reason()).with_source(self)
    }
}

impl fmt::Display for CsrfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for CsrfError {}

fn fail(reason: Reason) -> CsrfError {
    CsrfError { reason }
}

/// The CSRF token of the current request's session, for a page's JavaScript to send in
/// an `X-CSRFToken` header, as Flask-WTF's `generate_csrf()`; templates call
/// `{{ csrf_token() }}`.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/token")]
/// fn token() -> Result<String, HttpError> { erlen::csrf::csrf_token() }
///
/// #[post("/api/save")]
/// fn save() -> &'static str { "saved" }
///
/// let client = App::new().secret_key("dev").csrf_protect().register(handlers![token, save]).test_client();
/// let token = client.get("/token").send().text();
/// assert_eq!(client.post("/api/save").header("X-CSRF-Token", &token).send().text(), "saved");
/// ```
///
/// # Errors
///
/// A 500 (logged, not shown to the client) outside a request, or when the app does not
/// protect against CSRF ([`App::csrf_protect`](crate::App::csrf_protect)).
pub fn csrf_token() -> Result<String, HttpError> {
    let ctx = crate::context::current()
        .ok_or_else(|| HttpError::internal("csrf_token() was called outside a request"))?;
    let csrf = ctx.feature::<Csrf>().ok_or_else(|| {
        HttpError::internal("csrf_token() needs CSRF protection: turn it on with `App::csrf_protect()`")
    })?;
    Ok(csrf.token_for(&session_of(&ctx)?))
}

/// The request's session, which a CSRF token is tied to.
fn session_of(ctx: &RequestContext) -> Result<Session, HttpError> {
    crate::session::of_request(ctx).map(Session::new).ok_or_else(|| {
        HttpError::internal(
            "CSRF tokens are kept in the session, and the app has no secret key to sign it with",
        )
    })
}

/// The templates' `csrf_token()`, registered when the app protects against CSRF.
pub(crate) fn register_template(env: &mut minijinja::Environment<'static>) {
    env.add_function("csrf_token", || {
        csrf_token().map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("csrf_token(): {e}"))
        })
    });
}

/// What the check does for one endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RouteCheck {
    /// `csrf = false`, or its blueprint is exempt.
    pub(crate) exempt: bool,
    /// Its view takes a multipart form, whose token field the extractor checks.
    pub(crate) multipart: bool,
}

/// The app's CSRF protection: its keys, its settings, and the check of each endpoint.
pub(crate) struct Csrf {
    /// The first signs; every one verifies (the secret key, then its fallbacks).
    keys: Vec<[u8; 32]>,
    config: CsrfConfig,
    routes: Vec<RouteCheck>,
}

/// The methods that are checked, Flask-WTF's `WTF_CSRF_METHODS`.
const CHECKED: [Method; 4] = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
/// The headers a token may come in, Flask-WTF's `WTF_CSRF_HEADERS`.
const HEADERS: [&str; 2] = ["x-csrftoken", "x-csrf-token"];
/// How far in the future a token's time may be (another instance's clock) and still count.
const SKEW: u64 = 60;

impl Csrf {
    /// The protection of an app signed with `secret` (and `fallbacks`), checking each
    /// endpoint as `routes` says, by endpoint number.
    pub(crate) fn new(
        secret: &[u8],
        fallbacks: &[Vec<u8>],
        config: CsrfConfig,
        routes: Vec<RouteCheck>,
    ) -> Csrf {
        let keys =
            std::iter::once(secret).chain(fallbacks.iter().map(Vec::as_slice)).map(derive_key).collect();
        Csrf { keys, config, routes }
    }

    /// The `before_request` hook that checks every request, first of the app's.
    pub(crate) const HOOK: Before = Callable::Async(protect_hook);

    /// A token for `session`, made with a new random value if the session has none yet.
    pub(crate) fn token_for(&self, session: &Session) -> String {
        let field = &self.config.field_name;
        let raw = match session.get::<String>(field) {
            Some(raw) if !raw.is_empty() && !raw.contains('.') => raw,
            _ => {
                let raw = random_hex();
                session.insert(field.clone(), &raw);
                raw
            }
        };
        self.sign(&raw, now_secs())
    }

    fn sign(&self, raw: &str, at: u64) -> String {
        let payload = format!("{raw}.{at}");
        let signature = mac(&self.keys[0], &payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Flask-WTF's `validate_csrf`: the token is there, the session has its value, the
    /// signature is one of the app's keys', the token is within its time, and it was made
    /// for this session.
    fn validate(&self, session: &Session, token: Option<&str>) -> Result<(), CsrfError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(fail(Reason::Missing))?;
        let expected = session.get::<String>(&self.config.field_name).ok_or(fail(Reason::SessionMissing))?;
        let (payload, signature) = token.rsplit_once('.').ok_or(fail(Reason::Invalid))?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| fail(Reason::Invalid))?;
        if !self.keys.iter().any(|key| mac(key, payload).verify_slice(&signature).is_ok()) {
            return Err(fail(Reason::Invalid));
        }
        let (raw, at) = payload.rsplit_once('.').ok_or(fail(Reason::Invalid))?;
        let at: u64 = at.parse().map_err(|_| fail(Reason::Invalid))?;
        let now = now_secs();
        if at > now + SKEW {
            return Err(fail(Reason::Invalid));
        }
        if self.config.time_limit.is_some_and(|limit| now.saturating_sub(at) > limit.as_secs()) {
            return Err(fail(Reason::Expired));
        }
        // Both sides are the app's own (the token's is signed): a plain comparison leaks
        // nothing an attacker could not read from the page.
        if raw != expected {
            return Err(fail(Reason::Mismatch));
        }
        Ok(())
    }

    /// The check of one request (Flask-WTF's `protect`), as the hook runs it.
    fn protect(&self, req: &mut Request, ctx: &RequestContext) -> Result<(), CsrfError> {
        // As Flask-WTF: a request that matched no route is left to routing's 404 or 405.
        let Some(route) = ctx.endpoint.and_then(|e| self.routes.get(e)) else { return Ok(()) };
        if route.exempt {
            return Ok(());
        }
        if is_websocket_upgrade(req) {
            return match req.header("origin") {
                Some(origin) if !same_origin(origin, req.scheme(), req.host()) => {
                    Err(fail(Reason::OriginMismatch))
                }
                _ => Ok(()),
            };
        }
        if !CHECKED.contains(req.method()) {
            return Ok(());
        }
        let session = session_of(ctx).map_err(|_| fail(Reason::SessionMissing))?;
        match self.token_in(req) {
            Some(token) => self.validate(&session, Some(&token))?,
            None if route.multipart && req.media_type_is("multipart/form-data") => {
                req.extensions_mut().insert(FieldCheck(check_form_field));
            }
            None => return Err(fail(Reason::Missing)),
        }
        if req.scheme() == "https" && self.config.ssl_strict {
            let referrer = req.header("referer").ok_or(fail(Reason::ReferrerMissing))?;
            if !same_origin(referrer, "https", req.host()) {
                return Err(fail(Reason::ReferrerMismatch));
            }
        }
        Ok(())
    }

    /// The token a request sends: its urlencoded form's field, else one of the headers.
    fn token_in(&self, req: &Request) -> Option<String> {
        let field = &self.config.field_name;
        if req.media_type_is("application/x-www-form-urlencoded") {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(req.body()).unwrap_or_default();
            let found = pairs.into_iter().find(|(k, v)| k == field && !v.is_empty()).map(|(_, v)| v);
            if found.is_some() {
                return found;
            }
        }
        HEADERS.iter().find_map(|h| req.header(h)).filter(|t| !t.is_empty()).map(str::to_owned)
    }
}

/// The hook: the check, inside the request's context (polled there).
fn protect_hook(req: &mut Request) -> BoxFuture<'_, Result<Option<Response>, HttpError>> {
    Box::pin(async move {
        let Some(ctx) = crate::context::current() else { return Ok(None) };
        let Some(csrf) = ctx.feature::<Csrf>() else { return Ok(None) };
        match csrf.protect(req, &ctx) {
            Ok(()) => Ok(None),
            Err(e) => {
                tracing::info!(reason = e.reason(), path = req.path(), "a request failed the CSRF check");
                Err(e.into_http())
            }
        }
    })
}

/// The check of a multipart form's token field, run by the `Multipart` extractor.
fn check_form_field(form: &Multipart) -> Result<(), HttpError> {
    let ctx = crate::context::current().ok_or_else(|| {
        HttpError::internal("a multipart form's CSRF token was checked outside its request")
    })?;
    let Some(csrf) = ctx.feature::<Csrf>() else { return Ok(()) };
    let session = session_of(&ctx)?;
    let token = form.field(&csrf.config.field_name);
    csrf.validate(&session, token).map_err(|e| {
        tracing::info!(reason = e.reason(), "a multipart form failed the CSRF check");
        e.into_http()
    })
}

fn is_websocket_upgrade(req: &Request) -> bool {
    req.method() == Method::GET && req.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
}

/// Whether `url` (an `Origin` or a `Referer`) is of `scheme://host`, ports compared with
/// the scheme's default filled in, as Werkzeug's `same_origin`.
fn same_origin(url: &str, scheme: &str, host: &str) -> bool {
    let Some((their_scheme, rest)) = url.split_once("://") else { return false };
    let their_host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let their_host = their_host.rsplit_once('@').map_or(their_host, |(_, h)| h);
    their_scheme.eq_ignore_ascii_case(scheme)
        && authority(their_host, &their_scheme.to_ascii_lowercase())
            == authority(host, &scheme.to_ascii_lowercase())
}

/// A host with its port, the scheme's default filled in, lowercased.
fn authority(host: &str, scheme: &str) -> String {
    let host = host.to_ascii_lowercase();
    // `[::1]:80` has a port, `[::1]` has not: a port is digits after the last colon.
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    if has_port {
        return host;
    }
    let default = if scheme == "https" { 443 } else { 80 };
    format!("{host}:{default}")
}

/// The secret key stretched into the token-signing key, apart from the session's.
fn derive_key(secret: &[u8]) -> [u8; 32] {
    Sha256::new_with_prefix(b"erlen.csrf-token").chain_update(secret).finalize().into()
}

fn mac(key: &[u8; 32], payload: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this never fails.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(payload.as_bytes());
    mac
}

/// 20 random bytes in hex, as Flask-WTF's `sha1(os.urandom(64)).hexdigest()` is long.
fn random_hex() -> String {
    let mut bytes = [0u8; 20];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness from the OS is a broken machine; a token made of the time and the
        // process would be guessable, so refuse rather than go on.
        panic!("the operating system gave no random bytes for a CSRF token");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin("https://example.com/form", "https", "example.com"));
        assert!(same_origin("https://example.com:443/", "https", "example.com"));
        assert!(same_origin("http://localhost:5000", "http", "localhost:5000"));
        assert!(same_origin("HTTP://LocalHost:5000", "http", "localhost:5000"));
        assert!(!same_origin("http://example.com/", "https", "example.com"), "scheme");
        assert!(!same_origin("https://evil.com/", "https", "example.com"), "host");
        assert!(!same_origin("https://example.com.evil.com/", "https", "example.com"));
        assert!(!same_origin("https://example.com:8443/", "https", "example.com"), "port");
        assert!(!same_origin("null", "https", "example.com"));
        assert!(!same_origin("", "https", "example.com"));
    }

    fn csrf(limit: Option<Duration>) -> Csrf {
        Csrf::new(b"secret", &[b"old".to_vec()], CsrfConfig::default().time_limit(limit), Vec::new())
    }

    fn session_with(raw: &str) -> Session {
        let sessions = crate::session::Sessions::new(
            Some(b"k".to_vec()),
            Vec::new(),
            Default::default(),
            crate::session::Store::Cookie,
        );
        let session = Session::new(Arc::new(sessions.load(std::iter::empty()).unwrap()));
        session.insert("csrf_token", raw);
        session
    }

    #[test]
    fn tokens_verify_for_their_session_within_their_time() {
        let csrf = csrf(Some(Duration::from_secs(3600)));
        let session = session_with("abc");
        let token = csrf.sign("abc", now_secs());
        assert_eq!(csrf.validate(&session, Some(&token)), Ok(()));
        assert_eq!(csrf.validate(&session, None), Err(fail(Reason::Missing)));
        assert_eq!(csrf.validate(&session, Some("")), Err(fail(Reason::Missing)));
        assert_eq!(csrf.validate(&session_with("other"), Some(&token)), Err(fail(Reason::Mismatch)));
        let old = csrf.sign("abc", now_secs() - 3601);
        assert_eq!(csrf.validate(&session, Some(&old)), Err(fail(Reason::Expired)));
        assert_eq!(csrf.validate(&session, Some("abc.1.xyz")), Err(fail(Reason::Invalid)));
        let forged = token.replacen("abc", "abd", 1);
        assert_eq!(csrf.validate(&session_with("abd"), Some(&forged)), Err(fail(Reason::Invalid)));
        let future = csrf.sign("abc", now_secs() + 3600);
        assert_eq!(csrf.validate(&session, Some(&future)), Err(fail(Reason::Invalid)));
        let fresh = Csrf::new(b"k", &[], CsrfConfig::default(), Vec::new());
        let sessions = crate::session::Sessions::new(
            Some(b"k".to_vec()),
            Vec::new(),
            Default::default(),
            crate::session::Store::Cookie,
        );
        let empty = Session::new(Arc::new(sessions.load(std::iter::empty()).unwrap()));
        assert_eq!(fresh.validate(&empty, Some(&token)), Err(fail(Reason::SessionMissing)));
    }

    #[test]
    fn fallback_keys_verify_and_no_limit_never_expires() {
        let old = Csrf::new(b"old", &[], CsrfConfig::default(), Vec::new());
        let token = old.sign("abc", now_secs() - 10 * 3600);
        assert_eq!(csrf(None).validate(&session_with("abc"), Some(&token)), Ok(()));
        assert_eq!(
            csrf(Some(Duration::from_secs(3600))).validate(&session_with("abc"), Some(&token)),
            Err(fail(Reason::Expired))
        );
        let stranger = Csrf::new(b"stranger", &[], CsrfConfig::default(), Vec::new());
        assert_eq!(stranger.validate(&session_with("abc"), Some(&token)), Err(fail(Reason::Invalid)));
    }
}
