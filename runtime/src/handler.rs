//! What the macros register: views, hooks and error handlers, each either sync or async as
//! the macro saw at compile time, and the [`Handlers`] list that `handlers![...]` builds.

use std::any::TypeId;
use std::time::Duration;

use crate::apidoc::Describe;
use crate::body::BoxFuture;
use crate::command::{CommandResult, CommandSpec, Invocation};
use crate::error::HttpError;
use crate::extract::BodyUse;
use crate::request::Request;
use crate::response::Response;

/// A function as the macro found it: a plain `fn` or an `async fn`. The lifecycle runs a
/// `Sync` one off the async runtime's threads (or directly on a worker thread) and awaits
/// an `Async` one; nothing is decided at run time.
#[derive(Clone, Copy, Debug)]
pub enum Callable<S, A> {
    /// A plain `fn`.
    Sync(S),
    /// An `async fn`.
    Async(A),
}

/// A view: the request in, a response or an error out.
pub type View = Callable<
    fn(&mut Request) -> Result<Response, HttpError>,
    for<'r> fn(&'r mut Request) -> BoxFuture<'r, Result<Response, HttpError>>,
>;
/// A `before_request` hook: `Some(response)` ends the request before the view.
pub type Before = Callable<
    fn(&mut Request) -> Result<Option<Response>, HttpError>,
    for<'r> fn(&'r mut Request) -> BoxFuture<'r, Result<Option<Response>, HttpError>>,
>;
/// An `after_request` hook: takes the response and returns it.
pub type After = Callable<
    fn(&mut Request, Response) -> Result<Response, HttpError>,
    for<'r> fn(&'r mut Request, Response) -> BoxFuture<'r, Result<Response, HttpError>>,
>;
/// A `teardown_request` hook: gets the error no handler took, if any.
pub type Teardown = Callable<
    fn(&mut Request, Option<&HttpError>) -> Result<(), HttpError>,
    for<'r> fn(&'r mut Request, Option<&'r HttpError>) -> BoxFuture<'r, Result<(), HttpError>>,
>;
/// An error handler: renders an error into a response.
pub type ErrorHandler = Callable<
    fn(&mut Request, &HttpError) -> Result<Response, HttpError>,
    for<'r> fn(&'r mut Request, &'r HttpError) -> BoxFuture<'r, Result<Response, HttpError>>,
>;

/// A `before_serving` or `after_serving` hook: runs once, with a request that carries
/// only the app state, so that its `State<T>` arguments can be extracted.
pub type Serving = Callable<
    fn(&mut Request) -> Result<(), HttpError>,
    for<'r> fn(&'r mut Request) -> BoxFuture<'r, Result<(), HttpError>>,
>;

/// A `#[command]`: called with the parsed command line and the app's state.
pub type Command = Callable<
    fn(&mut Invocation) -> CommandResult,
    for<'r> fn(&'r mut Invocation) -> BoxFuture<'r, CommandResult>,
>;

/// Adds a template filter or global to the app's template environment.
pub(crate) type TemplateRegistration = fn(&mut minijinja::Environment<'static>);

/// One registration made by an annotated function.
#[derive(Debug)]
pub struct Entry {
    pub(crate) name: &'static str,
    pub(crate) kind: EntryKind,
    /// The type `handlers![f]` built for `f`: `url_for!(f)` finds the endpoint by it.
    pub(crate) item: Option<TypeId>,
}

/// A route's `rate_limit`: `count` requests per `per` (and client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub(crate) count: u32,
    pub(crate) per: Duration,
}

/// What a route's attribute says beyond its rules (`body_limit`, `timeout`, `rate_limit`,
/// `csrf`), what its view does with the body, and what it says about itself.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RouteOptions {
    /// Bytes; replaces the server's body limit for this route.
    pub(crate) body_limit: Option<u64>,
    /// Replaces the server's request timeout for this route.
    pub(crate) timeout: Option<Duration>,
    /// So many requests per period per client (`rate_limit = "5/minute"`).
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) body: BodyUse,
    /// `csrf = false`: the app's CSRF protection does not check this route.
    pub(crate) csrf_exempt: bool,
    /// What the view says about itself, for an OpenAPI document.
    pub(crate) doc: Option<Describe>,
}

#[derive(Debug)]
pub(crate) enum EntryKind {
    Route { rules: &'static [(&'static str, &'static [&'static str])], view: View, options: RouteOptions },
    Before(Before),
    After(After),
    Teardown(Teardown),
    ErrorCode { code: u16, handler: ErrorHandler },
    ErrorType { matches: fn(&HttpError) -> bool, handler: ErrorHandler },
    Template(TemplateRegistration),
    BeforeServing(Serving),
    AfterServing(Serving),
    Command { spec: CommandSpec, call: Command },
}

