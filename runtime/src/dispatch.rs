//! The request lifecycle, written once: both backends and the test client call
//! [`dispatch`]. It is Flask's `full_dispatch_request` and `wsgi_app`, step by step:
//!
//! 1. routing (404, 405 with `Allow`, 308 to the slashed path, automatic HEAD/OPTIONS);
//! 2. `before_request` hooks: the app's, then the matched blueprint's, in registration
//!    order; the first that returns a response skips the view. They run for 404 and 405
//!    too, and the routing error is raised after them;
//! 3. the view;
//! 4. an error from 2 or 3 goes to a handler for its type (blueprint, then app), else for
//!    its status (blueprint, then app), else the default page. An error inside an error
//!    handler is a plain 500;
//! 5. `after_request` hooks on every response: the blueprint's, then the app's, each in
//!    reverse registration order;
//! 6. `teardown_request` hooks, always, in that order, with the error no handler took.

use std::sync::Arc;

use http::header::{ALLOW, CONTENT_LENGTH, COOKIE};
use http::{HeaderValue, Method, StatusCode};

use bytes::Bytes;

use crate::admit::Admitted;
use crate::app::{AppCore, Endpoint, NamedHandler, Scope};
use crate::body::Body;
use crate::context::{AppHandle, RequestContext};
use crate::debug_page::DebugMode;
use crate::error::{HttpError, abort};
use crate::exec::{Abandon, Mode, call_async};
use crate::extract::BodyUse;
use crate::handler::{Callable, Teardown};
use crate::request::Request;
use crate::response::{IntoResponse, Redirect, Response};
use crate::routing::Match;

/// Serves one admitted request through the whole lifecycle, with `handle` as the app
/// its request context knows. Never fails: every error, panic and failing handler ends
/// as a response. Routing is settled here, before the future is built; the future is the
/// lifecycle's steps 2 to 6.
pub(crate) fn dispatch<'a>(
    app: &'a AppCore,
    handle: &Arc<dyn AppHandle>,
    admitted: Admitted,
    mode: &'a Mode,
    gone: &'a (dyn Fn() -> bool + Sync),
) -> impl Future<Output = Response> + 'a {
    let Admitted { request: mut req, routed, .. } = admitted;
    req.state = app.state.clone();
    let (routed, endpoint) = route(app, &mut req, routed);
    let blueprint = endpoint.map(|e| app.endpoints[e].scope).filter(|&s| s != 0).map(|s| &app.scopes[s]);
    let ctx = Arc::new(RequestContext::new(
        handle.clone(),
        endpoint,
        req.method.clone(),
        req.uri.clone(),
        req.scheme,
        req.host_value().cloned(),
        req.headers.get_all(COOKIE).iter().cloned().collect(),
        if !req.body.is_empty() && req.media_type_is("application/x-www-form-urlencoded") {
            req.body.clone()
        } else {
            Bytes::new()
        },
    ));
    let lifecycle = Lifecycle { mode, gone, ctx, scopes: Scopes { app: &app.scopes[0], blueprint } };
    lifecycle.run(req, routed)
}

/// Step 1, routing, from what admission found: the view to run, or the answer (an error,
/// a redirect, OPTIONS) that waits for the before hooks, as Flask raises routing errors
/// after them; and the endpoint.
fn route<'a>(app: &'a AppCore, req: &mut Request, found: Match) -> (Routed<'a>, Option<usize>) {
    match found {
        Match::Found { endpoint: index, params, options } => {
            let endpoint = &app.endpoints[index];
            req.params = params;
            req.endpoint = Some(endpoint.name.clone());
            let routed = match options {
                Some(allow) => Routed::Answer(Box::new(Ok(options_response(&allow)))),
                None => Routed::View(endpoint),
            };
            (routed, Some(index))
        }
        Match::MethodNotAllowed { allow } => {
            (Routed::Answer(Box::new(Err(abort(405).with_header(ALLOW, header_value(&allow))))), None)
        }
        Match::Redirect { location } => {
            (Routed::Answer(Box::new(Ok(Redirect::permanent(location).into_response()))), None)
        }
        Match::NotFound => (Routed::Answer(Box::new(Err(abort(404)))), None),
    }
}

