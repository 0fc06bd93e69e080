//! erlen in the tower ecosystem: one request, from an `http::Request` with any body to a
//! response, through the lifecycle ([`Serve`]); the app as a `tower::Service`
//! ([`AppService`]); and tower layers around it ([`Stack`]).
//!
//! Without layers, the server calls [`Serve::respond`] straight from hyper's connection,
//! with hyper's body, and nothing is boxed. With layers, the request's body is wrapped in
//! erlen's [`Body`], the layers run on the async runtime, and the innermost service reads
//! the body and runs the lifecycle on the server's backend; a layer's response body (a
//! compressed one, say) is turned back into a [`Body`].

use std::any::Any;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::StreamExt;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST};
use http::{HeaderValue, StatusCode, Version};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_layer::Layer;
use tower_service::Service;

use super::engine::Engine;
use super::{Limits, async_backend, proxy};
use crate::app::{App, AppCore, BuildError};
use crate::body::{Body, BoxError, ChunkStream};
use crate::error::HttpError;
use crate::handler::BoxFuture;
use crate::incoming::{Cancel, Incoming, Pace, too_large};
use crate::request::Request;
use crate::response::Response;

/// The connection a request came on, as the server knows it; handed through the layers
/// in the request's extensions. Absent when erlen is mounted in another server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    pub(crate) remote: SocketAddr,
    pub(crate) tls: bool,
}

/// Everything needed to answer one request: the app, where its lifecycle runs, the
/// limits, and how many proxies to trust.
pub(crate) struct Serve {
    pub(crate) app: Arc<AppCore>,
    pub(crate) engine: Engine,
    pub(crate) limits: Limits,
    pub(crate) trust_proxy: usize,
}

/// A request as [`Serve::admit`] leaves it: routed and within its limits, ready for the
/// lifecycle or for its body to be read first; or refused.
pub(crate) enum Admitted<B> {
    /// Ready for the lifecycle (a streamed body is left unread, with the handle that stops
    /// it when the route's time is up).
    Ready { request: Box<Request>, timeout: Option<Duration>, cancel: Option<Cancel> },
    /// Its body is read in full first.
    Unread { request: Box<Request>, body: B, timeout: Option<Duration> },
    /// Answered with an error before its body was read.
    Refused(HttpError),
}

