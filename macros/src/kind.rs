//! What an attribute says, once its arguments are parsed and checked (`args`): the typed
//! values that checking the function (`model`) and code generation (`expand`) read.

use erlen_pattern::Pattern;
use proc_macro2::Span;
use syn::{LitStr, Type};

/// What the function is registered as.
pub(crate) enum Kind {
    /// `#[route]` and the method shortcuts: the rules of every stacked attribute, the
    /// outermost first.
    Route(Vec<Rule>),
    Before,
    After,
    Teardown,
    Error(ErrorTarget),
    /// `#[before_serving]`: once, before the server accepts connections.
    BeforeServing,
    /// `#[after_serving]`: once, after the last request has drained.
    AfterServing,
    /// `#[websocket]`: a GET route whose view upgrades the connection and hands the
    /// socket to the function.
    WebSocket(Rule),
    /// `#[template_filter]`, under the name given or the function's.
    Filter(Option<LitStr>),
    /// `#[template_global]`, under the name given or the function's.
    Global(Option<LitStr>),
    /// `#[command]`, under the name given or the function's.
    Command(Option<LitStr>),
}

impl Kind {
    /// A function that runs around a view (or outside any request), not as one.
    pub(crate) fn is_hook(&self) -> bool {
        !matches!(
            self,
            Kind::Route(_) | Kind::WebSocket(_) | Kind::Filter(_) | Kind::Global(_) | Kind::Command(_)
        )
    }

    /// A function called while a template renders, with the template's values.
    pub(crate) fn is_template(&self) -> bool {
        matches!(self, Kind::Filter(_) | Kind::Global(_))
    }

    /// The URL rules of a route or a WebSocket; none for the others.
    pub(crate) fn rules(&self) -> &[Rule] {
        match self {
            Kind::Route(rules) => rules,
            Kind::WebSocket(rule) => std::slice::from_ref(rule),
            _ => &[],
        }
    }

    /// A hook that runs outside any request and so takes application state only.
    pub(crate) fn is_serving(&self) -> bool {
        matches!(self, Kind::BeforeServing | Kind::AfterServing)
    }
}

/// One `#[route(...)]` / `#[get(...)]` attribute: a pattern and its methods, and the
/// route's limits when this attribute sets them.
pub(crate) struct Rule {
    pub pattern: Pattern,
    pub lit: LitStr,
    pub methods: Vec<&'static str>,
    /// `body_limit = "100 MiB"`, in bytes.
    pub body_limit: Option<Setting>,
    /// `timeout = "30 s"`, in milliseconds.
    pub timeout: Option<Setting>,
    /// `rate_limit = "5/minute"`.
    pub rate_limit: Option<Rate>,
    /// `csrf = false`: the route is exempt from the app's CSRF protection.
    pub csrf: Option<syn::LitBool>,
}

/// A checked `rate_limit = "5/minute"`: so many requests per period, per client.
pub(crate) struct Rate {
    pub count: u64,
    /// The period, in seconds.
    pub per: u64,
    pub span: Span,
}

/// A checked `key = "value"` of a route attribute: its value, and its literal for errors.
pub(crate) struct Setting {
    pub value: u64,
    pub span: Span,
}

/// What `#[errorhandler(...)]` handles: a status code or an error type.
pub(crate) enum ErrorTarget {
    Code(u16),
    Type(Box<Type>),
}

/// The route's `rate_limit`, from whichever of its attributes sets it.
pub(crate) fn rate_limit(rules: &[Rule]) -> Option<(u64, u64)> {
    rules.iter().find_map(|r| r.rate_limit.as_ref()).map(|r| (r.count, r.per))
}

/// Whether one of the route's attributes says `csrf = false`.
pub(crate) fn csrf_exempt(rules: &[Rule]) -> bool {
    rules.iter().any(|r| r.csrf.as_ref().is_some_and(|b| !b.value))
}

/// The route's `body_limit` and `timeout`, from whichever of its attributes sets them.
pub(crate) fn limits(rules: &[Rule]) -> (Option<u64>, Option<u64>) {
    let body_limit = rules.iter().find_map(|r| r.body_limit.as_ref()).map(|s| s.value);
    let timeout = rules.iter().find_map(|r| r.timeout.as_ref()).map(|s| s.value);
    (body_limit, timeout)
}

/// A command's name on the command line: the one given, else the function's with `-` for
/// `_` (`init_db` is `init-db`).
pub(crate) fn command_name(given: Option<&LitStr>, function: &syn::Ident) -> String {
    match given {
        Some(lit) => lit.value(),
        None => function.to_string().trim_matches('_').replace('_', "-"),
    }
}