/// Calls a view, hook or error handler with the request in `$slot` and `args`, inside the
/// request context `$ctx`: a sync one through the mode (the request travels with it and
/// is put back in the slot; should the lifecycle be dropped meanwhile, `$abandon` has it
/// when the call returns), an async one awaited in place, with the request borrowed from
/// the slot. Evaluates to the user function's result.
macro_rules! invoke {
    ($mode:expr, $ctx:expr, $abandon:expr, $slot:expr, $callable:expr $(, $arg:expr)*) => {
        match $callable {
            Callable::Sync(f) => {
                let f = *f;
                let req = taken($slot);
                // Bound before it is awaited: as a temporary, the closure (and the
                // arguments it holds) would also keep a place in the caller's future.
                let call = $mode.call_sync(req, $ctx.clone(), move |req| f(req $(, $arg)*), $abandon);
                let (req, out) = call.await;
                *$slot = Some(req);
                out
            }
            Callable::Async(f) => {
                let call = call_async($ctx.clone(), f(held($slot) $(, $arg)*));
                call.await
            }
        }
    };
}

/// The request in its slot: it is there between calls (a sync call takes it and puts it
/// back), which is all the lifecycle ever asks.
fn held(slot: &mut Option<Req>) -> &mut Request {
    match slot {
        Some(req) => req,
        None => unreachable!("the request is back in its slot after every call"),
    }
}

/// The request out of its slot, for a sync call.
fn taken(slot: &mut Option<Req>) -> Req {
    match slot.take() {
        Some(req) => req,
        None => unreachable!("the request is back in its slot after every call"),
    }
}

struct Lifecycle<'a> {
    mode: &'a Mode,
    /// Whether the request was abandoned (its client left, its time ran out) while the
    /// lifecycle went on: the threaded backend's sync views run to their end regardless.
    gone: &'a (dyn Fn() -> bool + Sync),
    /// The request context every user function runs in.
    ctx: Arc<RequestContext>,
    /// The scopes that apply, app first: `[app]` or `[app, blueprint]`.
    scopes: Scopes<'a>,
}

/// The app's scope and, for a blueprint's route, the blueprint's: no allocation.
struct Scopes<'a> {
    app: &'a Scope,
    blueprint: Option<&'a Scope>,
}

impl<'a> Scopes<'a> {
    /// Whether any scope that applies satisfies `f`.
    fn any(&self, f: impl Fn(&Scope) -> bool) -> bool {
        self.iter().any(f)
    }

    /// App first, then the blueprint (the order of before hooks).
    fn iter(&self) -> impl DoubleEndedIterator<Item = &'a Scope> + use<'a> {
        std::iter::once(self.app).chain(self.blueprint)
    }
}

/// A view's or hook's result before error handling.
type Outcome = Result<Response, HttpError>;

/// What routing decided: run this view, or answer without one (boxed: the answer is
/// the rare case, and it would take room in every request's future).
enum Routed<'a> {
    View(&'a Endpoint),
    Answer(Box<Outcome>),
}

/// The request as the lifecycle passes it from step to step (and to the sync pool and
/// back): boxed, so that moving it, and the futures that hold it, costs a pointer.
pub(crate) type Req = Box<Request>;

/// A response after error handling, with the error the teardown hooks get: the
/// exception that no type handler took, if any.
struct Handled {
    resp: Response,
    unhandled: Option<Arc<HttpError>>,
}

/// The error handler that takes an error, as Flask's `_find_error_handler`.
#[derive(Clone, Copy)]
enum ErrorHandling<'a> {
    /// A handler for the error's type: the blueprint's first, then the app's.
    ByType(&'a NamedHandler),
    /// A handler for its status: the blueprint's first, then the app's.
    ByCode(&'a NamedHandler),
    /// None: the default page.
    Default,
}

impl<'a> Scopes<'a> {
    /// Finds the handler for `error`: by type, else by status code, innermost scope first.
    fn find_error_handler(&self, error: &HttpError) -> ErrorHandling<'a> {
        let by_type = self.iter().rev().flat_map(|s| s.by_type.iter()).find(|(matches, _)| matches(error));
        if let Some((_, handler)) = by_type {
            return ErrorHandling::ByType(handler);
        }
        let code = error.status().as_u16();
        match self.iter().rev().find_map(|s| s.by_code.get(&code)) {
            Some(handler) => ErrorHandling::ByCode(handler),
            None => ErrorHandling::Default,
        }
    }
}

