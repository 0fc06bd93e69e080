//! [`App`] and [`Blueprint`]: what the user registers, and how it is checked and frozen
//! into the [`AppCore`] that every backend and the test client serve.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::Extensions;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use super::core::AppCore;
use super::layers::{LayerFn, Stack, layer_fn};
use crate::body::{Body, BoxError};
use crate::channels::Channels;
use crate::command::CommandSpec;
use crate::config::ConfigError;
use crate::context::Features;
use crate::csrf::{Csrf, CsrfConfig, RouteCheck};
use crate::extract::BodyUse;
use crate::handler::{Callable, Entry, Handlers, View};
use crate::multipart::FormLimits;
use crate::session::{SessionConfig, SessionStore, Sessions, Store as SessionsStore};
use crate::templates::Templates;

/// A web application: routes, hooks, error handlers, blueprints and state.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/")]
/// async fn index() -> &'static str { "Hello" }
///
/// let app = App::new().register(handlers![index]);
/// assert_eq!(app.test_client().get("/").send().text(), "Hello");
/// ```
#[derive(Default)]
#[must_use = "an App does nothing until it is run, served or tested: `app.run()`, `Server::spawn(app)`, `app.test_client()`"]
pub struct App {
    state: Extensions,
    entries: Vec<Entry>,
    blueprints: Vec<Blueprint>,
    template_folder: Folder,
    static_folder: Folder,
    debug: Option<bool>,
    secret_key: Option<Vec<u8>>,
    secret_key_fallbacks: Vec<Vec<u8>>,
    session_config: SessionConfig,
    session_store: SessionStore,
    /// The Redis server the app shares state through, and the wait for its answers.
    #[cfg(feature = "redis")]
    redis: Option<String>,
    redis_timeout: Option<std::time::Duration>,
    form_limits: FormLimits,
    /// `csrf_protect`: how requests are checked.
    csrf: Option<CsrfConfig>,
    /// `openapi`: where the document is served, and its `info`.
    #[cfg(feature = "openapi")]
    openapi: Option<String>,
    #[cfg(feature = "openapi")]
    openapi_info: crate::openapi::Info,
    /// The app's channels, shared with the app once built.
    channels: Channels,
    /// Tower layers, innermost first.
    pub(crate) layers: Vec<LayerFn>,
}

/// A group of routes with its own URL prefix, hooks and error handlers, as in Flask.
///
/// Its hooks and error handlers apply to its own routes only; its endpoints are named
/// `name.function`.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/")]
/// async fn bp_index() -> &'static str { "bp" }
///
/// let bp = Blueprint::new("bp").url_prefix("/bp").register(handlers![bp_index]);
/// let client = App::new().register_blueprint(bp).test_client();
/// assert_eq!(client.get("/bp/").send().text(), "bp");
/// assert_eq!(client.get("/bp").send().status(), 308);
/// ```
#[derive(Debug)]
#[must_use = "a Blueprint does nothing until it is registered: `App::register_blueprint(bp)`"]
pub struct Blueprint {
    name: String,
    url_prefix: String,
    entries: Vec<Entry>,
    static_folder: Option<PathBuf>,
    csrf_exempt: bool,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("handlers", &self.entries)
            .field("blueprints", &self.blueprints)
            .field("template_folder", &self.template_folder)
            .field("static_folder", &self.static_folder)
            .field("debug", &self.debug)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<set>"))
            .field("csrf", &self.csrf)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

impl Blueprint {
    /// A blueprint named `name` (used in endpoint names: `name.function`).
    pub fn new(name: impl Into<String>) -> Blueprint {
        Blueprint {
            name: name.into(),
            url_prefix: String::new(),
            entries: Vec::new(),
            static_folder: None,
            csrf_exempt: false,
        }
    }

    /// Exempts every route of the blueprint from the app's CSRF protection, as Flask-WTF's
    /// `csrf.exempt(blueprint)`: for an API whose clients authenticate with a token, not a
    /// cookie. One route is exempted with `csrf = false` in its attribute.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[post("/hook")]
    /// fn hook() -> &'static str { "ok" }
    ///
    /// let api = Blueprint::new("api").url_prefix("/api").csrf_exempt().register(handlers![hook]);
    /// let client = App::new().secret_key("dev").csrf_protect().register_blueprint(api).test_client();
    /// assert_eq!(client.post("/api/hook").send().text(), "ok");
    /// ```
    pub fn csrf_exempt(mut self) -> Blueprint {
        self.csrf_exempt = true;
        self
    }

