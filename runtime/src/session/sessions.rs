//! The app's sessions: the keys that sign the cookie, how the cookie is made, and where the
//! values live. With the cookie store they are in the cookie, signed; with a server-side
//! store the cookie holds a signed id and the values are in the store.
//!
//! The lifecycle asks for the session twice: before the hooks ([`preload`]: a server-side
//! session is read from its store, once, so that every handler sees it without waiting)
//! and after the `after_request` hooks ([`save`]: the cookie, and the store's record).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, CookieJar, Key};
use http::HeaderValue;
use http::header::{SET_COOKIE, VARY};
use serde::Serialize;
use serde_json::{Map, Value};

use super::config::SessionConfig;
use super::server::{self, Backend};
use super::state::{Inner, Session, SessionState};
use crate::body::BoxFuture;
use crate::context::RequestContext;
use crate::error::HttpError;
use crate::extract::FromRequest;
use crate::request::Request;
use crate::response::Response;
use crate::store::StoreError;

/// Where the values of the app's sessions live.
pub(crate) enum Store {
    /// In the signed cookie.
    Cookie,
    /// In a server-side store, under the id the cookie carries.
    Server(Arc<dyn Backend>),
}

/// The app's session settings: the keys (when a secret key is set), the cookie's make and
/// the store.
pub(crate) struct Sessions {
    keys: Vec<Key>,
    pub(crate) config: SessionConfig,
    store: Store,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions { keys: Vec::new(), config: SessionConfig::default(), store: Store::Cookie }
    }
}

impl Sessions {
    /// `secret` signs new cookies; `fallbacks` are still accepted (key rotation).
    pub(crate) fn new(
        secret: Option<Vec<u8>>,
        fallbacks: Vec<Vec<u8>>,
        config: SessionConfig,
        store: Store,
    ) -> Sessions {
        let keys = match secret {
            Some(secret) => std::iter::once(secret).chain(fallbacks).map(|s| derive_key(&s)).collect(),
            None => Vec::new(),
        };
        Sessions { keys, config, store }
    }

