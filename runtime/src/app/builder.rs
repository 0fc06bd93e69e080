//! [`App`] and [`Blueprint`]: registering handlers, and freezing them into the
//! [`AppCore`] that every backend and the test client serve.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use erlen_pattern::{Pattern, join_prefix};
use http::{Extensions, Method};

use crate::handler::{
    After, Before, Callable, Entry, EntryKind, ErrorHandler, Handlers, RouteOptions, Teardown,
    TemplateRegistration, View,
};
use crate::multipart::FormLimits;
use crate::routing::{RouteConflict, Router};
use crate::serving::ServingHooks;
use crate::session::{SessionConfig, Sessions};
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
pub struct App {
    state: Extensions,
    entries: Vec<Entry>,
    blueprints: Vec<Blueprint>,
    template_folder: Option<PathBuf>,
    static_folder: Option<PathBuf>,
    debug: Option<bool>,
    secret_key: Option<Vec<u8>>,
    secret_key_fallbacks: Vec<Vec<u8>>,
    session_config: SessionConfig,
    form_limits: FormLimits,
    /// Tower layers, innermost first.
    pub(crate) layers: Vec<crate::serve::LayerFn>,
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
pub struct Blueprint {
    name: String,
    url_prefix: String,
    entries: Vec<Entry>,
    static_folder: Option<PathBuf>,
}

impl Blueprint {
    /// A blueprint named `name` (used in endpoint names: `name.function`).
    pub fn new(name: impl Into<String>) -> Blueprint {
        Blueprint { name: name.into(), url_prefix: String::new(), entries: Vec::new(), static_folder: None }
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

/// The route every static folder is served under, relative to its prefix.
const STATIC_RULES: &[(&str, &[&str])] = &[("/static/<path:filename>", &["GET"])];

impl App {
    /// An empty application.
    pub fn new() -> App {
        App::default()
    }

    /// Adds a value of application state that handlers take as [`State<T>`](crate::State)
    /// (one value per type; a second value of the same type replaces the first).
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, value: T) -> App {
        self.state.insert(value);
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
    /// minijinja). A relative path resolves against the crate's directory when run by
    /// cargo (`CARGO_MANIFEST_DIR`), else against the current directory. Each template is
    /// parsed once, on first use; in debug mode it is parsed again when its folder changes.
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
        self.template_folder = Some(resolve_dir(dir.as_ref()));
        self
    }

    /// Serves the files under `dir` at `/static/<path:filename>`, under the endpoint
    /// `static` (`url_for('static', filename='app.css')` in a template), as Flask does. A
    /// relative `dir` resolves as in [`App::template_folder`].
    pub fn static_folder(mut self, dir: impl AsRef<Path>) -> App {
        self.static_folder = Some(resolve_dir(dir.as_ref()));
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

    /// Debug mode: templates reload when their files change. Off by default; `ERLEN_DEBUG=1`
    /// turns it on when this is not called.
    pub fn debug(mut self, on: bool) -> App {
        self.debug = Some(on);
        self
    }

    /// Builds the app and hands back its tower layers, innermost first.
    pub(crate) fn build_with_layers(
        mut self,
    ) -> Result<(Arc<AppCore>, Vec<crate::serve::LayerFn>), BuildError> {
        let layers = std::mem::take(&mut self.layers);
        Ok((self.build()?, layers))
    }

    /// Checks the registrations and freezes the app for serving: patterns with a
    /// blueprint's prefix are valid, no route and method is registered twice, blueprint
    /// names are unique.
    pub fn build(self) -> Result<Arc<AppCore>, BuildError> {
        let debug = self.debug.unwrap_or_else(crate::env::debug);
        let mut core = AppCore {
            router: Router::default(),
            endpoints: Vec::new(),
            by_name: HashMap::new(),
            by_item: HashMap::new(),
            scopes: vec![Scope::default()],
            state: Arc::new(self.state),
            templates: Templates::default(),
            sessions: Sessions::new(
                self.secret_key.or_else(crate::env::secret_key),
                self.secret_key_fallbacks,
                self.session_config,
            ),
            serving: ServingHooks::default(),
            form_limits: self.form_limits,
        };
        let mut problems = Vec::new();
        let mut template_entries = Vec::new();
        core.add_static(self.static_folder, 0, None, &mut problems);
        core.add_entries(self.entries, 0, None, &mut template_entries, &mut problems);
        let mut names = HashSet::new();
        for bp in self.blueprints {
            if !names.insert(bp.name.clone()) {
                problems
                    .push(format!("two blueprints are named `{}`: blueprint names must be unique", bp.name));
                continue;
            }
            core.scopes.push(Scope::default());
            let scope = core.scopes.len() - 1;
            let blueprint = Some((bp.name.as_str(), bp.url_prefix.as_str()));
            core.add_static(bp.static_folder, scope, blueprint, &mut problems);
            core.add_entries(bp.entries, scope, blueprint, &mut template_entries, &mut problems);
        }
        core.templates = Templates::new(self.template_folder, debug, &template_entries);
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

/// The problem of a serving hook registered on a blueprint: a server starts and stops
/// once, for the whole app.
fn serving_on_blueprint(name: &str, blueprint: &str) -> String {
    format!(
        "`{name}` is a serving hook (`#[before_serving]` or `#[after_serving]`) registered on the blueprint `{blueprint}`: \
         a server starts and stops once for the whole app, so register it on the app: \
         `App::new().register(handlers![{name}])`"
    )
}

/// Whether an error is of the type an `errorhandler(Type)` was registered for.
pub(crate) type TypeMatcher = fn(&crate::HttpError) -> bool;

/// The hooks and error handlers of the app (scope 0) or of one blueprint.
#[derive(Default)]
pub(crate) struct Scope {
    pub(crate) before: Vec<Before>,
    pub(crate) after: Vec<After>,
    pub(crate) teardown: Vec<Teardown>,
    pub(crate) by_code: HashMap<u16, ErrorHandler>,
    pub(crate) by_type: Vec<(TypeMatcher, ErrorHandler)>,
}

pub(crate) struct Endpoint {
    pub(crate) name: Arc<str>,
    pub(crate) view: View,
    /// The attribute's `body_limit` and `timeout`, and what the view does with the body.
    pub(crate) options: RouteOptions,
    pub(crate) scope: usize,
    /// The route's full patterns (with the blueprint's prefix); URLs are built from the
    /// first, as Flask builds them from the first rule.
    pub(crate) patterns: Vec<Pattern>,
    /// For a static endpoint, the folder it serves.
    pub(crate) static_dir: Option<PathBuf>,
}

impl Endpoint {
    /// The pattern URLs are built from.
    pub(crate) fn url_pattern(&self) -> &Pattern {
        &self.patterns[0]
    }
}

/// A built application, shared by the servers and test clients that serve it.
pub struct AppCore {
    pub(crate) router: Router,
    pub(crate) endpoints: Vec<Endpoint>,
    by_name: HashMap<Arc<str>, usize>,
    by_item: HashMap<TypeId, usize>,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) state: Arc<Extensions>,
    pub(crate) templates: Templates,
    pub(crate) sessions: Sessions,
    /// The app's `before_serving` and `after_serving` hooks.
    pub(crate) serving: ServingHooks,
    pub(crate) form_limits: FormLimits,
}

impl fmt::Debug for AppCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCore")
            .field("endpoints", &self.endpoints.iter().map(|e| &*e.name).collect::<Vec<_>>())
            .field("blueprints", &(self.scopes.len() - 1))
            .finish()
    }
}

impl AppCore {
    /// The endpoint named `name`, such as `index` or `auth.login`.
    pub(crate) fn endpoint_by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The first endpoint registered for the handler whose generated type is `item`.
    pub(crate) fn endpoint_by_item(&self, item: TypeId) -> Option<usize> {
        self.by_item.get(&item).copied()
    }

