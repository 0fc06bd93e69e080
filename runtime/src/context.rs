//! The request context, as Flask's: while a request is handled, erlen knows the current
//! app and request, so that [`url_for!`](crate::url_for), templates and
//! [`send_file`](crate::send_file) work without being handed them.
//!
//! The lifecycle sets it around every call into user code, in a thread-local slot that
//! [`enter`] swaps it into and out of: a sync function runs inside [`enter_sync`] on
//! whatever thread runs it (a pool thread, a threaded worker); an async one is polled
//! inside it (`exec::call_async`; [`enter_async`] for a WebSocket's handler), set again
//! on every poll, whichever runtime thread polls it. `erlen::block_on` inside a sync handler keeps it (same thread); a task the
//! handler spawns does not, as in Flask.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderValue, Method, Uri};

use crate::app::AppCore;
use crate::session::SessionState;

thread_local! {
    /// The context of the request whose user code runs on this thread, if any. Set only
    /// around a call or a poll (see [`enter`]), so that it never outlives either.
    static CURRENT: RefCell<Option<Arc<RequestContext>>> = const { RefCell::new(None) };
}

/// What the context knows of the current request: a snapshot taken after routing.
pub(crate) struct RequestContext {
    pub(crate) app: Arc<AppCore>,
    /// The matched endpoint, if a route matched.
    pub(crate) endpoint: Option<usize>,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    /// `http` or `https`, as [`Request::scheme`](crate::Request::scheme).
    pub(crate) scheme: &'static str,
    /// The host a trusted proxy forwarded, else the `Host` header; the `:authority` of an
    /// HTTP/2 request is in `uri`.
    pub(crate) host: Option<HeaderValue>,
    /// The `Cookie` headers, for the session.
    pub(crate) cookies: Vec<HeaderValue>,
    /// The body of a urlencoded form request (empty otherwise), for templates'
    /// `request.form`.
    pub(crate) form: Bytes,
    /// The session, loaded on first use; `None` inside when the app has no secret key.
    pub(crate) session: OnceLock<Option<Arc<SessionState>>>,
}

impl RequestContext {
    /// The scheme the client used: `https` over TLS or when a trusted proxy says so.
    pub(crate) fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The host the client asked for, for absolute URLs.
    pub(crate) fn host(&self) -> &str {
        self.host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost")
    }

    /// The session, loaded from the request's cookie on first use; `None` when the app has
    /// no secret key.
    pub(crate) fn session(&self) -> Option<Arc<SessionState>> {
        self.session
            .get_or_init(|| {
                let headers = self.cookies.iter().filter_map(|h| h.to_str().ok());
                self.app.sessions.load(headers).map(Arc::new)
            })
            .clone()
    }

    /// The blueprint of the matched endpoint, for relative endpoint names (`.index`).
    pub(crate) fn blueprint(&self) -> Option<&str> {
        let name = &self.app.endpoints[self.endpoint?].name;
        name.rsplit_once('.').map(|(bp, _)| bp)
    }
}

#[cfg(test)]
impl RequestContext {
    /// A context for an empty app, for unit tests of code that runs inside one.
    pub(crate) fn for_tests() -> Arc<RequestContext> {
        let app = crate::App::new().build().unwrap_or_else(|e| panic!("{e}"));
        Arc::new(RequestContext {
            app,
            endpoint: None,
            method: Method::GET,
            uri: Uri::from_static("/"),
            scheme: "http",
            host: None,
            cookies: Vec::new(),
            form: Bytes::new(),
            session: OnceLock::new(),
        })
    }
}

/// Runs `f` with the context in `slot` made current, and puts it back in `slot` after,
/// also when `f` panics; what was current before (for a request served inside another's
/// code, as a test client in a view does) is current again after. No clone, no
/// allocation: the context moves in and out.
pub(crate) fn enter<R>(slot: &mut Option<Arc<RequestContext>>, f: impl FnOnce() -> R) -> R {
    /// Swaps the slot back on the way out.
    struct Leave<'a>(&'a mut Option<Arc<RequestContext>>);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), self.0));
        }
    }
    CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), slot));
    let _leave = Leave(slot);
    f()
}

/// Runs sync user code `f` inside the context.
pub(crate) fn enter_sync<R>(ctx: Arc<RequestContext>, f: impl FnOnce() -> R) -> R {
    enter(&mut Some(ctx), f)
}

/// Runs async user code inside the context, on every poll.
pub(crate) fn enter_async<F: Future>(ctx: Arc<RequestContext>, future: F) -> impl Future<Output = F::Output> {
    InContext::new(ctx, Box::pin(future))
}

/// A future polled inside a request's context, and dropped inside it too: a handler
/// cancelled mid-way (its client gone, its route's time up) may run code in its values'
/// `Drop` that uses the context.
pub(crate) struct InContext<F: Future + Unpin> {
    slot: Option<Arc<RequestContext>>,
    future: Option<F>,
}

impl<F: Future + Unpin> InContext<F> {
    pub(crate) fn new(ctx: Arc<RequestContext>, future: F) -> InContext<F> {
        InContext { slot: Some(ctx), future: Some(future) }
    }
}

impl<F: Future + Unpin> Future for InContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        let this = self.get_mut();
        match &mut this.future {
            Some(future) => enter(&mut this.slot, || Pin::new(future).poll(cx)),
            // Only `drop` takes the future out, so this is never reached.
            None => std::task::Poll::Pending,
        }
    }
}

impl<F: Future + Unpin> Drop for InContext<F> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            enter(&mut self.slot, || drop(future));
        }
    }
}

/// The current request's context, if there is one.
pub(crate) fn current() -> Option<Arc<RequestContext>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// The current request's context, for the APIs that cannot work without one.
///
/// # Panics
///
/// Outside a request, with a message that names `what` and says what to do instead.
pub(crate) fn expect(what: &str) -> Arc<RequestContext> {
    current().unwrap_or_else(|| {
        panic!(
            "{what} was used outside a request: it needs the current app and request, which \
             erlen knows only while it runs a view, hook, error handler or template; outside one, \
             use the test client to make a request"
        )
    })
}
