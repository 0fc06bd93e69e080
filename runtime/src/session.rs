//! The signed session and flash messages, Flask's model: the session's values live in a
//! cookie, as JSON, signed with the app's secret key (HMAC, through the `cookie` crate's
//! signed jar) so that the client can read but not change them.
//!
//! The session is loaded from the request's cookie the first time a view, hook or template
//! asks for it, and written back after the `after_request` hooks only when it was
//! modified (deleted when emptied); a response whose session was read carries
//! `Vary: Cookie`. A tampered, truncated, expired or foreign cookie is an empty session,
//! never an error.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, CookieJar, Key, SameSite};
use http::HeaderValue;
use http::header::{SET_COOKIE, VARY};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::context::RequestContext;
use crate::error::HttpError;
use crate::extract::FromRequest;
use crate::request::Request;
use crate::response::Response;

/// The key flashed messages are kept under, as Flask's.
const FLASHES: &str = "_flashes";

/// How the session cookie is made, as Flask's `SESSION_COOKIE_*` settings and
/// `PERMANENT_SESSION_LIFETIME`. The defaults are Flask's.
///
/// ```
/// use erlen::prelude::*;
/// use erlen::SessionConfig;
///
/// let config = SessionConfig::default().cookie_name("sid").secure(true).same_site(Some(SameSite::Lax));
/// let app = App::new().secret_key("a long random secret").session_config(config);
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
#[must_use = "session settings apply once given to `App::session_config`"]
pub struct SessionConfig {
    cookie_name: String,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
    lifetime: Duration,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig {
            cookie_name: "session".to_string(),
            path: "/".to_string(),
            domain: None,
            secure: false,
            http_only: true,
            same_site: None,
            lifetime: Duration::from_secs(31 * 24 * 3600),
        }
    }
}

impl SessionConfig {
    /// The cookie's name (default `session`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> SessionConfig {
        self.cookie_name = name.into();
        self
    }

    pub(crate) fn name(&self) -> &str {
        &self.cookie_name
    }

    /// The cookie's path (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> SessionConfig {
        self.path = path.into();
        self
    }

    /// The cookie's domain (default: none, the host that set it).
    pub fn domain(mut self, domain: impl Into<String>) -> SessionConfig {
        self.domain = Some(domain.into());
        self
    }

    /// Sent over HTTPS only (default `false`; set it in production behind TLS).
    pub fn secure(mut self, secure: bool) -> SessionConfig {
        self.secure = secure;
        self
    }

    /// Hidden from JavaScript (default `true`).
    pub fn http_only(mut self, http_only: bool) -> SessionConfig {
        self.http_only = http_only;
        self
    }

    /// The `SameSite` attribute (default: none).
    pub fn same_site(mut self, same_site: Option<SameSite>) -> SessionConfig {
        self.same_site = same_site;
        self
    }

    /// How long a session lives: the `Max-Age` of a permanent session's cookie, and the
    /// age past which any session cookie is refused (default 31 days).
    pub fn lifetime(mut self, lifetime: Duration) -> SessionConfig {
        self.lifetime = lifetime;
        self
    }
}

/// The app's session settings: the keys (when a secret key is set) and the cookie's make.
#[derive(Default)]
pub(crate) struct Sessions {
    keys: Vec<Key>,
    pub(crate) config: SessionConfig,
}

impl Sessions {
    /// `secret` signs new cookies; `fallbacks` are still accepted (key rotation).
    pub(crate) fn new(secret: Option<Vec<u8>>, fallbacks: Vec<Vec<u8>>, config: SessionConfig) -> Sessions {
        let keys = match secret {
            Some(secret) => std::iter::once(secret).chain(fallbacks).map(|s| derive_key(&s)).collect(),
            None => Vec::new(),
        };
        Sessions { keys, config }
    }