impl<'a> Lifecycle<'a> {
    /// Steps 2 to 6 for a routed request; never fails. A response to HEAD keeps its
    /// length and loses its body.
    ///
    /// The request stays in a [`Held`] slot for the whole lifecycle, so that if the
    /// lifecycle is dropped before its end (its client left, its route's time ran out),
    /// the teardown hooks still get it.
    async fn run(self, req: Req, routed: Routed<'_>) -> Response {
        let head = req.method == Method::HEAD;
        let mut kept = Held { life: &self, req: Some(req), done: false };
        let slot = &mut kept.req;
        // This future is moved into place with every request, so it is kept to the size
        // of the view's step: the other steps, skipped when there is nothing for them to
        // do, are boxed when they run (an allocation next to calling a hook or handling
        // an error).
        // 2. before_request; unless one answered, 3. the routing answer or the view.
        // A hook's answer takes the view's place (boxed, as the routing answers are: its
        // room would be taken from every request's future).
        // A server-side session is read from its store first, once; a store that does not
        // answer fails the request as a failing before hook would.
        let unread = match crate::session::preload(&self.ctx) {
            Some(load) => load.await.err(),
            None => None,
        };
        let routed = if let Some(e) = unread {
            Routed::Answer(Box::new(Err(e.into())))
        } else if self.scopes.any(|s| !s.before.is_empty()) {
            let before = Box::pin(self.before(slot));
            let answered = before.await;
            answered.map_or(routed, |answer| Routed::Answer(Box::new(answer)))
        } else {
            routed
        };
        let mut outcome = match routed {
            Routed::View(endpoint) => self.view(slot, endpoint).await,
            Routed::Answer(answer) => *answer,
        };
        // A file answers a conditional or range request here, before the after hooks.
        if let Ok(resp) = &mut outcome {
            crate::files::make_conditional(held(slot), resp);
        }
        // 4 to 6, unless there is no error and no hook to run. The response is saved
        // into where it is: moved into a local, it would take a second place in this
        // future.
        let hooks = self.scopes.any(|s| !s.after.is_empty() || !s.teardown.is_empty());
        let resp = if !hooks && outcome.is_ok() {
            if let Ok(resp) = &mut outcome {
                self.save_session(resp).await;
            }
            outcome.unwrap_or_default()
        } else {
            let finish = Box::pin(self.finish(slot, outcome));
            finish.await
        };
        kept.done = true;
        if head { without_body(resp) } else { resp }
    }

