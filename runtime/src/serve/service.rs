//! One request, from an `http::Request` with any body to a response ([`Serve`]: the
//! app's admission and the server's engine); the app as a `tower::Service`
//! ([`AppService`]); and the innermost service of the app's tower layers.
//!
//! Without layers, the server calls [`Serve`] straight from hyper's connection, with
//! hyper's body, and nothing is boxed. With layers, the request's body is wrapped in
//! erlen's [`Body`], the layers run on the async runtime, and the innermost service reads
//! the body and runs the lifecycle on the server's backend; a layer's response body (a
//! compressed one, say) is turned back into a [`Body`].

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::async_backend::Offload;
use super::engine::Engine;
use crate::admit::{Admission, Peer, RequestLimits};
use crate::app::{AppCore, Erased, LayerFn, Stack, into_body};
use crate::body::{Body, BoxError, BoxFuture};
use crate::context::AppHandle;
use crate::response::Response;

/// Everything needed to answer one request: the app's admission (its limits, the proxies
/// it trusts) and the engine its lifecycle runs on.
pub(crate) struct Serve {
    pub(crate) admission: Admission,
    pub(crate) engine: Engine,
}

impl Serve {
    /// The app served in-process, on the async engine with sync handlers on the sync
    /// pool, without a server's shutdown signal: the tower service and the test client.
    pub(crate) fn in_process(app: Arc<AppCore>, limits: RequestLimits, trust_proxy: usize) -> Serve {
        let handle: Arc<dyn AppHandle> = app.clone();
        let engine = Engine::Async(Offload::new(None));
        Serve { admission: Admission { app, handle, limits, trust_proxy }, engine }
    }

    /// Admits and serves one request. Never fails: every problem is an HTTP error
    /// response.
    pub(crate) async fn respond<B>(&self, req: http::Request<B>, peer: Option<Peer>) -> Response
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        self.admission.respond(req, peer, &self.engine).await
    }
}

/// The innermost service: the app itself.
struct Endpoint(Arc<Serve>);

impl Erased for Endpoint {
    fn call(&self, req: http::Request<Body>) -> BoxFuture<'static, Response> {
        let serve = self.0.clone();
        Box::pin(async move { serve.respond(req, None).await })
    }
}

/// The stack of `layers` (innermost first) around `serve`, or `None` without layers.
pub(crate) fn stack(serve: &Arc<Serve>, layers: &[LayerFn]) -> Option<Stack> {
    if layers.is_empty() {
        return None;
    }
    let endpoint = Stack(Arc::new(Endpoint(serve.clone())));
    Some(layers.iter().fold(endpoint, |inner, layer| layer(inner)))
}

/// An erlen app as a [`tower::Service`](tower_service::Service), made by
/// [`App::into_service`]: mount it in an axum router or serve it with plain hyper.
///
/// It takes an `http::Request<B>` with any body `B` (routed first, then read in full
/// within the route's `body_limit` or the service's, 2 MiB by default, unless the view
/// streams it; then the whole lifecycle with the app's layers) and answers an
/// `http::Response<Body>`, never failing. Sync handlers run on erlen's sync pool, async
/// ones in the caller's task, as on the async backend. Behind proxies, say how many to
/// trust with [`AppService::trust_proxy`]; the client's address is not known to it.
///
/// ```
/// use erlen::prelude::*;
/// use erlen::tower::Service;
///
/// #[get("/hello")]
/// async fn hello() -> &'static str { "hi" }
///
/// let mut service = App::new().register(handlers![hello]).into_service();
/// let req = http::Request::get("/hello").header("host", "x").body(String::new()).unwrap();
/// let resp = erlen::block_on(service.call(req)).unwrap();
/// assert_eq!(resp.status(), 200);
/// ```
#[derive(Clone)]
#[must_use = "a service does nothing until it is called or mounted"]
pub struct AppService {
    serve: Arc<Serve>,
    layers: Arc<[LayerFn]>,
    stack: Option<Stack>,
}

impl std::fmt::Debug for AppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService")
            .field("app", &self.serve.admission.app)
            .field("layers", &self.layers.len())
            .field("trust_proxy", &self.serve.admission.trust_proxy)
            .finish()
    }
}

impl AppService {
    pub(crate) fn new(
        app: Arc<AppCore>,
        layers: Arc<[LayerFn]>,
        limits: RequestLimits,
        trust_proxy: usize,
    ) -> AppService {
        let serve = Arc::new(Serve::in_process(app, limits, trust_proxy));
        let stack = stack(&serve, &layers);
        AppService { serve, layers, stack }
    }

    /// Trusts `hops` proxies in front of the app: `req.remote_addr()`, `req.scheme()`,
    /// `req.host()` and external URLs follow their `X-Forwarded-*` or `Forwarded`
    /// headers, as with [`Server::trust_proxy`](crate::Server::trust_proxy).
    ///
    /// ```
    /// use erlen::prelude::*;
    /// use erlen::tower::Service;
    ///
    /// #[get("/")]
    /// fn index(req: &Request) -> String { format!("{} {:?}", req.scheme(), req.remote_addr()) }
    ///
    /// let mut service = App::new().register(handlers![index]).into_service().trust_proxy(1);
    /// let req = http::Request::get("/")
    ///     .header("host", "x")
    ///     .header("x-forwarded-for", "192.0.2.7")
    ///     .header("x-forwarded-proto", "https")
    ///     .body(String::new())
    ///     .unwrap();
    /// let resp = erlen::block_on(service.call(req)).unwrap();
    /// let body = erlen::block_on(resp.into_body().collect()).unwrap();
    /// assert_eq!(body, "https Some(192.0.2.7:0)");
    /// ```
    pub fn trust_proxy(self, hops: usize) -> AppService {
        let admission = &self.serve.admission;
        AppService::new(admission.app.clone(), self.layers, admission.limits.clone(), hops)
    }

    /// Largest request body accepted; larger ones get 413 (default 2 MiB), as
    /// [`Server::body_limit`](crate::Server::body_limit).
    ///
    /// ```
    /// let service = erlen::App::new().into_service().body_limit(64 * 1024);
    /// # let _ = service;
    /// ```
    pub fn body_limit(self, bytes: usize) -> AppService {
        let admission = &self.serve.admission;
        let mut limits = admission.limits.clone();
        limits.body_limit = bytes as u64;
        AppService::new(admission.app.clone(), self.layers, limits, admission.trust_proxy)
    }
}

impl<B> Service<http::Request<B>> for AppService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match &self.stack {
            None => {
                let serve = self.serve.clone();
                Box::pin(async move { Ok(serve.respond(req, None).await) })
            }
            Some(stack) => {
                let served = stack.0.call(req.map(into_body));
                Box::pin(async move { Ok(served.await) })
            }
        }
    }
}
