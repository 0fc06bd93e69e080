//! The HTTP layer both backends share: accepting, hyper connections (HTTP/1.1 and h2c),
//! reading bodies within the limit, timeouts, graceful shutdown and the access log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{StatusCode, Version};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Limits, async_backend, threaded};
use crate::app::AppCore;
use crate::error::HttpError;
use crate::request::Request;
use crate::response::Response;

/// Where the lifecycle runs.
pub(crate) enum Engine {
    Async(async_backend::Engine),
    Threaded(threaded::Engine),
}

/// What every connection of one server shares.
pub(crate) struct Shared {
    pub(crate) app: Arc<AppCore>,
    pub(crate) engine: Engine,
    pub(crate) limits: Limits,
}

/// Accepts connections until `stop` says so, then drains them gracefully.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_read_timeout)
        .max_buf_size(shared.limits.max_header_bytes)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(shared.limits.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // Reap finished connections so the set stays as small as the live ones.
        while connections.try_join_next().is_some() {}
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(&shared, req, remote).await) }
                    });
                    let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    let conn = graceful.watch(conn);
                    connections.spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, %remote, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors or a transient error: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(shared.limits.shutdown_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            timeout = ?shared.limits.shutdown_timeout,
            "graceful shutdown timed out; closing the remaining connections"
        );
    }
    // Whatever is left past the deadline is closed; this also releases the engine, which
    // lets the threaded backend's workers exit.
    connections.shutdown().await;
}

/// One request: read the body within the limit, run the lifecycle on the engine, log.
async fn handle(
    shared: &Shared,
    req: hyper::Request<Incoming>,
    remote: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    // The access log's fields are kept only when someone listens.
    let logged = tracing::enabled!(target: "erlen::access", tracing::Level::INFO)
        .then(|| (Instant::now(), req.method().clone(), req.uri().path().to_string()));
    let resp = match read_request(shared, req, remote).await {
        Ok(request) => {
            let served = run(shared, request);
            match shared.limits.request_timeout {
                None => served.await,
                Some(limit) => tokio::time::timeout(limit, served).await.unwrap_or_else(|_| {
                    HttpError::new(StatusCode::SERVICE_UNAVAILABLE)
                        .with_message("the request took too long")
                        .default_response()
                }),
            }
        }
        Err(e) => e.default_response(),
    };
    if let Some((start, method, path)) = logged {
        tracing::info!(
            target: "erlen::access",
            %method,
            path,
            status = resp.status().as_u16(),
            duration_us = start.elapsed().as_micros() as u64,
            %remote,
        );
    }
    resp.map(Full::new)
}

async fn run(shared: &Shared, request: Box<Request>) -> Response {
    match &shared.engine {
        Engine::Async(engine) => engine.serve(&shared.app, request).await,
        Engine::Threaded(engine) => engine.serve(request).await.unwrap_or_else(|e| e.default_response()),
    }
}

/// Checks the request's framing and reads its body within the limit.
async fn read_request(
    shared: &Shared,
    req: hyper::Request<Incoming>,
    remote: SocketAddr,
) -> Result<Box<Request>, HttpError> {
    check_host(&req)?;
    let limit = shared.limits.body_limit;
    let too_large = || {
        crate::abort(413).with_message(format!("the request body is larger than the limit of {limit} bytes"))
    };
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    // Most requests have no body: skip the collecting machinery for them.
    let body = if hyper::body::Body::is_end_stream(&body) {
        Bytes::new()
    } else {
        match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
            Err(e) => {
                return Err(
                    crate::abort(400).with_message(format!("the request body could not be read: {e}"))
                );
            }
        }
    };
    let mut request = Box::new(Request::from_parts(parts, body)?);
    request.remote_addr = Some(remote);
    Ok(request)
}

/// RFC 9112, section 3.2: an HTTP/1.1 request has exactly one `Host`, and no request has
/// two. HTTP/1.0 may omit it; HTTP/2 names the host in `:authority`.
fn check_host<B>(req: &hyper::Request<B>) -> Result<(), HttpError> {
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