    /// Loads the session from the request's `Cookie` headers; `None` without a secret key.
    pub(crate) fn load<'a>(&self, cookie_headers: impl Iterator<Item = &'a str>) -> Option<SessionState> {
        if self.keys.is_empty() {
            return None;
        }
        let name = &self.config.cookie_name;
        let raw = cookie_headers
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(Cookie::into_owned);
        let mut state = Inner { had_cookie: raw.is_some(), ..Inner::default() };
        if let Some((data, permanent)) = raw.and_then(|c| self.verify(c)) {
            state.data = data;
            state.permanent = permanent;
        }
        Some(SessionState(Mutex::new(state)))
    }

    /// The values and permanence of a cookie whose signature one of the keys accepts and
    /// whose age is within the lifetime.
    fn verify(&self, cookie: Cookie<'static>) -> Option<(Map<String, Value>, bool)> {
        let jar = CookieJar::new();
        let value = self.keys.iter().find_map(|key| jar.signed(key).verify(cookie.clone()))?;
        let json = URL_SAFE_NO_PAD.decode(value.value()).ok()?;
        let stored: Stored = serde_json::from_slice(&json).ok()?;
        let age = now_secs().checked_sub(stored.t)?;
        (age <= self.config.lifetime.as_secs()).then_some((stored.d, stored.p))
    }

    /// The `Set-Cookie` for a modified session: the signed values, or a deletion.
    pub(crate) fn cookie_for(&self, state: &SessionState) -> Option<Cookie<'static>> {
        let key = self.keys.first()?;
        let inner = state.lock();
        if !inner.modified {
            return None;
        }
        let config = &self.config;
        let mut cookie = if inner.data.is_empty() {
            if !inner.had_cookie {
                return None;
            }
            let mut gone = Cookie::new(config.cookie_name.clone(), "");
            gone.make_removal();
            gone
        } else {
            let stored = Stored { t: now_secs(), p: inner.permanent, d: inner.data.clone() };
            let json = serde_json::to_vec(&stored).ok()?;
            let mut jar = CookieJar::new();
            jar.signed_mut(key).add(Cookie::new(config.cookie_name.clone(), URL_SAFE_NO_PAD.encode(json)));
            let mut signed = jar.get(&config.cookie_name)?.clone();
            if inner.permanent {
                let lifetime = cookie::time::Duration::seconds(
                    i64::try_from(config.lifetime.as_secs()).unwrap_or(i64::MAX),
                );
                signed.set_max_age(lifetime);
            }
            signed
        };
        cookie.set_path(config.path.clone());
        if let Some(domain) = &config.domain {
            cookie.set_domain(domain.clone());
        }
        cookie.set_secure(config.secure);
        cookie.set_http_only(config.http_only);
        cookie.set_same_site(config.same_site);
        Some(cookie)
    }

    /// Writes the session back into the response, after the `after_request` hooks.
    pub(crate) fn save(&self, state: &SessionState, resp: &mut Response) {
        if state.lock().accessed {
            resp.headers_mut().append(VARY, HeaderValue::from_static("Cookie"));
        }
        if let Some(cookie) = self.cookie_for(state) {
            match HeaderValue::try_from(cookie.to_string()) {
                Ok(value) => {
                    resp.headers_mut().append(SET_COOKIE, value);
                }
                Err(_) => tracing::error!("the session cookie is not a valid header value; it was not saved"),
            }
        }
    }
}

/// A secret of any length (Flask's `SECRET_KEY`) stretched to the 64 bytes the signed jar
/// needs.
fn derive_key(secret: &[u8]) -> Key {
    use sha2::Digest;
    let digest = sha2::Sha512::new_with_prefix(b"erlen.session").chain_update(secret).finalize();
    Key::from(&digest)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// What the cookie holds: when it was signed, whether it is permanent, the values.
#[derive(Serialize, serde::Deserialize)]
struct Stored {
    t: u64,
    #[serde(default)]
    p: bool,
    d: Map<String, Value>,
}

/// The session a request's context keeps once it is loaded: `None` inside when the app has
/// no secret key.
#[derive(Clone)]
struct Loaded(Option<Arc<SessionState>>);

/// The request's session, loaded from its cookie on first use and kept in its context, so
/// that the `Session` extractor, `flash` and the templates share it; `None` when the app
/// has no secret key.
pub(crate) fn of_request(ctx: &RequestContext) -> Option<Arc<SessionState>> {
    let load = || {
        let sessions = ctx.feature::<Sessions>()?;
        let headers = ctx.cookies.iter().filter_map(|h| h.to_str().ok());
        sessions.load(headers).map(Arc::new)
    };
    ctx.local(|| Loaded(load())).0
}

/// The current request's session, if there is a request and the app can sign sessions.
pub(crate) fn current() -> Option<Arc<SessionState>> {
    of_request(&*crate::context::current()?)
}

/// Saves the request's session into the response, if the request used it: the end of the
/// lifecycle's step 5, after the `after_request` hooks, as Flask's `process_response`.
pub(crate) fn save(ctx: &RequestContext, resp: &mut Response) {
    if let Some(Loaded(Some(state))) = ctx.local_if_made::<Loaded>() {
        if let Some(sessions) = ctx.feature::<Sessions>() {
            sessions.save(&state, resp);
        }
    }
}

/// One request's session, shared by every `Session` handle of the request.
pub(crate) struct SessionState(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    data: Map<String, Value>,
    modified: bool,
    accessed: bool,
    permanent: bool,
    had_cookie: bool,
    /// The flashed messages this request took, so every template call sees them.
    flashes: Option<Vec<(String, String)>>,
}

impl SessionState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held (serialization happens outside it).
        crate::sync::lock(&self.0)
    }

    /// The messages flashed for this request, taken from the session once.
    pub(crate) fn take_flashes(&self) -> Vec<(String, String)> {
        let mut inner = self.lock();
        inner.accessed = true;
        if inner.flashes.is_none() {
            let taken = inner.data.remove(FLASHES);
            if taken.is_some() {
                inner.modified = true;
            }
            let flashes: Vec<(String, String)> =
                taken.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
            inner.flashes = Some(flashes);
        }
        inner.flashes.clone().unwrap_or_default()
    }

    /// A value of the session, for templates' `session`.
    pub(crate) fn value(&self, key: &str) -> Option<Value> {
        let mut inner = self.lock();
        inner.accessed = true;
        inner.data.get(key).cloned()
    }

    /// The keys, for templates' `session`.
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut inner = self.lock();
        inner.accessed = true;
        inner.data.keys().cloned().collect()
    }
}