impl Entry {
    /// A route: `rules` are the (pattern, methods) pairs of every stacked route attribute.
    pub fn route(
        name: &'static str,
        rules: &'static [(&'static str, &'static [&'static str])],
        view: View,
    ) -> Entry {
        Entry { name, kind: EntryKind::Route { rules, view, options: RouteOptions::default() }, item: None }
    }

    /// A route's `body_limit` (bytes) and `timeout` (milliseconds) from its attribute, and
    /// what its view does with the body.
    pub fn options(mut self, body_limit: Option<u64>, timeout_ms: Option<u64>, body: BodyUse) -> Entry {
        if let EntryKind::Route { options, .. } = &mut self.kind {
            options.body_limit = body_limit;
            options.timeout = timeout_ms.map(Duration::from_millis);
            options.body = body;
        }
        self
    }

    /// What the view says about itself (its doc comment, what it takes and returns), for
    /// an OpenAPI document.
    pub fn doc(mut self, describe: Describe) -> Entry {
        if let EntryKind::Route { options, .. } = &mut self.kind {
            options.doc = Some(describe);
        }
        self
    }

    /// Exempts the route from the app's CSRF protection (`csrf = false` in its attribute).
    pub fn csrf_exempt(mut self) -> Entry {
        if let EntryKind::Route { options, .. } = &mut self.kind {
            options.csrf_exempt = true;
        }
        self
    }

    /// A route's `rate_limit` from its attribute: `count` requests per `per_secs` seconds,
    /// per client.
    pub fn rate_limit(mut self, count: u32, per_secs: u64) -> Entry {
        if let EntryKind::Route { options, .. } = &mut self.kind {
            options.rate_limit = Some(RateLimit { count, per: Duration::from_secs(per_secs) });
        }
        self
    }

    /// Ties the registration to the type generated for the handler (for `url_for!`).
    pub fn of<T: 'static>(mut self) -> Entry {
        self.item = Some(TypeId::of::<T>());
        self
    }

    /// A `#[template_filter]` or `#[template_global]`.
    pub fn template(name: &'static str, register: TemplateRegistration) -> Entry {
        Entry { name, kind: EntryKind::Template(register), item: None }
    }

    /// A `before_request` hook.
    pub fn before_request(name: &'static str, hook: Before) -> Entry {
        Entry { name, kind: EntryKind::Before(hook), item: None }
    }

    /// An `after_request` hook.
    pub fn after_request(name: &'static str, hook: After) -> Entry {
        Entry { name, kind: EntryKind::After(hook), item: None }
    }

    /// A `teardown_request` hook.
    pub fn teardown_request(name: &'static str, hook: Teardown) -> Entry {
        Entry { name, kind: EntryKind::Teardown(hook), item: None }
    }

    /// A `before_serving` hook.
    pub fn before_serving(name: &'static str, hook: Serving) -> Entry {
        Entry { name, kind: EntryKind::BeforeServing(hook), item: None }
    }

    /// An `after_serving` hook.
    pub fn after_serving(name: &'static str, hook: Serving) -> Entry {
        Entry { name, kind: EntryKind::AfterServing(hook), item: None }
    }

    /// A `#[command]`.
    pub fn command(spec: CommandSpec, call: Command) -> Entry {
        Entry { name: spec.function, kind: EntryKind::Command { spec, call }, item: None }
    }

    /// An error handler for a status code.
    pub fn error_code(name: &'static str, code: u16, handler: ErrorHandler) -> Entry {
        Entry { name, kind: EntryKind::ErrorCode { code, handler }, item: None }
    }

    /// An error handler for an error type.
    pub fn error_type<E: std::error::Error + 'static>(name: &'static str, handler: ErrorHandler) -> Entry {
        Entry {
            name,
            kind: EntryKind::ErrorType { matches: |e| e.downcast_ref::<E>().is_some(), handler },
            item: None,
        }
    }
}

/// Implemented by the hidden struct each attribute macro generates next to the user's
/// function, so that `handlers![f]` can collect what `f` registers.
#[diagnostic::on_unimplemented(
    message = "`{Self}` was not made a handler by an erlen attribute",
    note = "mark the function with `#[route(...)]`, `#[get(...)]`, `#[post(...)]`, `#[put(...)]`, `#[patch(...)]`, `#[delete(...)]`, `#[websocket(...)]`, `#[before_request]`, `#[after_request]`, `#[teardown_request]`, `#[errorhandler(...)]`, `#[before_serving]`, `#[after_serving]`, `#[template_filter]`, `#[template_global]` or `#[command]`"
)]
pub trait Item {
    /// The registrations of the annotated function.
    fn entries(self) -> Vec<Entry>;
}

/// The views, hooks and error handlers that `handlers![a, b, path::c]` collects, for
/// [`App::register`](crate::App::register) and
/// [`Blueprint::register`](crate::Blueprint::register).
pub struct Handlers(pub(crate) Vec<Entry>);

impl Handlers {
    #[doc(hidden)]
    pub fn from_entries(lists: Vec<Vec<Entry>>) -> Handlers {
        Handlers(lists.into_iter().flatten().collect())
    }
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|e| e.name)).finish()
    }
}

#[cfg(test)]
mod tests {
    /// The note on `Item` names every attribute of the macros' table. It must be a string
    /// literal in the attribute, so it is read from this file.
    #[test]
    fn item_note_names_every_attribute() {
        let source = include_str!("handler.rs");
        let note = source
            .split("#[diagnostic::on_unimplemented(")
            .find(|attr| attr.contains("pub trait Item"))
            .and_then(|attr| attr.split("note = \"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .expect("the `on_unimplemented` note on `Item`");
        let names: &[&str] = erlen_macros::__attribute_names!();
        assert!(!names.is_empty());
        for name in names {
            let named =
                [format!("`#[{name}]`"), format!("`#[{name}(")].iter().any(|n| note.contains(n.as_str()));
            assert!(named, "the note on `Item` does not name `#[{name}]`: {note}");
        }
    }
}