    /// The session cookie among the request's `Cookie` headers.
    fn raw_cookie<'a>(&self, cookie_headers: impl Iterator<Item = &'a str>) -> Option<Cookie<'static>> {
        let name = &self.config.cookie_name;
        cookie_headers
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(Cookie::into_owned)
    }

    /// The value of a cookie whose signature one of the keys accepts.
    fn verified(&self, cookie: Cookie<'static>) -> Option<String> {
        let jar = CookieJar::new();
        self.keys.iter().find_map(|key| jar.signed(key).verify(cookie.clone())).map(|c| c.value().to_string())
    }

    /// `value` in a cookie signed with the first key, made as the config says.
    fn signed_cookie(&self, value: String, permanent: bool) -> Option<Cookie<'static>> {
        let key = self.keys.first()?;
        let config = &self.config;
        let mut jar = CookieJar::new();
        jar.signed_mut(key).add(Cookie::new(config.cookie_name.clone(), value));
        let mut signed = jar.get(&config.cookie_name)?.clone();
        if permanent {
            signed.set_max_age(cookie::time::Duration::seconds(
                i64::try_from(config.lifetime.as_secs()).unwrap_or(i64::MAX),
            ));
        }
        Some(self.made(signed))
    }

    /// The cookie that deletes the session cookie.
    fn removal(&self) -> Cookie<'static> {
        let mut gone = Cookie::new(self.config.cookie_name.clone(), "");
        gone.make_removal();
        self.made(gone)
    }

    /// The attributes every session cookie carries.
    fn made(&self, mut cookie: Cookie<'static>) -> Cookie<'static> {
        let config = &self.config;
        cookie.set_path(config.path.clone());
        if let Some(domain) = &config.domain {
            cookie.set_domain(domain.clone());
        }
        cookie.set_secure(config.secure);
        cookie.set_http_only(config.http_only);
        cookie.set_same_site(config.same_site);
        cookie
    }

    /// The session of a request with these `Cookie` headers, as far as it can be known
    /// without the store: with the cookie store, the session itself; with a server-side
    /// store, the id (verified) with no values yet. `None` without a secret key.
    pub(crate) fn load<'a>(&self, cookie_headers: impl Iterator<Item = &'a str>) -> Option<SessionState> {
        if self.keys.is_empty() {
            return None;
        }
        let raw = self.raw_cookie(cookie_headers);
        let mut inner = Inner { had_cookie: raw.is_some(), ..Inner::default() };
        let value = raw.and_then(|c| self.verified(c));
        match &self.store {
            Store::Cookie => {
                if let Some((data, permanent)) = value.and_then(|v| self.decode(&v)) {
                    inner.data = data;
                    inner.permanent = permanent;
                }
            }
            Store::Server(_) => inner.id = value.filter(|v| server::is_id(v)),
        }
        Some(SessionState::new(inner))
    }

    /// The values and permanence in a cookie store's cookie, if it is within the lifetime.
    fn decode(&self, value: &str) -> Option<(Map<String, Value>, bool)> {
        let json = URL_SAFE_NO_PAD.decode(value).ok()?;
        let stored: Stored = serde_json::from_slice(&json).ok()?;
        let age = now_secs().checked_sub(stored.t)?;
        (age <= self.config.lifetime.as_secs()).then_some((stored.d, stored.p))
    }

    /// Reads a server-side session's record into `state`: a missing or unreadable record
    /// is an empty session (the id is dropped: a new one is made if the session is saved).
    async fn read(&self, backend: &dyn Backend, state: &SessionState) -> Result<(), StoreError> {
        let Some(id) = state.lock().id.clone() else { return Ok(()) };
        let record = backend.load(id).await?;
        let mut inner = state.lock();
        match record.and_then(|r: Vec<u8>| serde_json::from_slice::<Record>(r.as_slice()).ok()) {
            Some(record) => {
                inner.data = record.d;
                inner.permanent = record.p;
            }
            None => inner.id = None,
        }
        Ok(())
    }

    /// What the end of the request writes: the cookie into `resp` now, and, with a
    /// server-side store, the record, in the future it returns.
    fn write(
        &self,
        state: &SessionState,
        resp: &mut Response,
    ) -> Option<BoxFuture<'static, Result<(), StoreError>>> {
        if state.lock().accessed {
            resp.headers_mut().append(VARY, HeaderValue::from_static("Cookie"));
        }
        let (cookie, write) = match &self.store {
            Store::Cookie => (self.cookie_for(state), None),
            Store::Server(backend) => match self.plan(state) {
                Ok((cookie, write)) => (cookie, write.map(|w| w.run(backend.clone(), self.config.lifetime))),
                Err(e) => (None, Some(Box::pin(std::future::ready(Err(e))) as BoxFuture<'static, _>)),
            },
        };
        if let Some(cookie) = cookie {
            match HeaderValue::try_from(cookie.to_string()) {
                Ok(value) => {
                    resp.headers_mut().append(SET_COOKIE, value);
                }
                Err(_) => tracing::error!("the session cookie is not a valid header value; it was not saved"),
            }
        }
        write
    }

    /// The cookie store's `Set-Cookie` for a modified session: the signed values, or a
    /// deletion.
    pub(crate) fn cookie_for(&self, state: &SessionState) -> Option<Cookie<'static>> {
        let inner = state.lock();
        if !inner.modified {
            return None;
        }
        if inner.data.is_empty() {
            return inner.had_cookie.then(|| self.removal());
        }
        let stored = Stored { t: now_secs(), p: inner.permanent, d: inner.data.clone() };
        let json = serde_json::to_vec(&stored).ok()?;
        self.signed_cookie(URL_SAFE_NO_PAD.encode(json), inner.permanent)
    }

    /// A server-side session's cookie and what to do in its store.
    fn plan(&self, state: &SessionState) -> Result<(Option<Cookie<'static>>, Option<Write>), StoreError> {
        let mut inner = state.lock();
        let old = inner.id.clone();
        if inner.modified && inner.data.is_empty() {
            // Cleared (a logout): the record goes, and the cookie with it.
            inner.id = None;
            let cookie = inner.had_cookie.then(|| self.removal());
            return Ok((cookie, old.map(|old| Write { delete: Some(old), save: None, touch: None })));
        }
        if inner.modified {
            let fresh = inner.regenerate || old.is_none();
            let id = if fresh { server::new_id()? } else { old.clone().unwrap_or_default() };
            let record = serde_json::to_vec(&Record { p: inner.permanent, d: inner.data.clone() })
                .map_err(|e| StoreError::new(format!("the session's values are not JSON: {e}")))?;
            inner.id = Some(id.clone());
            inner.regenerate = false;
            let cookie =
                (fresh || inner.permanent).then(|| self.signed_cookie(id.clone(), inner.permanent)).flatten();
            let delete = if fresh { old } else { None };
            return Ok((cookie, Some(Write { delete, save: Some((id, record)), touch: None })));
        }
        // Only read: the record lives on, from now (Flask-Session refreshes it each request).
        let touch = if inner.accessed { old.clone() } else { None };
        let cookie = (inner.accessed && inner.permanent)
            .then(|| old.and_then(|id| self.signed_cookie(id, true)))
            .flatten();
        Ok((cookie, touch.map(|id| Write { delete: None, save: None, touch: Some(id) })))
    }

    /// The session for the test client's `session_transaction`: read (with a server-side
    /// store, from the store), handed to `f`, written back; the cookie to keep, if any.
    pub(crate) fn transaction<R>(
        &self,
        cookie_header: Option<&str>,
        f: impl FnOnce(&Session) -> R,
    ) -> Option<(R, Option<Cookie<'static>>)> {
        let state = Arc::new(self.load(cookie_header.into_iter())?);
        if let Store::Server(backend) = &self.store {
            if let Err(e) = crate::bridge::block_on(self.read(backend.as_ref(), &state)) {
                panic!("session_transaction: {e}");
            }
        }
        let out = f(&Session::new(state.clone()));
        let mut resp = Response::default();
        if let Some(write) = self.write(&state, &mut resp) {
            if let Err(e) = crate::bridge::block_on(write) {
                panic!("session_transaction: {e}");
            }
        }
        let cookie = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Cookie::parse(v.to_string()).ok())
            .next_back();
        Some((out, cookie))
    }
}