    fn add_static(
        &mut self,
        dir: Option<PathBuf>,
        scope: usize,
        blueprint: Option<(&str, &str)>,
        problems: &mut Vec<String>,
    ) {
        let Some(dir) = dir else { return };
        let view: View = Callable::Sync(crate::files::static_view);
        self.add_route(
            "static",
            STATIC_RULES,
            view,
            RouteOptions::default(),
            None,
            scope,
            blueprint,
            problems,
        );
        if let Some(endpoint) = self.endpoints.last_mut() {
            endpoint.static_dir = Some(dir);
        }
    }

    fn add_entries(
        &mut self,
        entries: Vec<Entry>,
        scope: usize,
        blueprint: Option<(&str, &str)>,
        templates: &mut Vec<TemplateRegistration>,
        problems: &mut Vec<String>,
    ) {
        for entry in entries {
            let hooks = &mut self.scopes[scope];
            match entry.kind {
                EntryKind::Before(h) => hooks.before.push(h),
                EntryKind::After(h) => hooks.after.push(h),
                EntryKind::Teardown(h) => hooks.teardown.push(h),
                EntryKind::ErrorCode { code, handler } => {
                    hooks.by_code.insert(code, handler);
                }
                EntryKind::ErrorType { matches, handler } => hooks.by_type.push((matches, handler)),
                EntryKind::Template(register) => templates.push(register),
                EntryKind::Route { rules, view, options } => {
                    self.add_route(entry.name, rules, view, options, entry.item, scope, blueprint, problems);
                }
                EntryKind::BeforeServing(_) | EntryKind::AfterServing(_) if blueprint.is_some() => {
                    problems.push(serving_on_blueprint(entry.name, blueprint.map_or("", |(bp, _)| bp)));
                }
                EntryKind::BeforeServing(h) => self.serving.before.push((entry.name, h)),
                EntryKind::AfterServing(h) => self.serving.after.push((entry.name, h)),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_route(
        &mut self,
        name: &str,
        rules: &[(&str, &[&str])],
        view: View,
        options: RouteOptions,
        item: Option<TypeId>,
        scope: usize,
        blueprint: Option<(&str, &str)>,
        problems: &mut Vec<String>,
    ) {
        let name: Arc<str> = match blueprint {
            Some((bp, _)) => format!("{bp}.{name}").into(),
            None => name.into(),
        };
        let prefix = blueprint.map_or("", |(_, p)| p);
        let mut patterns = Vec::new();
        for (rule, _) in rules {
            let full = join_prefix(prefix, rule);
            match Pattern::parse(&full) {
                Ok(p) => patterns.push(p),
                Err(e) => problems.push(format!("route \"{full}\" of `{name}`: {e}")),
            }
        }
        if patterns.len() != rules.len() {
            return;
        }
        if self.by_name.contains_key(&name) {
            problems.push(format!(
                "two views are registered as the endpoint `{name}`: endpoint names must be unique; rename one function or put it in a blueprint"
            ));
            return;
        }
        let endpoint = self.endpoints.len();
        self.by_name.insert(name.clone(), endpoint);
        if let Some(item) = item {
            self.by_item.entry(item).or_insert(endpoint);
        }
        self.endpoints.push(Endpoint {
            name: name.clone(),
            view,
            options,
            scope,
            patterns: patterns.clone(),
            static_dir: None,
        });
        for (pattern, (_, methods)) in patterns.iter().zip(rules) {
            self.add_rule(pattern, methods, &name, endpoint, problems);
        }
    }

    fn add_rule(
        &mut self,
        pattern: &Pattern,
        methods: &[&str],
        name: &str,
        endpoint: usize,
        problems: &mut Vec<String>,
    ) {
        let full = pattern.as_str();
        let mut parsed = Vec::new();
        for m in methods {
            match Method::from_bytes(m.as_bytes()) {
                Ok(m) => parsed.push(m),
                Err(_) => problems.push(format!("route \"{full}\" of `{name}`: `{m}` is not an HTTP method")),
            }
        }
        match self.router.insert(pattern, parsed, endpoint) {
            Ok(()) => {}
            Err(RouteConflict::Duplicate { endpoint: twin, method, pattern }) => problems.push(format!(
                "{method} \"{full}\" is registered twice: by `{}` (as \"{pattern}\") and by `{name}`; remove one or give them different methods",
                self.endpoints[twin].name
            )),
            Err(RouteConflict::Tree(why)) => {
                problems.push(format!("route \"{full}\" of `{name}` cannot be added: {why}"))
            }
        }
    }
}