    /// Mounts every route of the blueprint under `prefix`, such as `/api`.
    pub fn url_prefix(mut self, prefix: impl Into<String>) -> Blueprint {
        self.url_prefix = prefix.into();
        self
    }

    /// Adds the views, hooks and error handlers collected by `handlers![...]`.
    pub fn register(mut self, handlers: Handlers) -> Blueprint {
        self.entries.extend(handlers.0);
        self
    }

    /// Serves the files under `dir` at `<url_prefix>/static/<path:filename>`, under the
    /// endpoint `name.static`. A relative `dir` resolves as in [`App::static_folder`].
    pub fn static_folder(mut self, dir: impl AsRef<Path>) -> Blueprint {
        self.static_folder = Some(resolve_dir(dir.as_ref()));
        self
    }
}

/// A folder of the app: Flask's default (`templates/` or `static/` next to the app, when
/// it exists), one the app set, or none.
#[derive(Debug, Default)]
enum Folder {
    #[default]
    Default,
    Set(PathBuf),
    Off,
}

impl Folder {
    /// The folder to use: the one set, else `default` in the crate's directory if it is a
    /// folder there.
    fn resolve(self, default: &str) -> Option<PathBuf> {
        match self {
            Folder::Set(dir) => Some(dir),
            Folder::Off => None,
            Folder::Default => Some(resolve_dir(Path::new(default))).filter(|dir| dir.is_dir()),
        }
    }
}

/// A relative folder resolves against the crate's directory when run by cargo
/// (`CARGO_MANIFEST_DIR`), else against the current directory.
fn resolve_dir(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        return dir.to_path_buf();
    }
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(root) => Path::new(&root).join(dir),
        None => std::env::current_dir().map(|cwd| cwd.join(dir)).unwrap_or_else(|_| dir.to_path_buf()),
    }
}

impl App {
    /// An empty application.
    pub fn new() -> App {
        App::default()
    }