/// What the end of a request does in a server-side store.
struct Write {
    delete: Option<String>,
    save: Option<(String, Vec<u8>)>,
    touch: Option<String>,
}

impl Write {
    fn run(self, backend: Arc<dyn Backend>, ttl: Duration) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move {
            if let Some((id, record)) = self.save {
                backend.save(id, record, ttl).await?;
            }
            if let Some(id) = self.delete {
                backend.delete(id).await?;
            }
            if let Some(id) = self.touch {
                backend.touch(id, ttl).await?;
            }
            Ok(())
        })
    }
}

impl FromRequest for Session {
    fn from_request(_req: &Request) -> Result<Session, HttpError> {
        let ctx = crate::context::current()
            .ok_or_else(|| HttpError::internal("a Session was asked for outside a request"))?;
        of_request(&ctx).map(Session::new).ok_or_else(|| {
            HttpError::internal(
                "a handler takes a Session, but the app has no secret key to sign it with: \
                 set one with `App::secret_key(..)` or the ERLEN_SECRET_KEY environment variable",
            )
        })
    }
}

/// The session a request's context keeps once it is loaded: `None` inside when the app has
/// no secret key.
#[derive(Clone)]
struct Loaded(Option<Arc<SessionState>>);

/// The request's session, loaded from its cookie on first use and kept in its context, so
/// that the `Session` extractor, `flash` and the templates share it; `None` when the app
/// has no secret key. A server-side session was read from its store by [`preload`].
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

/// Before the hooks: reads a server-side session from its store, if the request carries
/// its cookie; `None` when there is nothing to wait for (the cookie store, no cookie).
pub(crate) fn preload(ctx: &Arc<RequestContext>) -> Option<BoxFuture<'static, Result<(), StoreError>>> {
    let sessions = ctx.feature::<Sessions>()?;
    let Store::Server(backend) = &sessions.store else { return None };
    let state = of_request(ctx)?;
    state.lock().id.as_ref()?;
    let (ctx, backend) = (ctx.clone(), backend.clone());
    Some(Box::pin(async move {
        match ctx.feature::<Sessions>() {
            Some(sessions) => sessions.read(backend.as_ref(), &state).await,
            None => Ok(()),
        }
    }))
}

/// Saves the request's session, if the request used it: the end of the lifecycle's step
/// 5, after the `after_request` hooks, as Flask's `process_response`. The cookie goes into
/// `resp` now; a server-side store's write is the future returned, which the lifecycle
/// awaits (a failure answers 503).
pub(crate) fn save(
    ctx: &RequestContext,
    resp: &mut Response,
) -> Option<BoxFuture<'static, Result<(), StoreError>>> {
    let Loaded(Some(state)) = ctx.local_if_made::<Loaded>()? else { return None };
    ctx.feature::<Sessions>()?.write(&state, resp)
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

/// What the cookie store's cookie holds: when it was signed, whether it is permanent, the
/// values.
#[derive(Serialize, serde::Deserialize)]
struct Stored {
    t: u64,
    #[serde(default)]
    p: bool,
    d: Map<String, Value>,
}

/// What a server-side store keeps under an id: whether it is permanent, the values.
#[derive(Serialize, serde::Deserialize)]
struct Record {
    #[serde(default)]
    p: bool,
    d: Map<String, Value>,
}
