//! [`App`] and [`Blueprint`]: registering handlers, and freezing them into the
//! [`AppCore`] that every backend and the test client serve.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use erlen_pattern::{Pattern, join_prefix};
use http::{Extensions, Method};

use crate::handler::{After, Before, Entry, EntryKind, ErrorHandler, Handlers, Teardown, View};
use crate::routing::{RouteConflict, Router};

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
}

impl Blueprint {
    /// A blueprint named `name` (used in endpoint names: `name.function`).
    pub fn new(name: impl Into<String>) -> Blueprint {
        Blueprint { name: name.into(), url_prefix: String::new(), entries: Vec::new() }
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
}

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

    /// Checks the registrations and freezes the app for serving: patterns with a
    /// blueprint's prefix are valid, no route and method is registered twice, blueprint
    /// names are unique.
    pub fn build(self) -> Result<Arc<AppCore>, BuildError> {
        let mut core = AppCore {
            router: Router::default(),
            endpoints: Vec::new(),
            scopes: vec![Scope::default()],
            state: Arc::new(self.state),
        };
        let mut problems = Vec::new();
        core.add_entries(self.entries, 0, None, &mut problems);
        let mut names = HashSet::new();
        for bp in self.blueprints {
            if !names.insert(bp.name.clone()) {
                problems
                    .push(format!("two blueprints are named `{}`: blueprint names must be unique", bp.name));
                continue;
            }
            core.scopes.push(Scope::default());
            let scope = core.scopes.len() - 1;
            core.add_entries(bp.entries, scope, Some((&bp.name, &bp.url_prefix)), &mut problems);
        }
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
    pub(crate) scope: usize,
}

/// A built application, shared by the servers and test clients that serve it.
pub struct AppCore {
    pub(crate) router: Router,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) state: Arc<Extensions>,
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
    fn add_entries(
        &mut self,
        entries: Vec<Entry>,
        scope: usize,
        blueprint: Option<(&str, &str)>,
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
                EntryKind::Route { rules, view } => {
                    let name: Arc<str> = match blueprint {
                        Some((bp, _)) => format!("{bp}.{}", entry.name).into(),
                        None => entry.name.into(),
                    };
                    let endpoint = self.endpoints.len();
                    self.endpoints.push(Endpoint { name: name.clone(), view, scope });
                    for (rule, methods) in rules {
                        self.add_rule(rule, methods, blueprint.map(|(_, p)| p), endpoint, problems);
                    }
                }
            }
        }
    }

    fn add_rule(
        &mut self,
        rule: &str,
        methods: &[&str],
        prefix: Option<&str>,
        endpoint: usize,
        problems: &mut Vec<String>,
    ) {
        let full = join_prefix(prefix.unwrap_or(""), rule);
        let name = &self.endpoints[endpoint].name;
        let pattern = match Pattern::parse(&full) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("route \"{full}\" of `{name}`: {e}"));
                return;
            }
        };
        let mut parsed = Vec::new();
        for m in methods {
            match Method::from_bytes(m.as_bytes()) {
                Ok(m) => parsed.push(m),
                Err(_) => problems.push(format!("route \"{full}\" of `{name}`: `{m}` is not an HTTP method")),
            }
        }
        match self.router.insert(&pattern, parsed, endpoint) {
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