    /// Adds a value of application state that handlers take as [`State<T>`](crate::State):
    /// one value per type (a second value of the same type replaces the first), shared by
    /// every request, never copied. State that requests change goes behind a lock:
    /// `App::new().state(Mutex::new(notes))`, then `State(notes): State<Mutex<Notes>>`.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> App {
        self.state.insert(Arc::new(value));
        self
    }

    /// Adds the views, hooks and error handlers collected by `handlers![...]`.
    pub fn register(mut self, handlers: Handlers) -> App {
        self.entries.extend(handlers.0);
        self
    }

    /// Adds a blueprint.
    pub fn register_blueprint(mut self, blueprint: Blueprint) -> App {
        self.blueprints.push(blueprint);
        self
    }

    /// The folder `render_template` loads templates from (Jinja2 syntax, through
    /// minijinja). Without this call, as in Flask, it is `templates/` in the crate's
    /// directory when that folder exists ([`App::without_template_folder`] turns that
    /// off). A relative path resolves against the crate's directory when run by cargo
    /// (`CARGO_MANIFEST_DIR`), else against the current directory. Each template is parsed
    /// once, on first use; in debug mode it is parsed again when its folder changes.
    ///
    /// ```no_run
    /// use erlen::prelude::*;
    ///
    /// #[get("/")]
    /// fn index() -> impl IntoResponse {
    ///     render_template("index.html", context! { name => "erlen" })
    /// }
    ///
    /// let app = App::new().template_folder("templates").register(handlers![index]);
    /// # let _ = app;
    /// ```
    pub fn template_folder(mut self, dir: impl AsRef<Path>) -> App {
        self.template_folder = Folder::Set(resolve_dir(dir.as_ref()));
        self
    }

    /// Loads no templates from a folder, not even the default `templates/` (Flask's
    /// `template_folder=None`); template filters and globals still register.
    pub fn without_template_folder(mut self) -> App {
        self.template_folder = Folder::Off;
        self
    }

    /// Serves the files under `dir` at `/static/<path:filename>`, under the endpoint
    /// `static` (`url_for('static', filename='app.css')` in a template), as Flask does.
    /// Without this call it is `static/` in the crate's directory when that folder exists
    /// ([`App::without_static_folder`] turns that off). A relative `dir` resolves as in
    /// [`App::template_folder`].
    pub fn static_folder(mut self, dir: impl AsRef<Path>) -> App {
        self.static_folder = Folder::Set(resolve_dir(dir.as_ref()));
        self
    }

    /// Serves no static folder, not even the default `static/` (Flask's
    /// `static_folder=None`), so that `/static/...` is free for the app's own routes.
    pub fn without_static_folder(mut self) -> App {
        self.static_folder = Folder::Off;
        self
    }

    /// The secret key that signs the session cookie, as Flask's `SECRET_KEY`: any bytes,
    /// best a long random string kept out of the code. Without one, `ERLEN_SECRET_KEY` is
    /// used; with neither, a handler that takes a `Session` is a 500 whose log says so.
    pub fn secret_key(mut self, key: impl AsRef<[u8]>) -> App {
        self.secret_key = Some(key.as_ref().to_vec());
        self
    }

    /// Older secret keys whose session cookies are still accepted (new ones are signed with
    /// [`App::secret_key`]), to rotate the key without logging everyone out, as Flask's
    /// `SECRET_KEY_FALLBACKS`.
    pub fn secret_key_fallbacks<K: AsRef<[u8]>>(mut self, keys: impl IntoIterator<Item = K>) -> App {
        self.secret_key_fallbacks = keys.into_iter().map(|k| k.as_ref().to_vec()).collect();
        self
    }

    /// How the session cookie is made: name, path, domain, `Secure`, `HttpOnly`,
    /// `SameSite` and lifetime (Flask's `SESSION_COOKIE_*`).
    pub fn session_config(mut self, config: SessionConfig) -> App {
        self.session_config = config;
        self
    }

    /// Where the session's values live (Flask-Session's `SESSION_TYPE`): in the signed
    /// cookie (the default), in this process's memory, or in Redis. See [`SessionStore`].
    pub fn session_store(mut self, store: SessionStore) -> App {
        self.session_store = store;
        self
    }

    /// The Redis server the app shares state through (feature `redis`): server-side
    /// sessions ([`SessionStore::Redis`]), channels across instances and rate limits
    /// counted across instances. Without this call, `ERLEN_REDIS_URL` is used when set.
    /// Nothing connects until the first use; a broken connection is remade by itself; a
    /// call that gets no answer within [`App::redis_timeout`] is a 503
    /// ([`StoreError`](crate::StoreError)), logged once per outage.
    ///
    /// ```
    /// use erlen::prelude::*;
    /// use erlen::SessionStore;
    ///
    /// let app = App::new()
    ///     .secret_key("a long random secret")
    ///     .redis("redis://127.0.0.1:6379/0")
    ///     .session_store(SessionStore::Redis);
    /// # let _ = app;
    /// ```
    #[cfg(feature = "redis")]
    pub fn redis(mut self, url: impl Into<String>) -> App {
        self.redis = Some(url.into());
        self
    }

    /// The app's [`Channels`], to publish and subscribe outside requests (in a task of
    /// your own, a command): the same channels its handlers take as an extractor.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// let app = App::new();
    /// let channels = app.channels();
    /// let mut news = channels.subscribe_blocking("news").unwrap();
    /// channels.publish_blocking("news", "erlen 0.1").unwrap();
    /// assert_eq!(news.next(), Some(Ok(Bytes::from("erlen 0.1"))));
    /// ```
    pub fn channels(&self) -> Channels {
        self.channels.clone()
    }

    /// How long a call to the shared store (Redis) may wait for its answer before it is
    /// a 503 (default 2 s).
    pub fn redis_timeout(mut self, timeout: std::time::Duration) -> App {
        self.redis_timeout = Some(timeout);
        self
    }

    /// The limits of `multipart/form-data` bodies that views take as
    /// [`Multipart`](crate::Multipart): the size of a text field, of a file, the number of
    /// parts, and the size from which a file is spooled to disk (Flask's
    /// `MAX_FORM_MEMORY_SIZE` and `MAX_FORM_PARTS`). The whole body stays under the route's
    /// `body_limit`, or the server's.
    ///
    /// ```
    /// use erlen::{App, FormLimits};
    ///
    /// let app = App::new().form_limits(FormLimits::default().file_size(50 << 20).parts(100));
    /// # let _ = app;
    /// ```
    pub fn form_limits(mut self, limits: FormLimits) -> App {
        self.form_limits = limits;
        self
    }

    /// Protects the app against cross-site request forgery, as Flask-WTF's `CSRFProtect`:
    /// every POST, PUT, PATCH and DELETE must send a token the app made for the session,
    /// in a `csrf_token` form field or an `X-CSRFToken` / `X-CSRF-Token` header, and over
    /// HTTPS a `Referer` of the app's own origin; a WebSocket upgrade must come from a page
    /// of the app's origin (its `Origin` header). A failure is a 400 that the error
    /// handlers see, with Flask-WTF's reason as its message and a
    /// [`CsrfError`](crate::csrf::CsrfError) to handle by type.
    ///
    /// Templates write the token with `{{ csrf_token() }}`, in a hidden field:
    /// `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">`; views get it
    /// with [`erlen::csrf::csrf_token()`](crate::csrf::csrf_token), tests with
    /// [`TestClient::csrf_token`](crate::TestClient::csrf_token). Tokens are kept in the
    /// session and signed with the secret key, which the app needs; they expire after an
    /// hour ([`App::csrf_protect_with`] changes it). The check runs before the app's own
    /// `before_request` hooks; `csrf = false` in a route's attribute, or
    /// [`Blueprint::csrf_exempt`], exempts routes.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[post("/transfer")]
    /// fn transfer() -> &'static str { "done" }
    ///
    /// #[post("/webhook", csrf = false)]
    /// fn webhook() -> &'static str { "received" }
    ///
    /// let client = App::new().secret_key("dev").csrf_protect().register(handlers![transfer, webhook]).test_client();
    /// let refused = client.post("/transfer").form(&[("amount", "100")]).send();
    /// assert_eq!(refused.status(), 400);
    /// assert!(refused.text().contains("The CSRF token is missing."));
    /// let token = client.csrf_token();
    /// let sent = client.post("/transfer").form(&[("amount", "100"), ("csrf_token", &token)]).send();
    /// assert_eq!(sent.text(), "done");
    /// assert_eq!(client.post("/webhook").send().text(), "received");
    /// ```
    pub fn csrf_protect(self) -> App {
        self.csrf_protect_with(CsrfConfig::default())
    }

    /// [`App::csrf_protect`] with settings of the app's own: the tokens' time limit, the
    /// HTTPS referrer check, the field's name.
    pub fn csrf_protect_with(mut self, config: CsrfConfig) -> App {
        self.csrf = Some(config);
        self
    }

    /// Serves the app's OpenAPI 3.1 document at `path` (such as `/openapi.json`), built
    /// when the app starts from what the route attributes saw (feature `openapi`); see
    /// [`App::openapi_document`] for what it holds. The route is the endpoint `openapi`
    /// and is not in the document itself.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// /// The user `id`.
    /// #[get("/users/<int:id>")]
    /// fn user(id: i64) -> Json<serde_json::Value> { Json(serde_json::json!({ "id": id })) }
    ///
    /// let client = App::new().openapi("/openapi.json").register(handlers![user]).test_client();
    /// let doc: serde_json::Value = client.get("/openapi.json").send().json();
    /// assert_eq!(doc["openapi"], "3.1.0");
    /// assert_eq!(doc["paths"]["/users/{id}"]["get"]["summary"], "The user `id`.");
    /// ```
    #[cfg(feature = "openapi")]
    pub fn openapi(mut self, path: impl Into<String>) -> App {
        self.openapi = Some(path.into());
        self
    }

    /// The `info` of the OpenAPI document: the API's title and version (by default `API`
    /// and `0.1.0`).
    #[cfg(feature = "openapi")]
    pub fn openapi_info(mut self, title: impl Into<String>, version: impl Into<String>) -> App {
        self.openapi_info = crate::openapi::Info { title: title.into(), version: version.into() };
        self
    }

    /// The app's OpenAPI 3.1 document, as [`App::openapi`] serves it (feature `openapi`):
    /// every route's path in OpenAPI's form (`/users/{id}`), its methods, its typed path
    /// parameters (`int` is an integer, `float` a number, `uuid` a string of format
    /// `uuid`, `path` and `string` strings), the query parameters of a `Query<T>`, the
    /// request bodies of `Json<T>` (`application/json`), `Form<T>`
    /// (`application/x-www-form-urlencoded`) and `Multipart`, the 200 response of a
    /// `Json<T>` return value, a 422 where `Valid` checks the input, the summary (first
    /// paragraph) and description of the view's doc comment, and its blueprint as a tag.
    ///
    /// Schemas come from `schemars::JsonSchema` (schemars 1, JSON Schema 2020-12, which
    /// OpenAPI 3.1 uses) under `components/schemas`; a type without it is described by an
    /// open schema that says so, so an app that never asks for the document needs no
    /// `JsonSchema` anywhere. WebSockets, static files and the document's own route are
    /// left out; every route the app registers is in.
    #[cfg(feature = "openapi")]
    pub fn openapi_document(&self) -> serde_json::Value {
        use crate::handler::EntryKind;
        let mut routes = Vec::new();
        let scopes = std::iter::once((None, "", &self.entries)).chain(
            self.blueprints.iter().map(|bp| (Some(bp.name.as_str()), bp.url_prefix.as_str(), &bp.entries)),
        );
        for (blueprint, prefix, entries) in scopes {
            for entry in entries {
                let EntryKind::Route { rules, options, .. } = &entry.kind else { continue };
                let parsed = rules.iter().filter_map(|(rule, methods)| {
                    let pattern =
                        erlen_pattern::Pattern::parse(&erlen_pattern::join_prefix(prefix, rule)).ok()?;
                    Some((pattern, *methods))
                });
                routes.push(crate::openapi::RouteDoc {
                    endpoint: blueprint
                        .map_or_else(|| entry.name.to_string(), |bp| format!("{bp}.{}", entry.name)),
                    rules: parsed.collect(),
                    tag: blueprint,
                    describe: options.doc,
                });
            }
        }
        crate::openapi::document(&self.openapi_info, &routes)
    }

    /// Debug mode, for development only (Flask's `debug=True`): an unhandled error or panic
    /// answers with a page that shows the error, its chain, the backtrace and the request
    /// (with cookies and credentials masked), and for a template error the template's lines
    /// around the failing one; templates reload when their files change. Off by default;
    /// `ERLEN_DEBUG=1` turns it on when this is not called, and so does `run --debug` on the
    /// app's command line ([`App::cli`]), which also reloads the app when its code changes.
    ///
    /// A server in debug mode only starts on a loopback address (127.0.0.1, `::1`), since
    /// the page shows the app's inside to whoever asks: set `ERLEN_DEBUG_ANY_HOST=1` to
    /// serve it on another address of a network that is yours alone.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[get("/")]
    /// fn index() -> &'static str { panic!("not written yet") }
    ///
    /// let client = App::new().debug(true).register(handlers![index]).test_client();
    /// let page = client.get("/").send();
    /// assert_eq!(page.status(), 500);
    /// assert!(page.text().contains("not written yet"));
    /// ```
    pub fn debug(mut self, on: bool) -> App {
        self.debug = Some(on);
        self
    }

    /// Whether the app is in debug mode: as [`App::debug`] says, else `ERLEN_DEBUG`.
    pub(crate) fn is_debug(&self) -> bool {
        self.debug.unwrap_or_else(crate::env::debug)
    }

    /// The `#[command]`s registered on the app (and, by mistake, on its blueprints, which
    /// building the app reports), for the command line to parse before the app is built.
    pub(crate) fn command_specs(&self) -> impl Iterator<Item = &CommandSpec> {
        let blueprints = self.blueprints.iter().flat_map(|bp| bp.entries.iter());
        self.entries.iter().chain(blueprints).filter_map(|entry| match &entry.kind {
            crate::handler::EntryKind::Command { spec, .. } => Some(spec),
            _ => None,
        })
    }

    /// Wraps the whole app in a tower layer, such as tower-http's `CorsLayer`,
    /// `CompressionLayer`, `TraceLayer` or `SetRequestIdLayer`, on both backends and in
    /// [`App::into_service`]. Each call wraps what was added before, so the last layer
    /// added is the outermost, as in axum.
    ///
    /// Layers run on the async runtime around the lifecycle: a layer sees the request
    /// before routing and the `before_request` hooks, and the response after the
    /// `after_request` and `teardown_request` hooks and the session cookie; the lifecycle
    /// inside runs on the server's backend (on the threaded backend, on a worker). The
    /// request's body reaches a layer unread, as a streaming [`Body`]; it is read within
    /// the body limit after the layers. A layer may change the response body's type
    /// (compression does): erlen streams it. The access log and the drain's
    /// `Connection: close` stay outside every layer. Without layers, nothing of this is
    /// paid.
    ///
    /// The test client does not run layers: it calls the lifecycle directly. Test layers
    /// through [`App::into_service`] or a server.
    ///
    /// A layer's error (tower's timeout, say) is logged and answered with a 500.
    ///
    /// ```
    /// use erlen::prelude::*;
    /// use erlen::tower::{Layer, Service};
    ///
    /// /// A layer that adds a header to every response.
    /// #[derive(Clone)]
    /// struct Tag<S>(S);
    /// impl<S> Service<http::Request<Body>> for Tag<S>
    /// where
    ///     S: Service<http::Request<Body>, Response = Response> + Send,
    ///     S::Future: Send + 'static,
    /// {
    ///     type Response = Response;
    ///     type Error = S::Error;
    ///     type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send>>;
    ///     fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
    ///         self.0.poll_ready(cx)
    ///     }
    ///     fn call(&mut self, req: http::Request<Body>) -> Self::Future {
    ///         let served = self.0.call(req);
    ///         Box::pin(async move {
    ///             let mut resp = served.await?;
    ///             resp.headers_mut().insert("x-layer", HeaderValue::from_static("yes"));
    ///             Ok(resp)
    ///         })
    ///     }
    /// }
    /// struct TagLayer;
    /// impl<S> Layer<S> for TagLayer {
    ///     type Service = Tag<S>;
    ///     fn layer(&self, inner: S) -> Tag<S> { Tag(inner) }
    /// }
    ///
    /// #[get("/")]
    /// fn index() -> &'static str { "hi" }
    ///
    /// let mut service = App::new().register(handlers![index]).layer(TagLayer).into_service();
    /// let req = http::Request::get("/").header("host", "x").body(String::new()).unwrap();
    /// let resp = erlen::block_on(service.call(req)).unwrap();
    /// assert_eq!(resp.headers()["x-layer"], "yes");
    /// ```
    pub fn layer<L, S, ResBody>(mut self, layer: L) -> App
    where
        L: Layer<Stack, Service = S> + Send + Sync + 'static,
        S: Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        ResBody: http_body::Body + Send + 'static,
        ResBody::Data: Send,
        ResBody::Error: Into<BoxError>,
    {
        self.layers.push(layer_fn(layer));
        self
    }

    /// Reads a `T` from the environment variables that start with `prefix`, and adds it
    /// as application state (views and hooks take it as `State<T>`), as Flask's
    /// `app.config.from_prefixed_env()`.
    ///
    /// Each variable `PREFIX_NAME` sets the field `name`: the rest of the variable's name,
    /// lowercased. Values are parsed as the field needs: numbers, `true`/`false`,
    /// `Option`s (absent is `None`), enums by variant name, and lists of comma-separated
    /// values. A field with `#[serde(default)]` may be left unset; other variables with
    /// the prefix are ignored.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Config {
    ///     greeting: String,
    ///     workers: u32,
    ///     #[serde(default)]
    ///     debug: bool,
    /// }
    ///
    /// #[get("/")]
    /// fn index(State(config): State<Config>) -> String {
    ///     format!("{} ({} workers, debug {})", config.greeting, config.workers, config.debug)
    /// }
    ///
    /// # // SAFETY: this example's variables are set before any thread reads them.
    /// # unsafe {
    /// #     std::env::set_var("DOCS_ENV_GREETING", "hello");
    /// #     std::env::set_var("DOCS_ENV_WORKERS", "4");
    /// # }
    /// // DOCS_ENV_GREETING=hello DOCS_ENV_WORKERS=4
    /// let app = App::new().config_from_env::<Config>("DOCS_ENV_")?.register(handlers![index]);
    /// assert_eq!(app.test_client().get("/").send().text(), "hello (4 workers, debug false)");
    /// # Ok::<(), erlen::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] that names the variable when one the struct needs is unset, or
    /// holds a value that does not parse as its field's type (or is not UTF-8).
    pub fn config_from_env<T>(self, prefix: &str) -> Result<App, ConfigError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let config = crate::config::from_vars::<T>(prefix, std::env::vars_os())?;
        Ok(self.state(config))
    }

    /// Reads a `T` from a TOML file and adds it as application state (views and hooks
    /// take it as `State<T>`), as Flask's `app.config.from_file("config.toml",
    /// load=tomllib.load)`. A relative path resolves against the current directory.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Config {
    ///     title: String,
    ///     database: Database,
    /// }
    ///
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Database {
    ///     url: String,
    ///     pool_size: u32,
    /// }
    ///
    /// #[get("/")]
    /// fn index(State(config): State<Config>) -> String {
    ///     format!("{}: {} x{}", config.title, config.database.url, config.database.pool_size)
    /// }
    ///
    /// let path = std::env::temp_dir().join(format!("erlen-docs-config-{}.toml", std::process::id()));
    /// std::fs::write(&path, "title = \"blog\"\n\n[database]\nurl = \"sqlite://blog.db\"\npool_size = 4\n")?;
    /// let app = App::new().config_from_file::<Config>(&path)?.register(handlers![index]);
    /// assert_eq!(app.test_client().get("/").send().text(), "blog: sqlite://blog.db x4");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] that names the file when it cannot be read, and the line and key
    /// when it is not valid TOML, a key the struct needs is missing, or a value has the
    /// wrong type.
    pub fn config_from_file<T>(self, path: impl AsRef<Path>) -> Result<App, ConfigError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let config = crate::config::from_file::<T>(path.as_ref())?;
        Ok(self.state(config))
    }

    /// Builds the app and hands back its tower layers, innermost first.
    pub(crate) fn build_with_layers(mut self) -> Result<(Arc<AppCore>, Vec<LayerFn>), BuildError> {
        let layers = std::mem::take(&mut self.layers);
        Ok((self.build()?, layers))
    }

    /// Checks the registrations and freezes the app for serving: patterns with a
    /// blueprint's prefix are valid, no route and method is registered twice, blueprint
    /// names are unique. (To check an app in a test, build its test client with
    /// [`App::try_test_client`].)
    pub(crate) fn build(self) -> Result<Arc<AppCore>, BuildError> {
        #[cfg(feature = "openapi")]
        let openapi = self.openapi.clone().map(|path| (path, self.openapi_document()));
        let debug = self.is_debug();
        let mut problems = Vec::new();
        let mut template_entries = Vec::new();
        let mut state = self.state;
        // The channels are state like any other: `Channels` extracts them as `State` would.
        state.insert(Arc::new(self.channels.clone()));
        let mut core = AppCore::new(Arc::new(state));
        let static_view: View = Callable::Sync(super::static_files::static_view);
        core.add_static(self.static_folder.resolve("static"), static_view, 0, None, &mut problems);
        core.add_entries(self.entries, 0, None, &mut template_entries, &mut problems);
        let mut names = HashSet::new();
        let mut exempt_scopes = Vec::new();
        for bp in self.blueprints {
            if !names.insert(bp.name.clone()) {
                problems
                    .push(format!("two blueprints are named `{}`: blueprint names must be unique", bp.name));
                continue;
            }
            let scope = core.add_scope();
            if bp.csrf_exempt {
                exempt_scopes.push(scope);
            }
            let blueprint = Some((bp.name.as_str(), bp.url_prefix.as_str()));
            core.add_static(bp.static_folder, static_view, scope, blueprint, &mut problems);
            core.add_entries(bp.entries, scope, blueprint, &mut template_entries, &mut problems);
        }
        let mut features = Features::default();
        #[cfg(feature = "openapi")]
        if let Some((path, document)) = openapi {
            let view: View = Callable::Async(crate::openapi::serve);
            let rules: &[(&str, &[&str])] = &[(path.as_str(), &["GET"])];
            core.add_route("openapi", rules, view, Default::default(), None, 0, None, &mut problems);
            let json = serde_json::to_vec(&document).unwrap_or_default();
            features.insert(crate::openapi::Document(json.into()));
        }
        let secret_key = self.secret_key.or_else(crate::env::secret_key);
        if let Some(config) = self.csrf {
            match &secret_key {
                Some(key) => {
                    let routes = core.endpoints.iter().map(|e| RouteCheck {
                        exempt: e.options.csrf_exempt || exempt_scopes.contains(&e.scope),
                        multipart: matches!(e.options.body, BodyUse::Prepared(_)),
                    });
                    features.insert(Csrf::new(key, &self.secret_key_fallbacks, config, routes.collect()));
                    core.scopes[0].before.insert(0, Csrf::HOOK);
                    template_entries.push(crate::csrf::register_template);
                }
                None => problems.push(
                    "`csrf_protect` signs its tokens with the secret key, and the app has none: set one with \
                     `App::secret_key(..)` or the ERLEN_SECRET_KEY environment variable"
                        .to_string(),
                ),
            }
        }
        features.insert(Templates::new(self.template_folder.resolve("templates"), debug, &template_entries));
        let timeout = self.redis_timeout.unwrap_or(std::time::Duration::from_secs(2));
        #[cfg(not(feature = "redis"))]
        if crate::env::redis_url().is_some() {
            // Set for an instance among many: without Redis its sessions, channels and
            // rate limits would quietly stay in this process.
            problems.push(
                "ERLEN_REDIS_URL is set, but erlen was built without its `redis` feature, so \
                 sessions, channels and rate limits would stay in this process: turn the feature \
                 on (`erlen = { ..., features = [\"redis\"] }`) or unset ERLEN_REDIS_URL"
                    .to_string(),
            );
        }
        #[cfg(feature = "redis")]
        let redis = match self.redis.or_else(crate::env::redis_url) {
            Some(url) => match crate::store::Redis::open(&url, timeout) {
                Ok(redis) => Some(Arc::new(redis)),
                Err(why) => {
                    problems.push(format!("App::redis: {why}"));
                    None
                }
            },
            None => None,
        };
        let store = match self.session_store {
            SessionStore::Cookie => SessionsStore::Cookie,
            SessionStore::Memory => SessionsStore::Server(crate::session::Memory::process()),
            #[cfg(feature = "redis")]
            SessionStore::Redis => match &redis {
                Some(redis) => SessionsStore::Server(Arc::new(crate::session::OnRedis(redis.clone()))),
                None => {
                    problems.push(
                        "SessionStore::Redis keeps sessions in Redis, and the app has no Redis server: \
                         name one with `App::redis(\"redis://127.0.0.1:6379/0\")` or ERLEN_REDIS_URL"
                            .to_string(),
                    );
                    SessionsStore::Cookie
                }
            },
        };
        let _ = timeout;
        features.insert(Sessions::new(secret_key, self.secret_key_fallbacks, self.session_config, store));
        #[cfg(feature = "redis")]
        let limiter = match &redis {
            Some(redis) => crate::ratelimit::Limiter::on_redis(redis.clone()),
            None => crate::ratelimit::Limiter::default(),
        };
        #[cfg(not(feature = "redis"))]
        let limiter = crate::ratelimit::Limiter::default();
        features.insert(limiter);
        #[cfg(feature = "redis")]
        if let Some(redis) = redis {
            self.channels.0.use_redis(redis.clone());
            features.insert(redis);
        }
        features.insert(self.form_limits);
        if debug {
            crate::panics::capture_backtraces();
            features.insert(crate::debug_page::DebugMode::from_env());
        }
        core.features = features;
        if problems.is_empty() { Ok(Arc::new(core)) } else { Err(BuildError { problems }) }
    }
}

