//! One request's session, as views and hooks see it: the [`Session`] extractor and the
//! flashed messages.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The key flashed messages are kept under, as Flask's.
const FLASHES: &str = "_flashes";

/// One request's session, shared by every `Session` handle of the request.
pub(crate) struct SessionState(Mutex<Inner>);

#[derive(Default)]
pub(super) struct Inner {
    pub(super) data: Map<String, Value>,
    pub(super) modified: bool,
    pub(super) accessed: bool,
    pub(super) permanent: bool,
    pub(super) had_cookie: bool,
    /// With a server-side store: the id the record is kept under, if it has one.
    pub(super) id: Option<String>,
    /// With a server-side store: the record moves to a new id at the end of the request.
    pub(super) regenerate: bool,
    /// The flashed messages this request took, so every template call sees them.
    pub(super) flashes: Option<Vec<(String, String)>>,
}

impl SessionState {
    pub(super) fn new(inner: Inner) -> SessionState {
        SessionState(Mutex::new(inner))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
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
    /// With a server-side [`SessionStore`](crate::SessionStore), the record is deleted: the
    /// old cookie is an empty session from then on, on every instance.
    pub fn clear(&self) {
        let mut inner = self.0.lock();
        inner.accessed = true;
        inner.modified |= !inner.data.is_empty();
        inner.data.clear();
    }

    /// Gives the session a new id at the end of the request, its values moved there and
    /// the old id's record deleted, as Flask-Session's `regenerate()`: call it when a user
    /// logs in, so that an id planted before the login (session fixation) is worth
    /// nothing after it. With the cookie store, whose cookie has no id, it re-signs the
    /// cookie.
    ///
    /// ```
    /// use erlen::prelude::*;
    /// use erlen::SessionStore;
    ///
    /// #[post("/login")]
    /// fn login(session: Session) -> &'static str {
    ///     session.regenerate();
    ///     session.insert("user_id", 1);
    ///     "welcome"
    /// }
    ///
    /// let client = App::new()
    ///     .secret_key("dev")
    ///     .session_store(SessionStore::Memory)
    ///     .register(handlers![login])
    ///     .test_client();
    /// client.session_transaction(|s| s.insert("planted", true));
    /// let before = client.cookie("session");
    /// client.post("/login").send();
    /// assert_ne!(client.cookie("session"), before, "a new id");
    /// assert_eq!(client.session_transaction(|s| s.get::<bool>("planted")), Some(true), "the values moved");
    /// ```
    pub fn regenerate(&self) {
        let mut inner = self.0.lock();
        inner.accessed = true;
        inner.modified = true;
        inner.regenerate = true;
    }

    /// Whether the session outlives the browser (its cookie has a `Max-Age`).
    pub fn permanent(&self) -> bool {
        self.0.lock().permanent
    }

    /// Makes the session outlive the browser, for [`SessionConfig::lifetime`](crate::SessionConfig::lifetime), or not.
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