/// The signed session, as Flask's `session`: an extractor for views and hooks.
///
/// Values are JSON; reading marks the response `Vary: Cookie`, changing it writes the
/// cookie back after the request. Every `Session` of one request is the same session.
///
/// ```
/// use erlen::prelude::*;
///
/// #[post("/login/<name>")]
/// fn login(name: String, session: Session) -> Redirect {
///     session.insert("user", name);
///     redirect("/")
/// }
///
/// #[get("/")]
/// fn index(session: Session) -> String {
///     match session.get::<String>("user") {
///         Some(user) => format!("hello {user}"),
///         None => "who are you?".to_string(),
///     }
/// }
///
/// let client = App::new().secret_key("dev").register(handlers![login, index]).test_client();
/// assert_eq!(client.get("/").send().text(), "who are you?");
/// client.post("/login/ada").send();
/// assert_eq!(client.get("/").send().text(), "hello ada");
/// ```
#[derive(Clone)]
pub struct Session(Arc<SessionState>);

impl Session {
    pub(crate) fn new(state: Arc<SessionState>) -> Session {
        Session(state)
    }

    /// The value under `key`, if there is one of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.0.value(key).and_then(|v| serde_json::from_value(v).ok())
    }

    /// Whether the session has a value under `key`.
    pub fn contains(&self, key: &str) -> bool {
        let mut inner = self.0.lock();
        inner.accessed = true;
        inner.data.contains_key(key)
    }

    /// Stores `value` under `key`.
    ///
    /// # Panics
    ///
    /// If `value` cannot be represented as JSON (a map with non-text keys, say): a bug in
    /// the handler, answered as a 500.
    pub fn insert(&self, key: impl Into<String>, value: impl Serialize) {
        let key = key.into();
        let value = serde_json::to_value(value)
            .unwrap_or_else(|e| panic!("the session value for `{key}` cannot be stored as JSON: {e}"));
        let mut inner = self.0.lock();
        inner.accessed = true;
        inner.modified = true;
        inner.data.insert(key, value);
    }

    /// Removes the value under `key`; returns whether there was one.
    pub fn remove(&self, key: &str) -> bool {
        let mut inner = self.0.lock();
        inner.accessed = true;
        let removed = inner.data.remove(key).is_some();
        inner.modified |= removed;
        removed
    }

    /// Removes every value (the cookie is deleted after the request), as a logout does.
    pub fn clear(&self) {
        let mut inner = self.0.lock();
        inner.accessed = true;
        inner.modified |= !inner.data.is_empty();
        inner.data.clear();
    }

    /// Whether the session outlives the browser (its cookie has a `Max-Age`).
    pub fn permanent(&self) -> bool {
        self.0.lock().permanent
    }

    /// Makes the session outlive the browser, for [`SessionConfig::lifetime`], or not.
    pub fn set_permanent(&self, permanent: bool) {
        let mut inner = self.0.lock();
        inner.modified |= inner.permanent != permanent;
        inner.permanent = permanent;
    }

    /// Whether the session holds no value.
    pub fn is_empty(&self) -> bool {
        let mut inner = self.0.lock();
        inner.accessed = true;
        inner.data.is_empty()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("keys", &self.0.lock().data.keys().collect::<Vec<_>>()).finish()
    }
}