/// Mistakes found when an [`App`] is built, all of them at once.
///
/// Its `Debug` output is its `Display` text, one problem a line, so that
/// `fn main() -> std::io::Result<()> { app().run() }` prints them readably.
#[derive(Clone, PartialEq, Eq)]
pub struct BuildError {
    problems: Vec<String>,
}

impl BuildError {
    /// Each problem, as a sentence that says how to fix it.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the app cannot be built:")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for BuildError {}

impl From<BuildError> for std::io::Error {
    fn from(e: BuildError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

#[cfg(all(test, not(feature = "redis")))]
mod without_redis {
    /// Run in a child process of this test binary, so that setting the variable touches
    /// no other test.
    #[test]
    fn a_redis_url_without_the_feature_is_refused() {
        if std::env::var_os("ERLEN_TEST_CHILD").is_some() {
            let built = super::App::new().try_test_client();
            let Err(problems) = built else { panic!("the app is refused") };
            let problems = problems.to_string();
            assert!(problems.contains("built without its `redis` feature"), "{problems}");
            return;
        }
        let exe = std::env::current_exe().expect("the test binary");
        let child = std::process::Command::new(exe)
            .args(["--exact", "app::builder::without_redis::a_redis_url_without_the_feature_is_refused"])
            .env("ERLEN_TEST_CHILD", "1")
            .env("ERLEN_REDIS_URL", "redis://127.0.0.1:6379/0")
            .output()
            .expect("the child runs");
        let out = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success() && out.contains("1 passed"), "the child test failed:\n{out}");
    }
}