impl Serve {
    /// Routes the request, reads its body within the route's limits (or leaves it for a
    /// view that streams it) and runs the lifecycle within the route's timeout. Never
    /// fails: every problem is an HTTP error response.
    /// `peer` is the connection's, when the server calls without layers; otherwise it is
    /// taken from the request's extensions.
    pub(crate) async fn respond<B>(&self, req: http::Request<B>, peer: Option<Peer>) -> Response
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let admitted = self.admit(req, peer);
        self.serve(admitted).await
    }

    /// The second half of [`Serve::respond`]: reads the body if it is still to be read,
    /// and runs the lifecycle within the route's timeout.
    pub(crate) async fn serve<B>(&self, admitted: Admitted<B>) -> Response
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let (request, timeout, cancel) = match admitted {
            Admitted::Ready { request, timeout, cancel } => (request, timeout, cancel),
            Admitted::Unread { mut request, body, timeout } => {
                // Boxed: reading takes a timer and a collector, which would make the
                // future of every request as large, bodiless or not.
                match Box::pin(self.read_body(body, request.body_limit, request.version)).await {
                    Ok(body) => request.body = body,
                    Err(e) => return e.default_response(),
                }
                (request, timeout, None)
            }
            Admitted::Refused(e) => return e.default_response(),
        };
        let served = self.engine.serve(&self.app, request);
        match timeout {
            None => served.await,
            Some(limit) => Box::pin(tokio::time::timeout(limit, served)).await.unwrap_or_else(|_| {
                // A view still reading a streamed body stops at its next read.
                if let Some(cancel) = cancel {
                    cancel.cancel();
                }
                HttpError::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_message("the request took too long")
                    .default_response()
            }),
        }
    }

    /// The first half of [`Serve::respond`], done before any future is built (the
    /// request's head is not carried in one): checks the request's framing, applies what
    /// trusted proxies forwarded, routes it, and checks its declared length against the
    /// route's limit; a body that the view streams is left unread, paced.
    pub(crate) fn admit<B>(&self, req: http::Request<B>, peer: Option<Peer>) -> Admitted<B>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        if let Err(e) = check_host(&req) {
            return Admitted::Refused(e);
        }
        let (mut parts, body) = req.into_parts();
        let peer = peer.or_else(|| parts.extensions.remove::<Peer>());
        // Most requests have no body, and need no look at its length.
        let bodiless = body.is_end_stream();
        let declared = if bodiless { None } else { declared_length(&parts.headers) };
        let mut request = match Request::from_parts(parts, Bytes::new()) {
            Ok(request) => Box::new(request),
            Err(e) => return Admitted::Refused(e),
        };
        if let Some(peer) = peer {
            request.remote_addr = Some(peer.remote);
            if peer.tls {
                request.scheme = "https";
            }
        }
        proxy::apply(&mut request, self.trust_proxy);
        // Routed first: the route's limits apply before a byte of the body is read.
        let route = crate::dispatch::preroute(&self.app, &mut request);
        let limit = route.body_limit.unwrap_or(self.limits.body_limit as u64);
        if declared.is_some_and(|n| n > limit) {
            return Admitted::Refused(too_large(limit).to_http());
        }
        let timeout = route.timeout.or(self.limits.request_timeout);
        request.body_limit = limit;
        // Skip the reading machinery for a request without a body.
        if bodiless {
            return Admitted::Ready { request, timeout, cancel: None };
        }
        if !route.body.streams() {
            return Admitted::Unread { request, body, timeout };
        }
        let chunks: ChunkStream = Box::pin(
            body.into_data_stream()
                .map(|chunk| chunk.map(|mut data| data.copy_to_bytes(data.remaining())).map_err(Into::into)),
        );
        let pace = Pace { idle: self.limits.body_read_timeout, min_rate: self.limits.body_min_rate };
        let cancel = timeout.map(|_| Cancel::default());
        request.set_unread(Incoming::new(chunks, limit, Some(pace), cancel.clone()));
        Admitted::Ready { request, timeout, cancel }
    }

    /// Reads a body in full, within `limit` bytes and the read timeout.
    async fn read_body<B>(&self, body: B, limit: u64, version: Version) -> Result<Bytes, HttpError>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let read_timeout = self.limits.body_read_timeout;
        let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
        match tokio::time::timeout(read_timeout, limited.collect()).await {
            Err(_) => {
                let mut error = crate::abort(408)
                    .with_message(format!("the request body did not arrive within {read_timeout:?}"));
                if version < Version::HTTP_2 {
                    // The rest of the body is never read: the connection cannot be reused.
                    error = error.with_header(CONNECTION, HeaderValue::from_static("close"));
                }
                Err(error)
            }
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit).to_http()),
            Ok(Err(e)) => {
                Err(crate::abort(400).with_message(format!("the request body could not be read: {e}")))
            }
        }
    }
}

/// The body's length as the request declares it, if it does.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

/// RFC 9112, section 3.2: an HTTP/1.1 request has exactly one `Host`, and no request has
/// two. HTTP/1.0 may omit it; HTTP/2 names the host in `:authority`.
fn check_host<B>(req: &http::Request<B>) -> Result<(), HttpError> {
    let mut hosts = req.headers().get_all(HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(crate::abort(400).with_message("the request has more than one Host header"));
    }
    if first.is_none() && req.version() == Version::HTTP_11 {
        return Err(crate::abort(400).with_message("an HTTP/1.1 request needs a Host header"));
    }
    Ok(())
}

/// Any response body as erlen's [`Body`]: itself when it is one, else streamed.
pub(crate) fn into_body<B>(body: B) -> Body
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let any: Box<dyn Any> = Box::new(body);
    match any.downcast::<Body>() {
        Ok(body) => *body,
        Err(other) => {
            match other.downcast::<B>() {
                Ok(body) => Body::from_stream(body.into_data_stream().map(|chunk| {
                    chunk.map(|mut data| data.copy_to_bytes(data.remaining())).map_err(Into::into)
                })),
                Err(_) => unreachable!("a box made from a `B` downcasts to `B`"),
            }
        }
    }
}

