//! The request context, as Flask's: while a request is handled, erlen knows the current
//! app and request, so that [`url_for!`](crate::url_for), templates, the session and
//! [`send_file`](crate::send_file) work without being handed them.
//!
//! The lifecycle sets it around every call into user code, in a thread-local slot that
//! [`enter`] swaps it into and out of: a sync function runs inside [`enter_sync`] on
//! whatever thread runs it (a pool thread, a threaded worker); an async one is polled
//! inside it (`exec::call_async`; [`enter_async`] for a WebSocket's handler), set again
//! on every poll, whichever runtime thread polls it. `erlen::block_on` inside a sync
//! handler keeps it (same thread); a task the handler spawns does not, as in Flask.
//!
//! This module sits below the app and its features: it knows the app only as an
//! [`AppHandle`], what the features need of it, which the app layer implements.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Extensions, HeaderValue, Method, Uri};

use crate::shutdown::Shutdown;

/// What the request context knows of the app that serves the request: implemented by the
/// app layer, so that the layers below it (the request, the features) reach the app
/// without naming it.
pub(crate) trait AppHandle: Send + Sync {
    /// The runtime objects of the app's features, by type: its template environment, its
    /// session settings, its form limits.
    fn features(&self) -> &Features;

    /// The name of the endpoint numbered `index` (`index`, `bp.show`).
    fn endpoint_name(&self, index: usize) -> &str;

    /// The URL of the endpoint named `endpoint` (`.name` is relative to the current
    /// blueprint), with `values` for its parameters and, with `query`, the others as the
    /// query string: Flask's `url_for`, as templates and `Request::url_for` call it. The
    /// error says why the URL cannot be built.
    fn url_for(
        &self,
        ctx: &RequestContext,
        endpoint: &str,
        values: &[(&str, &str)],
        query: bool,
        external: bool,
        anchor: Option<&str>,
    ) -> Result<String, String>;

    /// The server's shutdown signal, when a server serves the request (not the test
    /// client, nor the app mounted as a tower service).
    fn shutdown(&self) -> Option<&Shutdown> {
        None
    }

    /// The app itself, for the app layer to take back.
    fn as_any(&self) -> &dyn Any;
}

thread_local! {
    /// The context of the request whose user code runs on this thread, if any. Set only
    /// around a call or a poll (see [`enter`]), so that it never outlives either.
    static CURRENT: RefCell<Option<Arc<RequestContext>>> = const { RefCell::new(None) };
}

/// The objects the app's features keep for the app's life, one of each type (its template
/// environment, its session settings...): the app holds them without the layers below it
/// naming their types, and each feature finds its own.
#[derive(Default)]
pub(crate) struct Features(Vec<(TypeId, Box<dyn Any + Send + Sync>)>);

impl Features {
    /// Keeps `value`, replacing one of the same type.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        self.0.retain(|(t, _)| *t != id);
        self.0.push((id, Box::new(value)));
    }

    /// The value of type `T`, if one was kept.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.0.iter().find(|(t, _)| *t == id).and_then(|(_, value)| value.downcast_ref())
    }
}

/// What the context knows of the current request: a snapshot taken after routing.
pub(crate) struct RequestContext {
    pub(crate) app: Arc<dyn AppHandle>,
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
    /// Values the features keep for the request's length, by type (the session, loaded on
    /// first use).
    locals: Mutex<Extensions>,
}

impl RequestContext {
    /// A context for a request to `app`, with nothing kept yet.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        app: Arc<dyn AppHandle>,
        endpoint: Option<usize>,
        method: Method,
        uri: Uri,
        scheme: &'static str,
        host: Option<HeaderValue>,
        cookies: Vec<HeaderValue>,
        form: Bytes,
    ) -> RequestContext {
        RequestContext { app, endpoint, method, uri, scheme, host, cookies, form, locals: Mutex::default() }
    }

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

    /// The name of the matched endpoint, such as `index` or `bp.show`.
    pub(crate) fn endpoint_name(&self) -> Option<&str> {
        self.endpoint.map(|e| self.app.endpoint_name(e))
    }

    /// The blueprint of the matched endpoint, for relative endpoint names (`.index`).
    pub(crate) fn blueprint(&self) -> Option<&str> {
        self.endpoint_name()?.rsplit_once('.').map(|(bp, _)| bp)
    }

    /// The feature object of type `T` the app holds, if it has one.
    pub(crate) fn feature<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.app.features().get::<T>()
    }

    /// The value of type `T` kept for this request, made by `init` on first use.
    pub(crate) fn local<T: Clone + Send + Sync + 'static>(&self, init: impl FnOnce() -> T) -> T {
        let mut locals = crate::sync::lock(&self.locals);
        if let Some(value) = locals.get::<T>() {
            return value.clone();
        }
        let value = init();
        locals.insert(value.clone());
        value
    }

    /// The value of type `T` kept for this request, if one was made.
    pub(crate) fn local_if_made<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        crate::sync::lock(&self.locals).get::<T>().cloned()
    }
}

