//! How the session cookie is made, and where the session's values live.

use std::time::Duration;

use cookie::SameSite;

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
    pub(super) cookie_name: String,
    pub(super) path: String,
    pub(super) domain: Option<String>,
    pub(super) secure: bool,
    pub(super) http_only: bool,
    pub(super) same_site: Option<SameSite>,
    pub(super) lifetime: Duration,
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
    /// age past which any session cookie is refused (default 31 days); with a server-side
    /// [`SessionStore`], how long its record lives after the request that last used it.
    pub fn lifetime(mut self, lifetime: Duration) -> SessionConfig {
        self.lifetime = lifetime;
        self
    }
}

/// Where the session's values live, as Flask-Session's `SESSION_TYPE`: given to
/// [`App::session_store`](crate::App::session_store).
///
/// With [`SessionStore::Cookie`] (the default, Flask's own) the values travel in the signed
/// cookie: any instance reads them, but a cookie cannot be revoked. With a server-side
/// store the cookie carries only a signed random id (128 bits from the OS), the values stay
/// on the server under it, and [`Session::clear`](crate::Session::clear) deletes them: the
/// old cookie is an empty session from then on, on every instance that shares the store.
/// The `Session` extractor, `flash`, the templates and the test client work the same on
/// every store.
///
/// ```
/// use erlen::prelude::*;
/// use erlen::SessionStore;
///
/// let app = App::new().secret_key("a long random secret").session_store(SessionStore::Memory);
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionStore {
    /// The values in the signed cookie (the default).
    #[default]
    Cookie,
    /// The values in this process's memory: revocable, for one process.
    Memory,
    /// The values in Redis (feature `redis`, with [`App::redis`](crate::App::redis)):
    /// revocable, shared by every instance.
    #[cfg(feature = "redis")]
    Redis,
}
