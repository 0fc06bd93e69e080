//! The app in the tower ecosystem: tower layers added with [`App::layer`] wrap a
//! [`Stack`], a type-erased service from `http::Request<Body>` to a response, whose
//! innermost service the server (or [`App::into_service`](super::App::into_service))
//! provides.

use std::any::Any;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use futures::StreamExt;
use http::StatusCode;
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{Body, BoxError, BoxFuture};
use crate::error::HttpError;
use crate::response::Response;

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
pub(crate) trait Erased: Send + Sync {
    fn call(&self, req: http::Request<Body>) -> BoxFuture<'static, Response>;
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
pub struct Stack(pub(crate) Arc<dyn Erased>);

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