/// A type-erased service from `http::Request<Body>` to `http::Response<Body>`.
trait Erased: Send + Sync {
    fn call(&self, req: http::Request<Body>) -> BoxFuture<'static, Response>;
}

/// The innermost service: the app itself.
struct Endpoint(Arc<Serve>);

impl Erased for Endpoint {
    fn call(&self, req: http::Request<Body>) -> BoxFuture<'static, Response> {
        let serve = self.0.clone();
        Box::pin(async move { serve.respond(req, None).await })
    }
}

/// A layered service, cloned for each request as tower services are.
struct Wrapped<S>(S);

impl<S, ResBody> Erased for Wrapped<S>
where
    S: Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    fn call(&self, req: http::Request<Body>) -> BoxFuture<'static, Response> {
        let mut service = self.0.clone();
        Box::pin(async move {
            let ready: Result<(), BoxError> =
                std::future::poll_fn(|cx| service.poll_ready(cx)).await.map_err(Into::into);
            let served = match ready {
                Ok(()) => service.call(req).await.map_err(Into::into),
                Err(e) => Err(e),
            };
            match served {
                Ok(resp) => resp.map(into_body),
                Err(e) => {
                    tracing::error!(error = %e, "a tower layer failed; answering with a 500");
                    HttpError::new(StatusCode::INTERNAL_SERVER_ERROR).default_response()
                }
            }
        })
    }
}

/// The service a tower layer added with [`App::layer`] wraps: the app and the layers
/// added before. It takes `http::Request<Body>` and answers `http::Response<Body>`, never
/// failing; layers are generic over it, so its name is rarely written out.
#[derive(Clone)]
pub struct Stack(Arc<dyn Erased>);

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stack")
    }
}

impl Stack {
    /// Serves one request through the layers.
    pub(crate) fn serve(&self, req: http::Request<Body>) -> BoxFuture<'static, Response> {
        self.0.call(req)
    }
}

impl Service<http::Request<Body>> for Stack {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let served = self.0.call(req);
        Box::pin(async move { Ok(served.await) })
    }
}

/// Wraps a [`Stack`] in one more layer; kept by the app until it is served.
pub(crate) type LayerFn = Arc<dyn Fn(Stack) -> Stack + Send + Sync>;

/// The stack of `layers` (innermost first) around `serve`, or `None` without layers.
pub(crate) fn stack(serve: &Arc<Serve>, layers: &[LayerFn]) -> Option<Stack> {
    if layers.is_empty() {
        return None;
    }
    let endpoint = Stack(Arc::new(Endpoint(serve.clone())));
    Some(layers.iter().fold(endpoint, |inner, layer| layer(inner)))
}

/// The layer as a [`LayerFn`].
pub(crate) fn layer_fn<L, S, ResBody>(layer: L) -> LayerFn
where
    L: Layer<Stack, Service = S> + Send + Sync + 'static,
    S: Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    Arc::new(move |inner: Stack| Stack(Arc::new(Wrapped(layer.layer(inner)))))
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
pub struct AppService {
    serve: Arc<Serve>,
    layers: Arc<[LayerFn]>,
    stack: Option<Stack>,
}

impl std::fmt::Debug for AppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService")
            .field("app", &self.serve.app)
            .field("layers", &self.layers.len())
            .field("trust_proxy", &self.serve.trust_proxy)
            .finish()
    }
}

impl AppService {
    fn new(app: Arc<AppCore>, layers: Arc<[LayerFn]>, limits: Limits, trust_proxy: usize) -> AppService {
        let engine = Engine::Async(async_backend::Offload::new(&limits));
        let serve = Arc::new(Serve { app, engine, limits, trust_proxy });
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
        AppService::new(self.serve.app.clone(), self.layers, self.serve.limits.clone(), hops)
    }