    /// Steps 4 to 6: error handling, the after hooks, the session, the teardown hooks.
    ///
    /// The outcome is taken apart before the future is made (a plain fn, not an `async
    /// fn`), so that the response has one place in the future, not two.
    fn finish<'s>(
        &'s self,
        slot: &'s mut Option<Req>,
        outcome: Outcome,
    ) -> impl Future<Output = Response> + 's {
        // The response stays in `handled` from here on: the later steps change it in
        // place rather than pass it around.
        let (mut handled, error) = match outcome {
            Ok(resp) => (Handled { resp, unhandled: None }, None),
            Err(error) => (Handled { resp: Response::default(), unhandled: None }, Some(error)),
        };
        async move {
            // 4. Error handling.
            if let Some(error) = error {
                handled = self.handle_error(slot, error).await;
            }
            // 5. after_request, then the session is saved, as Flask's process_response.
            if self.scopes.any(|s| !s.after.is_empty()) {
                self.after(slot, &mut handled).await;
            }
            self.save_session(&mut handled.resp).await;
            // 6. teardown_request; for a request abandoned meanwhile, with the error that
            // says so.
            if self.scopes.any(|s| !s.teardown.is_empty()) {
                let unhandled =
                    handled.unhandled.take().or_else(|| (self.gone)().then(|| Arc::new(abandoned())));
                teardown(self.mode, &self.ctx, slot, self.teardown_hooks(), unhandled).await;
            }
            handled.resp
        }
    }

    /// The teardown hooks, in the order they run: the blueprint's, then the app's, each
    /// in reverse registration order.
    fn teardown_hooks(&self) -> impl Iterator<Item = &'a Teardown> + use<'a> {
        self.scopes.iter().rev().flat_map(|scope| scope.teardown.iter().rev())
    }

    /// Saves the session into the response, if the request used it; a server-side store
    /// that does not take it makes the answer a 503 (what the request changed is not
    /// kept, so it must not look as if it were).
    async fn save_session(&self, resp: &mut Response) {
        if let Some(write) = crate::session::save(&self.ctx, resp) {
            if let Err(e) = write.await {
                *resp = HttpError::from(e).default_response();
            }
        }
    }

    /// Step 2: the before hooks, the app's then the blueprint's; `Some` is the first
    /// hook's response, or its error.
    async fn before(&self, slot: &mut Option<Req>) -> Option<Outcome> {
        for scope in self.scopes.iter() {
            for hook in &scope.before {
                match invoke!(self.mode, self.ctx, self.abandoner(), slot, hook) {
                    Ok(None) => {}
                    Ok(Some(resp)) => return Some(Ok(resp)),
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        None
    }

    /// Step 3: the view; a streamed body the view takes prepared (a multipart form) is
    /// prepared first, now that the before hooks have accepted the request.
    async fn view(&self, slot: &mut Option<Req>, endpoint: &Endpoint) -> Outcome {
        if let BodyUse::Prepared(prepare) = endpoint.options.body {
            // Boxed by the step: a parser's state would make every view's step as large.
            (prepare.0)(held(slot), &self.ctx).await;
        }
        invoke!(self.mode, self.ctx, self.abandoner(), slot, &endpoint.view)
    }

    /// Step 4: renders an error with the handler that takes it, or the default page.
    async fn handle_error(&self, slot: &mut Option<Req>, error: HttpError) -> Handled {
        let error = Arc::new(error);
        // Teardown hooks get an exception unless a handler for its type took it.
        let unhandled = error.is_exception().then(|| error.clone());
        let (handler, unhandled) = match self.scopes.find_error_handler(&error) {
            ErrorHandling::ByType(handler) => (handler, None),
            ErrorHandling::ByCode(handler) => (handler, unhandled),
            ErrorHandling::Default => {
                if !error.is_exception() {
                    return Handled { resp: error.default_response(), unhandled };
                }
                let endpoint = self.ctx.endpoint_name();
                let path = held(slot).path();
                tracing::error!(error = %error, endpoint = endpoint.unwrap_or("-"), path, "unhandled error in a request");
                // In debug mode, the page that shows the error takes the plain 500's place.
                let resp = match self.ctx.feature::<DebugMode>() {
                    Some(debug) => crate::debug_page::page(debug, &error, held(slot), endpoint),
                    None => error.default_response(),
                };
                return Handled { resp, unhandled };
            }
        };
        let handling = error.status().as_u16();
        match invoke!(self.mode, self.ctx, self.abandoner(), slot, &handler.handler, &error) {
            Ok(resp) => Handled { resp, unhandled },
            Err(failure) => {
                tracing::error!(
                    error = %failure,
                    handler = handler.name,
                    handling,
                    path = held(slot).path(),
                    "an error handler failed; answering with a plain 500"
                );
                let resp = HttpError::new(StatusCode::INTERNAL_SERVER_ERROR).default_response();
                Handled { resp, unhandled: unhandled.or(Some(Arc::new(failure))) }
            }
        }
    }

    /// Step 5: the after hooks, the blueprint's then the app's, each in reverse order. A
    /// failing hook's error is handled and the remaining hooks are skipped.
    async fn after(&self, slot: &mut Option<Req>, handled: &mut Handled) {
        for scope in self.scopes.iter().rev() {
            for hook in scope.after.iter().rev() {
                let resp = std::mem::take(&mut handled.resp);
                match invoke!(self.mode, self.ctx, self.abandoner(), slot, hook, resp) {
                    Ok(resp) => handled.resp = resp,
                    Err(e) => {
                        tracing::error!(error = %e, "an after_request hook failed; the remaining ones are skipped");
                        let handling = Box::pin(self.handle_error(slot, e));
                        let on_error = handling.await;
                        handled.resp = on_error.resp;
                        handled.unhandled = handled.unhandled.take().or(on_error.unhandled);
                        return;
                    }
                }
            }
        }
    }

    /// What a sync call hands its request to if this lifecycle is dropped while it runs:
    /// only when there are teardown hooks to run.
    fn abandoner(&self) -> Option<&dyn Abandon> {
        if self.scopes.any(|s| !s.teardown.is_empty()) { Some(self) } else { None }
    }

    /// Runs the teardown hooks of a request whose lifecycle was dropped before its end.
    /// A request that a sync call holds is handed on by the call when it returns.
    fn abandon(&self, req: Option<Req>) {
        if let (Some(req), Some(abandon)) = (req, self.abandoner()) {
            abandon.then()(req);
        }
    }
}

impl Abandon for Lifecycle<'_> {
    /// The teardown hooks of the request, on the shared runtime, with the error that says
    /// it was abandoned.
    fn then(&self) -> Box<dyn FnOnce(Req) + Send> {
        let hooks: Vec<Teardown> = self.teardown_hooks().copied().collect();
        let ctx = self.ctx.clone();
        Box::new(move |req| {
            crate::bridge::handle().spawn(teardown_abandoned(hooks, ctx, req));
        })
    }
}

/// The request for the whole lifecycle, and what happens to it if the lifecycle is
/// dropped before its end.
struct Held<'l, 'a> {
    life: &'l Lifecycle<'a>,
    req: Option<Req>,
    /// Set once the lifecycle has run its teardown step (or had none to run).
    done: bool,
}

impl Drop for Held<'_, '_> {
    fn drop(&mut self) {
        if !self.done {
            self.life.abandon(self.req.take());
        }
    }
}

/// The error the teardown hooks of an abandoned request get.
fn abandoned() -> HttpError {
    HttpError::new(StatusCode::SERVICE_UNAVAILABLE).with_message(
        "the request was abandoned before its response was sent: its client left, or its route's timeout passed",
    )
}

/// Step 6: the teardown hooks, always, in the order of the after hooks; their own errors
/// are logged and ignored.
async fn teardown<'h>(
    mode: &Mode,
    ctx: &Arc<RequestContext>,
    slot: &mut Option<Req>,
    hooks: impl Iterator<Item = &'h Teardown>,
    unhandled: Option<Arc<HttpError>>,
) {
    for hook in hooks {
        let err = unhandled.clone();
        if let Err(e) = invoke!(mode, ctx, None, slot, hook, err.as_deref()) {
            tracing::error!(error = %e, "a teardown_request hook failed");
        }
    }
}

