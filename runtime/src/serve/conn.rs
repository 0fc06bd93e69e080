//! The HTTP layer both backends share: accepting within the connection cap, hyper
//! connections (HTTP/1.1 and h2c) watched over by `lifetime`, reading bodies within the
//! limits, graceful shutdown and the access log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST};
use http::{HeaderValue, StatusCode, Version};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::lifetime::{Active, Activity, Tracked};
use super::{Limits, async_backend, threaded};
use crate::app::AppCore;
use crate::body::Body;
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
    /// Set when a graceful shutdown starts: HTTP/1 responses then carry `Connection: close`.
    draining: AtomicBool,
}

impl Shared {
    pub(crate) fn new(app: Arc<AppCore>, engine: Engine, limits: Limits) -> Shared {
        Shared { app, engine, limits, draining: AtomicBool::new(false) }
    }
}

/// Accepts connections, at most `max_connections` open at once, until `stop` says so;
/// then drains them: each finishes what it is serving and closes, within the shutdown
/// timeout.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let builder = Arc::new(builder(&shared.limits));
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    let mut full = false;
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connections so the set stays as small as the live ones.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            accepted = accept(&listener, &slots, &shared.limits, &mut full) => accepted,
        };
        match accepted {
            Ok((stream, remote, slot)) => {
                let conn = Connection { shared: shared.clone(), remote, activity: Activity::new() };
                connections.spawn(conn.serve(stream, builder.clone(), stop.clone(), slot));
            }
            Err(e) => {
                // A transient error (the client reset the connection before it was
                // accepted, or the system is out of descriptors): back off, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    drop(listener);
    shared.draining.store(true, Ordering::SeqCst);
    let limit = shared.limits.shutdown_timeout;
    let drained = tokio::time::timeout(limit, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!(timeout = ?limit, "graceful shutdown timed out; closing the remaining connections");
    }
    // Whatever is left past the deadline is closed; this also releases the engine, which
    // lets the threaded backend's workers exit.
    connections.shutdown().await;
}

/// The next connection, once a slot is free. While none is, new connections wait in the
/// listen backlog, which is what a server at its limit should do, rather than accept
/// until the process runs out of descriptors.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    limits: &Limits,
    full: &mut bool,
) -> std::io::Result<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let slot = match slots.clone().try_acquire_owned() {
        Ok(slot) => {
            *full = false;
            slot
        }
        Err(_) => {
            if !*full {
                *full = true;
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "the connection limit is reached; new connections wait until one closes \
                     (raise it with Server::max_connections and the descriptor limit, ulimit -n)"
                );
            }
            // The semaphore is never closed; an error here would be a bug, reported as one.
            slots.clone().acquire_owned().await.map_err(std::io::Error::other)?
        }
    };
    let (stream, remote) = listener.accept().await?;
    Ok((stream, remote, slot))
}

/// hyper's settings for every connection of one server.
fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // A peer that stops answering pings while a request runs is gone.
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    builder
}

/// One accepted connection.
struct Connection {
    shared: Arc<Shared>,
    remote: SocketAddr,
    activity: Activity,
}

impl AsRef<Activity> for Connection {
    fn as_ref(&self) -> &Activity {
        &self.activity
    }
}

impl Connection {
    /// Serves the connection until it closes, is idle too long, or the server drains it.
    async fn serve(
        self,
        stream: TcpStream,
        builder: Arc<auto::Builder<TokioExecutor>>,
        stop: watch::Receiver<bool>,
        _slot: OwnedSemaphorePermit,
    ) {
        let _ = stream.set_nodelay(true);
        let this = Arc::new(self);
        let service = {
            let this = this.clone();
            let stop = stop.clone();
            service_fn(move |mut req: hyper::Request<Incoming>| {
                let this = this.clone();
                if req.headers().contains_key(http::header::UPGRADE) {
                    // A WebSocket closes with 1001 when the server shuts down.
                    req.extensions_mut().insert(crate::websocket::Shutdown(stop.clone()));
                }
                async move {
                    let active = Active::begin(this, req.version());
                    let resp = handle(&active.conn().shared, req, active.conn().remote).await;
                    // The request stays in flight until its response has been sent.
                    Ok::<_, Infallible>(resp.map(|body| Tracked::new(body, active)))
                }
            })
        };
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let idle = this.shared.limits.header_read_timeout;
        if let Err(e) = this.activity.watch_over(conn, idle, stop).await {
            tracing::debug!(error = %e, remote = %this.remote, "connection ended with an error");
        }
    }
}

/// One request: read the body within the limit, run the lifecycle on the engine, log.
async fn handle(shared: &Shared, req: hyper::Request<Incoming>, remote: SocketAddr) -> hyper::Response<Body> {
    // The access log's fields are kept only when someone listens.
    let logged = tracing::enabled!(target: "erlen::access", tracing::Level::INFO)
        .then(|| (Instant::now(), req.method().clone(), req.uri().path().to_string()));
    let version = req.version();
    let mut resp = match read_request(shared, req, remote).await {
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
    if version < Version::HTTP_2 && shared.draining.load(Ordering::Relaxed) {
        // Shutting down: this is the connection's last request.
        resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
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
    resp
}

async fn run(shared: &Shared, request: Box<Request>) -> Response {
    match &shared.engine {
        Engine::Async(engine) => engine.serve(&shared.app, request).await,
        Engine::Threaded(engine) => engine.serve(request).await.unwrap_or_else(|e| e.default_response()),
    }
}

/// Checks the request's framing and reads its body within the size and time limits.
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
        let timeout = shared.limits.body_read_timeout;
        match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
            Err(_) => {
                let mut error = crate::abort(408)
                    .with_message(format!("the request body did not arrive within {timeout:?}"));
                if parts.version < Version::HTTP_2 {
                    // The rest of the body is never read: the connection cannot be reused.
                    error = error.with_header(CONNECTION, HeaderValue::from_static("close"));
                }
                return Err(error);
            }
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
            Ok(Err(e)) => {
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