    /// Largest request body accepted; larger ones get 413 (default 2 MiB), as
    /// [`Server::body_limit`](crate::Server::body_limit).
    ///
    /// ```
    /// let service = erlen::App::new().into_service().body_limit(64 * 1024);
    /// # let _ = service;
    /// ```
    pub fn body_limit(self, bytes: usize) -> AppService {
        let mut limits = self.serve.limits.clone();
        limits.body_limit = bytes;
        AppService::new(self.serve.app.clone(), self.layers, limits, self.serve.trust_proxy)
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

impl App {
    /// Wraps the whole app in a tower layer, such as tower-http's `CorsLayer`,
    /// `CompressionLayer`, `TraceLayer` or `SetRequestIdLayer`, on both backends and in
    /// [`App::into_service`]. Each call wraps what was added before, so the last layer
    /// added is the outermost, as in axum.
    ///
    /// Layers run on the async runtime around the lifecycle: a layer sees the request
    /// before routing and the `before_request` hooks, and the response after the
    /// `after_request` and `teardown_request` hooks and the session cookie; the lifecycle
    /// inside runs on the server's backend (on the threaded backend, on a worker). The
    /// request's body reaches a layer unread, as a streaming [`Body`]; it is read within
    /// the body limit after the layers. A layer may change the response body's type
    /// (compression does): erlen streams it. The access log and the drain's
    /// `Connection: close` stay outside every layer. Without layers, nothing of this is
    /// paid.
    ///
    /// The test client does not run layers: it calls the lifecycle directly. Test layers
    /// through [`App::into_service`] or a server.
    ///
    /// A layer's error (tower's timeout, say) is logged and answered with a 500.
    ///
    /// ```
    /// use erlen::prelude::*;
    /// use erlen::tower::{Layer, Service};
    ///
    /// /// A layer that adds a header to every response.
    /// #[derive(Clone)]
    /// struct Tag<S>(S);
    /// impl<S> Service<http::Request<Body>> for Tag<S>
    /// where
    ///     S: Service<http::Request<Body>, Response = Response> + Send,
    ///     S::Future: Send + 'static,
    /// {
    ///     type Response = Response;
    ///     type Error = S::Error;
    ///     type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send>>;
    ///     fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
    ///         self.0.poll_ready(cx)
    ///     }
    ///     fn call(&mut self, req: http::Request<Body>) -> Self::Future {
    ///         let served = self.0.call(req);
    ///         Box::pin(async move {
    ///             let mut resp = served.await?;
    ///             resp.headers_mut().insert("x-layer", HeaderValue::from_static("yes"));
    ///             Ok(resp)
    ///         })
    ///     }
    /// }
    /// struct TagLayer;
    /// impl<S> Layer<S> for TagLayer {
    ///     type Service = Tag<S>;
    ///     fn layer(&self, inner: S) -> Tag<S> { Tag(inner) }
    /// }
    ///
    /// #[get("/")]
    /// fn index() -> &'static str { "hi" }
    ///
    /// let mut service = App::new().register(handlers![index]).layer(TagLayer).into_service();
    /// let req = http::Request::get("/").header("host", "x").body(String::new()).unwrap();
    /// let resp = erlen::block_on(service.call(req)).unwrap();
    /// assert_eq!(resp.headers()["x-layer"], "yes");
    /// ```
    pub fn layer<L, S, ResBody>(mut self, layer: L) -> App
    where
        L: Layer<Stack, Service = S> + Send + Sync + 'static,
        S: Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        ResBody: http_body::Body + Send + 'static,
        ResBody::Data: Send,
        ResBody::Error: Into<BoxError>,
    {
        self.layers.push(layer_fn(layer));
        self
    }

    /// The app as a `tower::Service<http::Request<B>>` for any body `B`: mount it in an
    /// axum router (`Router::new().nest_service("/app", app.into_service())`) or serve it
    /// with hyper. See [`AppService`].
    ///
    /// # Panics
    ///
    /// If the app cannot be built; the message lists every problem. Use
    /// [`App::try_into_service`] to handle that as an error.
    pub fn into_service(self) -> AppService {
        self.try_into_service().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`App::into_service`], returning the build error instead of panicking.
    ///
    /// # Errors
    ///
    /// If the app cannot be built (the error lists why).
    pub fn try_into_service(self) -> Result<AppService, BuildError> {
        let (app, layers) = self.build_with_layers()?;
        Ok(AppService::new(app, layers.into(), Limits::default(), 0))
    }
}