/// The teardown hooks of an abandoned request, off the lifecycle that was dropped: sync
/// hooks on the sync pool (never on the runtime's threads), async ones in this task.
async fn teardown_abandoned(hooks: Vec<Teardown>, ctx: Arc<RequestContext>, req: Req) {
    let mode = Mode::Offload { limit: None };
    tracing::debug!(path = req.path(), "a request was abandoned; running its teardown hooks");
    let mut slot = Some(req);
    teardown(&mode, &ctx, &mut slot, hooks.iter(), Some(Arc::new(abandoned()))).await;
}

/// The answer to HEAD: the response without its body, with the length it would have had
/// when that is known.
fn without_body(mut resp: Response) -> Response {
    if let Some(len) = resp.body().as_bytes().map(|b| b.len()) {
        resp.headers_mut().entry(CONTENT_LENGTH).or_insert_with(|| HeaderValue::from(len));
    }
    *resp.body_mut() = Body::empty();
    resp
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn options_response(allow: &str) -> Response {
    let mut resp = ().into_response();
    resp.headers_mut().insert(ALLOW, header_value(allow));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &'static str) -> Result<Response, HttpError> {
        Ok(name.into_response())
    }
    fn app_code(_: &mut Request, _: &HttpError) -> Result<Response, HttpError> {
        named("app code")
    }
    fn bp_code(_: &mut Request, _: &HttpError) -> Result<Response, HttpError> {
        named("blueprint code")
    }
    fn app_type(_: &mut Request, _: &HttpError) -> Result<Response, HttpError> {
        named("app type")
    }

    /// Which handler `find_error_handler` chose, by calling it.
    fn chosen(scopes: &Scopes<'_>, error: &HttpError) -> String {
        let (parts, ()) = http::Request::new(()).into_parts();
        let mut req = Request::from_parts(parts, bytes::Bytes::new()).unwrap();
        let handler = match scopes.find_error_handler(error) {
            ErrorHandling::ByType(h) | ErrorHandling::ByCode(h) => &h.handler,
            ErrorHandling::Default => return "default".into(),
        };
        let Callable::Sync(f) = handler else { unreachable!("the test registers sync handlers") };
        let resp = f(&mut req, error).unwrap();
        String::from_utf8_lossy(resp.body().as_bytes().unwrap()).into_owned()
    }

    #[test]
    fn error_handlers_are_found_by_type_then_code_innermost_first() {
        let mut app = Scope::default();
        let named = |name, f| NamedHandler { name, handler: Callable::Sync(f) };
        app.by_code.insert(404, named("app_code", app_code));
        app.by_code.insert(500, named("app_code", app_code));
        app.by_type.push((|e| e.downcast_ref::<std::io::Error>().is_some(), named("app_type", app_type)));
        let mut blueprint = Scope::default();
        blueprint.by_code.insert(404, named("bp_code", bp_code));

        let outside = Scopes { app: &app, blueprint: None };
        let inside = Scopes { app: &app, blueprint: Some(&blueprint) };
        let io = || HttpError::from(std::io::Error::other("disk"));
        assert_eq!(chosen(&outside, &abort(404)), "app code");
        assert_eq!(chosen(&inside, &abort(404)), "blueprint code");
        assert_eq!(chosen(&inside, &abort(500)), "app code");
        assert_eq!(chosen(&inside, &io()), "app type", "a type handler comes before any code handler");
        assert_eq!(chosen(&inside, &abort(403)), "default");
    }
}
