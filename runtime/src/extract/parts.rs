//! Extractors of the request's parts: application state, the query, the method, the
//! headers; and of a urlencoded form.

use std::sync::Arc;

use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::from_request::{BodyUse, FromRequest};
use crate::error::{HttpError, abort};
use crate::request::Request;

/// Application state added with [`App::state`](crate::App::state): one value, shared by
/// every request (never copied), as Rocket's managed state. `State(x)` gives a handle that
/// derefs to the value; `State<T>` itself derefs to it too.
///
/// The value is shared, so it is read through `&T`: state that requests change is kept
/// behind a lock (`Mutex`, `RwLock`), in atomics, or is a handle to something that is
/// shared already (a database pool, a `reqwest::Client`).
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Mutex;
/// use erlen::prelude::*;
///
/// #[derive(Default)]
/// struct Notes {
///     items: Mutex<BTreeMap<u32, String>>,
/// }
///
/// #[post("/notes")]
/// fn create(State(notes): State<Notes>, body: String) -> String {
///     let mut items = notes.items.lock().unwrap();
///     let id = items.len() as u32 + 1;
///     items.insert(id, body);
///     format!("created {id}")
/// }
///
/// // `State<T>` derefs to `T` as well.
/// #[get("/notes")]
/// fn count(notes: State<Notes>) -> String {
///     notes.items.lock().unwrap().len().to_string()
/// }
///
/// let client = App::new().state(Notes::default()).register(handlers![create, count]).test_client();
/// assert_eq!(client.post("/notes").body("milk").send().text(), "created 1");
/// assert_eq!(client.post("/notes").body("eggs").send().text(), "created 2");
/// assert_eq!(client.get("/notes").send().text(), "2");
/// ```
#[derive(Debug)]
pub struct State<T: ?Sized>(pub Arc<T>);

impl<T: ?Sized> Clone for State<T> {
    fn clone(&self) -> Self {
        State(self.0.clone())
    }
}

impl<T: ?Sized> std::ops::Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Send + Sync + 'static> FromRequest for State<T> {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        req.shared_state::<T>().map(State).ok_or_else(|| {
            HttpError::internal(format!(
                "no application state of type `{}`: add it with `App::new().state(value)`",
                std::any::type_name::<T>()
            ))
        })
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
            .map_err(|e| abort(400).with_message(format!("invalid query string: {e}")))
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
        if !req.media_type_is("application/x-www-form-urlencoded") {
            return Err(abort(415)
                .with_message("expected a form body with content type application/x-www-form-urlencoded"));
        }
        serde_urlencoded::from_bytes(req.body())
            .map(Form)
            .map_err(|e| abort(400).with_message(format!("invalid form body: {e}")))
    }

    fn from_request_optional(req: &Request) -> Result<Option<Self>, HttpError> {
        if req.body().is_empty() { Ok(None) } else { Self::from_request(req).map(Some) }
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
