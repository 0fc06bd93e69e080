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

use std::sync::{Arc, OnceLock};

use http::header::{ALLOW, CONTENT_LENGTH, COOKIE};
use http::{HeaderValue, Method, StatusCode};

use crate::app::{AppCore, Scope};
use crate::body::Body;
use crate::context::RequestContext;
use crate::error::{HttpError, abort};
use crate::exec::{Lost, Mode, call_async};
use crate::handler::{Callable, ErrorHandler, View};
use crate::request::Request;
use crate::response::{IntoResponse, Redirect, Response};
use crate::routing::Match;

/// Serves one request through the whole lifecycle. Never fails: every error, panic and
/// failing handler ends as a response.
pub(crate) async fn dispatch(app: &Arc<AppCore>, mut req: Req, mode: &Mode) -> Response {
    let head = req.method == Method::HEAD;
    req.state = app.state.clone();
    let (routed, endpoint) = route(app, &mut req);
    let blueprint = endpoint.map(|e| app.endpoints[e].scope).filter(|&s| s != 0).map(|s| &app.scopes[s]);
    let ctx = Arc::new(RequestContext {
        app: app.clone(),
        endpoint,
        method: req.method.clone(),
        uri: req.uri.clone(),
        scheme: req.scheme,
        host: req.host_value().cloned(),
        cookies: req.headers.get_all(COOKIE).iter().cloned().collect(),
        session: OnceLock::new(),
    });
    let lifecycle = Lifecycle { mode, ctx, scopes: Scopes { app: &app.scopes[0], blueprint } };
    let mut resp = match lifecycle.run(req, routed).await {
        Ok(resp) => resp,
        Err(Lost) => HttpError::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_message("the server is shutting down")
            .default_response(),
    };
    if head {
        if let Some(len) = resp.body().as_bytes().map(|b| b.len()) {
            resp.headers_mut().entry(CONTENT_LENGTH).or_insert_with(|| HeaderValue::from(len));
        }
        *resp.body_mut() = Body::empty();
    }
    resp
}

/// Step 1, routing: the view to run, or the answer (an error, a redirect, OPTIONS) that
/// waits for the before hooks, as Flask raises routing errors after them; and the
/// endpoint.
fn route<'a>(app: &'a AppCore, req: &mut Request) -> (Routed<'a>, Option<usize>) {
    match app.router.lookup(&req.method, req.path(), &req.uri) {
        Match::Found { endpoint: index, params, options } => {
            let endpoint = &app.endpoints[index];
            req.params = params;
            req.endpoint = Some(endpoint.name.clone());
            let routed = match options {
                Some(allow) => Routed::Answer(Ok(options_response(&allow))),
                None => Routed::View(&endpoint.view),
            };
            (routed, Some(index))
        }
        Match::MethodNotAllowed { allow } => {
            (Routed::Answer(Err(abort(405).with_header(ALLOW, header_value(&allow)))), None)
        }
        Match::Redirect { location } => {
            (Routed::Answer(Ok(Redirect::permanent(location).into_response())), None)
        }
        Match::NotFound => (Routed::Answer(Err(abort(404))), None),
    }
}

/// Calls a view, hook or error handler with the request and `args`, inside the request
/// context `$ctx`: a sync one through the mode (the request travels with it and is put
/// back in `$req`), an async one awaited in place. Evaluates to the user function's
/// result; a lost request returns `Err(Lost)`.
macro_rules! invoke {
    ($mode:expr, $ctx:expr, $req:ident, $callable:expr $(, $arg:expr)*) => {
        match $callable {
            Callable::Sync(f) => {
                let f = *f;
                let (req, out) = $mode.call_sync($req, $ctx.clone(), move |req| f(req $(, $arg)*)).await?;
                $req = req;
                out
            }
            Callable::Async(f) => call_async($ctx.clone(), f(&mut $req $(, $arg)*)).await,
        }
    };
}

struct Lifecycle<'a> {
    mode: &'a Mode,
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
    /// App first, then the blueprint (the order of before hooks).
    fn iter(&self) -> impl DoubleEndedIterator<Item = &'a Scope> + use<'a> {
        std::iter::once(self.app).chain(self.blueprint)
    }
}

/// A view's or hook's result before error handling.
type Outcome = Result<Response, HttpError>;

/// What routing decided: run this view, or answer without one.
enum Routed<'a> {
    View(&'a View),
    Answer(Outcome),
}

/// The request as the lifecycle passes it from step to step (and to the sync pool and
/// back): boxed, so that moving it, and the futures that hold it, costs a pointer.
pub(crate) type Req = Box<Request>;

