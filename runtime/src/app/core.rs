//! The frozen app: its router, endpoints and the hooks and error handlers of each scope
//! (the app's and each blueprint's), checked when the [`App`](super::App) is built.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use erlen_pattern::{Pattern, join_prefix};
use http::{Extensions, Method};

use crate::command::CommandSpec;
use crate::context::Features;
use crate::error::HttpError;
use crate::handler::{
    After, Before, Command, Entry, EntryKind, ErrorHandler, RouteOptions, Teardown, TemplateRegistration,
    View,
};
use crate::routing::{RouteConflict, Router};
use crate::serving::ServingHooks;

/// The route every static folder is served under, relative to its prefix.
const STATIC_RULES: &[(&str, &[&str])] = &[("/static/<path:filename>", &["GET"])];

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
pub(crate) type TypeMatcher = fn(&HttpError) -> bool;

/// An error handler and the name of its function, for the log when it fails.
#[derive(Debug)]
pub(crate) struct NamedHandler {
    pub(crate) name: &'static str,
    pub(crate) handler: ErrorHandler,
}

/// The hooks and error handlers of the app (scope 0) or of one blueprint.
#[derive(Default)]
pub(crate) struct Scope {
    pub(crate) before: Vec<Before>,
    pub(crate) after: Vec<After>,
    pub(crate) teardown: Vec<Teardown>,
    pub(crate) by_code: HashMap<u16, NamedHandler>,
    pub(crate) by_type: Vec<(TypeMatcher, NamedHandler)>,
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
pub(crate) struct AppCore {
    pub(crate) router: Router,
    pub(crate) endpoints: Vec<Endpoint>,
    by_name: HashMap<Arc<str>, usize>,
    by_item: HashMap<TypeId, usize>,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) state: Arc<Extensions>,
    /// The runtime objects of its features: templates, sessions, form limits.
    pub(crate) features: Features,
    /// The app's `before_serving` and `after_serving` hooks.
    pub(crate) serving: ServingHooks,
    /// The app's `#[command]`s, in registration order.
    pub(crate) commands: Vec<(CommandSpec, Command)>,
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
    /// An app with no route, hook or feature yet, holding `state`.
    pub(crate) fn new(state: Arc<Extensions>) -> AppCore {
        AppCore {
            router: Router::default(),
            endpoints: Vec::new(),
            by_name: HashMap::new(),
            by_item: HashMap::new(),
            scopes: vec![Scope::default()],
            state,
            features: Features::default(),
            serving: ServingHooks::default(),
            commands: Vec::new(),
        }
    }

    /// Adds the scope of a blueprint, and gives its number.
    pub(crate) fn add_scope(&mut self) -> usize {
        self.scopes.push(Scope::default());
        self.scopes.len() - 1
    }

    /// The endpoint named `name`, such as `index` or `auth.login`.
    pub(crate) fn endpoint_by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The first endpoint registered for the handler whose generated type is `item`.
    pub(crate) fn endpoint_by_item(&self, item: TypeId) -> Option<usize> {
        self.by_item.get(&item).copied()
    }

    /// Serves the folder `dir`, if any, with `view` under the endpoint `static`.
    pub(crate) fn add_static(
        &mut self,
        dir: Option<PathBuf>,
        view: View,
        scope: usize,
        blueprint: Option<(&str, &str)>,
        problems: &mut Vec<String>,
    ) {
        let Some(dir) = dir else { return };
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

    pub(crate) fn add_entries(
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
                    hooks.by_code.insert(code, NamedHandler { name: entry.name, handler });
                }
                EntryKind::ErrorType { matches, handler } => {
                    hooks.by_type.push((matches, NamedHandler { name: entry.name, handler }))
                }
                EntryKind::Template(register) => templates.push(register),
                EntryKind::Route { rules, view, options } => {
                    self.add_route(entry.name, rules, view, options, entry.item, scope, blueprint, problems);
                }
                EntryKind::BeforeServing(_) | EntryKind::AfterServing(_) if blueprint.is_some() => {
                    problems.push(serving_on_blueprint(entry.name, blueprint.map_or("", |(bp, _)| bp)));
                }
                EntryKind::BeforeServing(h) => self.serving.before.push((entry.name, h)),
                EntryKind::AfterServing(h) => self.serving.after.push((entry.name, h)),
                EntryKind::Command { spec, .. } if blueprint.is_some() => problems.push(format!(
                    "`{}` is a `#[command]` registered on the blueprint `{}`: the command line is the app's, \
                     so register it on the app: `App::new().register(handlers![{}])`",
                    spec.function,
                    blueprint.map_or("", |(bp, _)| bp),
                    spec.function
                )),
                EntryKind::Command { spec, call } => {
                    if let Some((twin, _)) = self.commands.iter().find(|(c, _)| c.name == spec.name) {
                        problems.push(format!(
                            "two commands are named `{}`: `{}` and `{}`; name one otherwise with `#[command(\"other-name\")]`",
                            spec.name, twin.function, spec.function
                        ));
                    } else {
                        self.commands.push((spec, call));
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_route(
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
            match erlen_pattern::method(m).map(|known| Method::from_bytes(known.as_bytes())) {
                Some(Ok(m)) => parsed.push(m),
                _ => problems.push(format!(
                    "route \"{full}\" of `{name}`: `{m}` is not an HTTP method; expected one of {}",
                    erlen_pattern::METHODS.join(", ")
                )),
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