#[cfg(test)]
impl RequestContext {
    /// A context for a request to an app with no endpoint, for unit tests of code that
    /// runs inside one.
    pub(crate) fn for_tests() -> Arc<RequestContext> {
        /// An app with nothing registered.
        struct Empty(Features);
        impl AppHandle for Empty {
            fn features(&self) -> &Features {
                &self.0
            }
            fn endpoint_name(&self, _: usize) -> &str {
                ""
            }
            fn url_for(
                &self,
                _: &RequestContext,
                endpoint: &str,
                _: &[(&str, &str)],
                _: bool,
                _: bool,
                _: Option<&str>,
            ) -> Result<String, String> {
                Err(format!("no endpoint is named `{endpoint}`"))
            }
            fn as_any(&self) -> &dyn Any {
                self
            }
        }
        let app = Arc::new(Empty(Features::default()));
        Arc::new(RequestContext::new(
            app,
            None,
            Method::GET,
            Uri::from_static("/"),
            "http",
            None,
            Vec::new(),
            Bytes::new(),
        ))
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

/// A stream polled inside a request's context, and dropped inside it: the body of a
/// response that streams (Flask's `stream_with_context`).
pub(crate) struct StreamInContext<S> {
    slot: Option<Arc<RequestContext>>,
    stream: Option<Pin<Box<S>>>,
}

impl<S> StreamInContext<S> {
    pub(crate) fn new(ctx: Arc<RequestContext>, stream: S) -> StreamInContext<S> {
        StreamInContext { slot: Some(ctx), stream: Some(Box::pin(stream)) }
    }
}

impl<S: futures::Stream> futures::Stream for StreamInContext<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<S::Item>> {
        let this = self.get_mut();
        match &mut this.stream {
            Some(stream) => enter(&mut this.slot, || stream.as_mut().poll_next(cx)),
            None => std::task::Poll::Ready(None),
        }
    }
}

impl<S> Unpin for StreamInContext<S> {}

impl<S> Drop for StreamInContext<S> {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            enter(&mut self.slot, || drop(stream));
        }
    }
}

/// Spawns `future` on the shared runtime with a copy of the current request's context,
/// as Flask's `copy_current_request_context`: `url_for!`, templates, the session (for
/// reading) and the request's data work inside it after the view has returned. Its
/// result, or its panic, comes back through the `JoinHandle`.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/report")]
/// async fn report() -> String {
///     // Work that outlives the view, still knowing the request it came from.
///     let later = erlen::spawn(async { url_for!(report) });
///     later.await.unwrap()
/// }
///
/// let client = App::new().register(handlers![report]).test_client();
/// assert_eq!(client.get("/report").send().text(), "/report");
/// ```
///
/// # Panics
///
/// Outside a request, with a message that says so: spawn work that needs no request on
/// [`erlen::runtime::handle()`](crate::runtime::handle) instead.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ctx = expect("erlen::spawn");
    crate::bridge::handle().spawn(enter_async(ctx, future))
}

/// Runs blocking `f` on a blocking thread of the shared runtime with a copy of the
/// current request's context: [`spawn`] for sync code.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/later")]
/// fn later() -> String {
///     let job = erlen::spawn_blocking(|| url_for!(later));
///     erlen::block_on(job).unwrap()
/// }
///
/// let client = App::new().register(handlers![later]).test_client();
/// assert_eq!(client.get("/later").send().text(), "/later");
/// ```
///
/// # Panics
///
/// Outside a request, with a message that says so: run work that needs no request on
/// [`erlen::runtime::handle()`](crate::runtime::handle)`.spawn_blocking(..)` instead.
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let ctx = expect("erlen::spawn_blocking");
    crate::bridge::handle().spawn_blocking(move || enter_sync(ctx, f))
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
        let instead = match what {
            "erlen::spawn" | "erlen::spawn_blocking" => {
                "spawn work that needs no request on erlen::runtime::handle() (`.spawn(..)`, `.spawn_blocking(..)`)"
            }
            _ => "use the test client to make a request",
        };
        panic!(
            "{what} was used outside a request: it needs the current app and request, which \
             erlen knows only while it runs a view, hook, error handler, template or a streamed body \
             made in one; outside one, {instead}"
        )
    })
}