impl Lifecycle<'_> {
    async fn run(self, mut req: Req, routed: Routed<'_>) -> Result<Response, Lost> {
        // 2. before_request; unless one answered, 3. the routing answer or the view.
        let (r, answered) = self.before(req).await?;
        req = r;
        let mut outcome = match (answered, routed) {
            (Some(answer), _) | (None, Routed::Answer(answer)) => answer,
            (None, Routed::View(view)) => {
                let (r, out) = self.view(req, view).await?;
                req = r;
                out
            }
        };
        // A file answers a conditional or range request here, before the after hooks.
        if let Ok(resp) = &mut outcome {
            crate::files::make_conditional(&req, resp);
        }

        // 4. Error handling.
        let mut unhandled: Option<Arc<HttpError>> = None;
        let mut resp = match outcome {
            Ok(resp) => resp,
            Err(e) => {
                let (r, resp, left) = Box::pin(self.handle_error(req, e)).await?;
                req = r;
                unhandled = left;
                resp
            }
        };

        // 5. after_request, innermost scope first, each in reverse order.
        'after: for scope in self.scopes.iter().rev() {
            for hook in scope.after.iter().rev() {
                let result = invoke!(self.mode, self.ctx, req, hook, resp);
                match result {
                    Ok(r) => resp = r,
                    Err(e) => {
                        tracing::error!(error = %e, "an after_request hook failed; the remaining ones are skipped");
                        let (r, error_resp, left) = Box::pin(self.handle_error(req, e)).await?;
                        req = r;
                        resp = error_resp;
                        unhandled = unhandled.or(left);
                        break 'after;
                    }
                }
            }
        }

        // The session is saved after the after_request hooks, as Flask's process_response.
        if let Some(Some(session)) = self.ctx.session.get() {
            self.ctx.app.sessions.save(session, &mut resp);
        }

        // 6. teardown_request, always; their own errors are logged and ignored.
        for scope in self.scopes.iter().rev() {
            for hook in scope.teardown.iter().rev() {
                let err = unhandled.clone();
                let result = invoke!(self.mode, self.ctx, req, hook, err.as_deref());
                if let Err(e) = result {
                    tracing::error!(error = %e, "a teardown_request hook failed");
                }
            }
        }
        Ok(resp)
    }

    /// Runs the before hooks; `Some` is the first hook's response, or its error.
    async fn before(&self, mut req: Req) -> Result<(Req, Option<Outcome>), Lost> {
        for scope in self.scopes.iter() {
            for hook in &scope.before {
                let result = invoke!(self.mode, self.ctx, req, hook);
                match result {
                    Ok(None) => {}
                    Ok(Some(resp)) => return Ok((req, Some(Ok(resp)))),
                    Err(e) => return Ok((req, Some(Err(e)))),
                }
            }
        }
        Ok((req, None))
    }

    async fn view(&self, mut req: Req, view: &View) -> Result<(Req, Outcome), Lost> {
        let out = invoke!(self.mode, self.ctx, req, view);
        Ok((req, out))
    }

    /// Renders an error with the first handler that takes it. Returns the response and,
    /// for teardown hooks, the error if it is an exception that no type handler took.
    async fn handle_error(
        &self,
        req: Req,
        error: HttpError,
    ) -> Result<(Req, Response, Option<Arc<HttpError>>), Lost> {
        let error = Arc::new(error);
        // By type: the blueprint's first, then the app's.
        let typed = self
            .scopes
            .iter()
            .rev()
            .flat_map(|s| s.by_type.iter())
            .find(|(matches, _)| matches(&error))
            .map(|(_, h)| h);
        if let Some(handler) = typed {
            let (req, resp, failure) = self.call_error_handler(req, handler, error).await?;
            return Ok((req, resp, failure));
        }
        let unhandled = error.is_exception().then(|| error.clone());
        let code = error.status().as_u16();
        let by_code = self.scopes.iter().rev().find_map(|s| s.by_code.get(&code));
        match by_code {
            Some(handler) => {
                let (req, resp, failure) = self.call_error_handler(req, handler, error).await?;
                Ok((req, resp, unhandled.or(failure)))
            }
            None => {
                if error.is_exception() {
                    tracing::error!(error = %error, path = %req.path(), "unhandled error in a request");
                }
                Ok((req, error.default_response(), unhandled))
            }
        }
    }

    /// Calls an error handler; if it fails, the answer is a plain 500 and its error is
    /// returned for the teardown hooks.
    async fn call_error_handler(
        &self,
        mut req: Req,
        handler: &ErrorHandler,
        error: Arc<HttpError>,
    ) -> Result<(Req, Response, Option<Arc<HttpError>>), Lost> {
        let result = invoke!(self.mode, self.ctx, req, handler, &error);
        Ok(match result {
            Ok(resp) => (req, resp, None),
            Err(failure) => {
                tracing::error!(error = %failure, "an error handler failed; answering with a plain 500");
                let resp = HttpError::new(StatusCode::INTERNAL_SERVER_ERROR).default_response();
                (req, resp, Some(Arc::new(failure)))
            }
        })
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn options_response(allow: &str) -> Response {
    let mut resp = ().into_response();
    resp.headers_mut().insert(ALLOW, header_value(allow));
    resp
}