impl FromRequest for Session {
    fn from_request(_req: &Request) -> Result<Session, HttpError> {
        let ctx = crate::context::current()
            .ok_or_else(|| HttpError::internal("a Session was asked for outside a request"))?;
        of_request(&ctx).map(Session).ok_or_else(|| {
            HttpError::internal(
                "a handler takes a Session, but the app has no secret key to sign it with: \
                 set one with `App::secret_key(..)` or the ERLEN_SECRET_KEY environment variable",
            )
        })
    }
}

/// Flashes `message` for the next request that shows messages, as Flask's `flash()`
/// (category `message`).
///
/// ```
/// use erlen::prelude::*;
///
/// #[post("/save")]
/// fn save(session: Session) -> Redirect {
///     flash(&session, "Saved");
///     redirect("/")
/// }
///
/// #[get("/")]
/// fn index(session: Session) -> String {
///     get_flashed_messages(&session).into_iter().map(|(_, m)| m).collect::<Vec<_>>().join(",")
/// }
///
/// let client = App::new().secret_key("dev").register(handlers![save, index]).test_client();
/// client.post("/save").send();
/// assert_eq!(client.get("/").send().text(), "Saved");
/// assert_eq!(client.get("/").send().text(), "", "a message shows once");
/// ```
pub fn flash(session: &Session, message: impl Into<String>) {
    flash_category(session, "message", message);
}

/// Flashes `message` with a `category` (such as `error`), as `flash(message, category)`.
pub fn flash_category(session: &Session, category: impl Into<String>, message: impl Into<String>) {
    let mut inner = session.0.lock();
    inner.accessed = true;
    inner.modified = true;
    let list = inner.data.entry(FLASHES).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = list {
        items.push(Value::Array(vec![Value::String(category.into()), Value::String(message.into())]));
    }
}

/// The flashed messages as `(category, message)`, taken from the session: they show
/// once. Every call within one request returns the same messages, as Flask's does.
pub fn get_flashed_messages(session: &Session) -> Vec<(String, String)> {
    session.0.take_flashes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(secret: &str, fallbacks: &[&str]) -> Sessions {
        let fallbacks = fallbacks.iter().map(|f| f.as_bytes().to_vec()).collect();
        Sessions::new(Some(secret.as_bytes().to_vec()), fallbacks, SessionConfig::default())
    }

    fn cookie_with(sessions: &Sessions, key: &str, value: &str) -> String {
        let state = Arc::new(sessions.load(std::iter::empty()).unwrap());
        let session = Session(state.clone());
        session.insert(key, value);
        let cookie = sessions.cookie_for(&state).unwrap();
        format!("{}={}", cookie.name(), cookie.value())
    }

    fn user(sessions: &Sessions, header: &str) -> Option<String> {
        let state = Arc::new(sessions.load(std::iter::once(header))?);
        Session(state).get("user")
    }

    #[test]
    fn a_signed_cookie_round_trips_and_tampering_empties_it() {
        let s = sessions("secret", &[]);
        let header = cookie_with(&s, "user", "ada");
        assert_eq!(user(&s, &header).as_deref(), Some("ada"));
        let mut bytes = header.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(user(&s, &String::from_utf8(bytes).unwrap()), None, "one byte changed");
        assert_eq!(user(&s, &header[..header.len() - 5]), None, "truncated");
        assert_eq!(user(&sessions("other", &[]), &header), None, "a foreign key");
        assert_eq!(user(&s, "session=%%%; other=1"), None, "garbage");
    }

    #[test]
    fn fallback_keys_keep_old_sessions_valid() {
        let old = sessions("old", &[]);
        let header = cookie_with(&old, "user", "ada");
        assert_eq!(user(&sessions("new", &["old"]), &header).as_deref(), Some("ada"));
        assert_eq!(user(&sessions("new", &[]), &header), None);
    }

    #[test]
    fn an_expired_cookie_is_an_empty_session() {
        let s = sessions("secret", &[]);
        let header = cookie_with(&s, "user", "ada");
        let mut short = sessions("secret", &[]);
        short.config.lifetime = Duration::ZERO;
        // Signed "now"; with a lifetime of zero it is expired a second later.
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(user(&short, &header), None);
    }
}
