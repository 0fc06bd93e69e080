//! The HTTP layer both backends share: accepting within the connection cap, hyper
//! connections (HTTP/1.1 and h2c, told apart by `protocol`) watched over by `lifetime`,
//! each request handed to admission (`crate::admit`) straight or through the app's tower
//! layers, graceful shutdown and the access log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::header::CONNECTION;
use http::{HeaderValue, Version};
use hyper::body::Incoming;
use hyper::service::Service;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::lifetime::{Active, Activity, Timeouts, Tracked};
use super::limits::Limits;
use super::protocol::Http;
use super::service::Serve;
use crate::admit::{Admit, Peer};
use crate::app::{Stack, into_body};
use crate::body::{Body, BoxFuture};
use crate::shutdown::Hold;

/// What every connection of one server shares.
pub(crate) struct Shared {
    pub(crate) serve: Arc<Serve>,
    /// The app's tower layers around `serve`, if it has any.
    stack: Option<Stack>,
    pub(crate) limits: Limits,
    /// Set when a graceful shutdown starts: HTTP/1 responses then carry `Connection: close`.
    draining: AtomicBool,
    /// With TLS, the handshake's settings.
    tls: Option<super::tls::Acceptor>,
}

impl Shared {
    pub(crate) fn new(
        serve: Arc<Serve>,
        stack: Option<Stack>,
        limits: Limits,
        tls: Option<super::tls::Acceptor>,
    ) -> Shared {
        Shared { serve, stack, limits, draining: AtomicBool::new(false), tls }
    }
}

/// Accepts connections, at most `max_connections` open at once, until `stop` says so;
/// then drains them: each finishes what it is serving and closes, within the shutdown
/// timeout.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let http = Arc::new(Http::new(&shared.limits));
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
                let conn = Connection::new(&shared, remote, &stop, slot);
                connections.spawn(conn.serve(stream, http.clone()));
            }
            // The client gave up before the connection was accepted: nothing to report.
            Err(e) if client_gone(&e) => {
                tracing::debug!(error = %e, "a connection was reset before it was accepted");
            }
            Err(e) => {
                // Out of descriptors or another transient error: back off, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    shared.draining.store(true, Ordering::SeqCst);
    // Closing the listener resets the connections the kernel has completed but the server
    // has not accepted yet, and a client (a proxy above all) may have sent a request on
    // them already: nginx answers a POST that meets that reset with a 502, as it never
    // resends one. Take them in first; they are answered with `Connection: close`.
    let queued = accept_queued(listener);
    if !queued.is_empty() {
        tracing::debug!(connections = queued.len(), "serving the connections queued at shutdown");
    }
    for (stream, remote) in queued {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            // Past the cap: served all the same, for the short time the drain lasts.
            Err(_) => match slots.clone().try_acquire_many_owned(0) {
                Ok(none) => none,
                Err(_) => continue,
            },
        };
        let conn = Connection::new(&shared, remote, &stop, slot);
        connections.spawn(conn.serve(stream, http.clone()));
    }
    let limit = shared.limits.shutdown_timeout;
    let every_place = u32::try_from(shared.limits.max_connections).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(limit, async {
        while connections.join_next().await.is_some() {}
        // Upgraded WebSockets hold their connection's place until their handler has
        // ended (they are closed with 1001 when the shutdown starts): wait for them too.
        let _ = slots.acquire_many(every_place).await;
    });
    if drained.await.is_err() {
        tracing::warn!(timeout = ?limit, "graceful shutdown timed out; closing the remaining connections");
    }
    // Whatever is left past the deadline is closed; this also releases the engine, which
    // lets the threaded backend's workers exit.
    connections.shutdown().await;
}

/// Every connection waiting in the listen backlog, accepted without waiting; then the
/// listener is closed. Must be called inside the runtime.
fn accept_queued(listener: TcpListener) -> Vec<(TcpStream, SocketAddr)> {
    let mut queued = Vec::new();
    let Ok(listener) = listener.into_std() else { return queued };
    if listener.set_nonblocking(true).is_err() {
        return queued;
    }
    // Stops at `WouldBlock` (the backlog is empty) or any error.
    while let Ok((stream, remote)) = listener.accept() {
        let stream = stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream));
        if let Ok(stream) = stream {
            queued.push((stream, remote));
        }
    }
    queued
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

/// One accepted connection.
struct Connection {
    shared: Arc<Shared>,
    remote: SocketAddr,
    activity: Activity,
    /// Turns when the server starts to shut down.
    stop: watch::Receiver<bool>,
    /// Its place among the server's connections, held by it and by a WebSocket it is
    /// upgraded to.
    slot: Arc<OwnedSemaphorePermit>,
}

impl AsRef<Activity> for Connection {
    fn as_ref(&self) -> &Activity {
        &self.activity
    }
}

impl Connection {
    /// An accepted connection, holding `slot` among the server's connections.
    fn new(
        shared: &Arc<Shared>,
        remote: SocketAddr,
        stop: &watch::Receiver<bool>,
        slot: OwnedSemaphorePermit,
    ) -> Connection {
        Connection {
            shared: shared.clone(),
            remote,
            activity: Activity::new(),
            stop: stop.clone(),
            slot: Arc::new(slot),
        }
    }

    /// Serves the connection until it closes, is idle too long, or the server drains it.
    async fn serve(self, stream: TcpStream, http: Arc<Http>) {
        let _ = stream.set_nodelay(true);
        if self.shared.tls.is_none() {
            self.serve_io(stream, false, http).await;
        } else {
            // Boxed: the handshake and a TLS connection's state take several KiB, and
            // inline they would make the task of every plaintext connection as large.
            let tls = Box::pin(self.serve_tls(stream, http));
            tls.await;
        }
    }

    async fn serve_tls(self, stream: TcpStream, http: Arc<Http>) {
        let Some(tls) = &self.shared.tls else { return };
        // The handshake counts against the time to start a request.
        let limit = self.shared.limits.header_read_timeout;
        match tokio::time::timeout(limit, tls.accept(stream)).await {
            Ok(Ok(stream)) => self.serve_io(stream, true, http).await,
            Ok(Err(e)) => tracing::debug!(error = %e, remote = %self.remote, "TLS handshake failed"),
            Err(_) => tracing::debug!(remote = %self.remote, "TLS handshake timed out"),
        }
    }

    async fn serve_io<I>(self, io: I, tls: bool, http: Arc<Http>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let this = Arc::new(self);
        let service = Requests { conn: this.clone(), tls };
        let stop = this.stop.clone();
        let conn = pin!(http.serve(io, service));
        let limits = &this.shared.limits;
        let timeouts = Timeouts { idle: limits.header_read_timeout, write: limits.write_timeout };
        if let Err(e) = this.activity.watch_over(conn, timeouts, stop).await {
            tracing::debug!(error = %e, remote = %this.remote, "connection ended with an error");
        }
    }
}

/// The connection's requests, as hyper hands them over.
struct Requests {
    conn: Arc<Connection>,
    tls: bool,
}

impl Service<hyper::Request<Incoming>> for Requests {
    type Response = hyper::Response<Tracked<Body, Connection>>;
    type Error = Infallible;
    // Boxed: hyper keeps a slot the size of this future in every HTTP/1 connection for as
    // long as it is open, idle or not; boxed, a request's state is allocated while it
    // runs, and the slot holds a pointer.
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        if req.headers().contains_key(http::header::UPGRADE) {
            // What takes the connection over keeps its place until it ends.
            req.extensions_mut().insert(Hold::new(self.conn.slot.clone()));
        }
        // In flight from now until its response has been sent.
        let active = Active::begin(self.conn.clone(), req.version());
        let shared = &self.conn.shared;
        let peer = Peer { remote: self.conn.remote, tls: self.tls };
        let log = AccessLog::start(&req, peer, shared.serve.admission.trust_proxy);
        // The request's head is taken apart here, before the future is built: the future
        // is moved into its box, and so is all it holds.
        let work = match &shared.stack {
            None => Work::Direct(shared.serve.admission.admit(req, Some(peer))),
            Some(stack) => {
                req.extensions_mut().insert(peer);
                Work::Layered(stack.serve(req.map(into_body)))
            }
        };
        Box::pin(async move {
            let conn = active.conn();
            let mut resp = match work {
                Work::Direct(admit) => {
                    let serve = &conn.shared.serve;
                    serve.admission.serve(admit, &serve.engine).await
                }
                Work::Layered(served) => served.await,
            };
            log.finish(&conn.shared, &mut resp);
            Ok(resp.map(|body| Tracked::new(body, active)))
        })
    }
}

/// A request on its way: straight to the lifecycle, or through the app's tower layers.
enum Work {
    Direct(Admit<Incoming>),
    Layered(BoxFuture<'static, hyper::Response<Body>>),
}

/// Whether an accept error only says that the client left (ECONNABORTED, a reset).
fn client_gone(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset};
    matches!(error.kind(), ConnectionAborted | ConnectionReset)
}

/// What the end of a request needs from its start: the version (for the drain's
/// `Connection: close`) and, when someone listens, the access log's fields.
struct AccessLog {
    version: Version,
    logged: Option<Box<(Instant, http::Method, String, SocketAddr)>>,
}

impl AccessLog {
    /// The client is named as the app sees it: behind `trust_proxy` trusted proxies, the
    /// address they forward (`X-Forwarded-For`, `Forwarded`), else the connection's peer.
    fn start<B>(req: &hyper::Request<B>, peer: Peer, trust_proxy: usize) -> AccessLog {
        // The access log's fields are kept only when someone listens.
        let logged = tracing::enabled!(target: "erlen::access", tracing::Level::INFO).then(|| {
            let client = crate::proxy::client_addr(req.headers(), trust_proxy).unwrap_or(peer.remote);
            Box::new((Instant::now(), req.method().clone(), req.uri().path().to_string(), client))
        });
        AccessLog { version: req.version(), logged }
    }

    /// The drain's `Connection: close`, and the access log's line.
    fn finish(self, shared: &Shared, resp: &mut hyper::Response<Body>) {
        if self.version < Version::HTTP_2 && shared.draining.load(Ordering::Relaxed) {
            // Shutting down: this is the connection's last request.
            resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(logged) = self.logged {
            let (start, method, path, remote) = *logged;
            tracing::info!(
                target: "erlen::access",
                %method,
                path,
                status = resp.status().as_u16(),
                duration_us = start.elapsed().as_micros() as u64,
                remote = %remote,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_queued_in_the_backlog_are_taken_in_before_the_listener_closes() {
        let listener = super::super::listen::bind("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..3).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
        let queued = accept_queued(listener);
        assert_eq!(queued.len(), clients.len());
        assert!(std::net::TcpStream::connect(addr).is_err(), "the listener is closed");
    }

    /// Every open connection, idle or not, holds its task: a regression here (a state
    /// held twice, a large future inline) is paid 10,000 times by 10,000 idle clients.
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let limits = Limits::default();
        let app = crate::App::new().build().unwrap();
        let serve = Arc::new(Serve::in_process(app, limits.request.clone(), 0));
        let shared = Arc::new(Shared::new(serve, None, limits.clone(), None));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (stream, remote) = listener.accept().await.unwrap();
        let slot = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let (_stop, stopped) = watch::channel(false);
        let conn =
            Connection { shared, remote, activity: Activity::new(), stop: stopped, slot: Arc::new(slot) };
        let task = conn.serve(stream, Arc::new(Http::new(&limits)));
        let size = std::mem::size_of_val(&task);
        assert!(size <= 2048, "a connection's future takes {size} bytes");
    }

    #[test]
    fn a_client_that_left_before_accept_is_not_a_failure() {
        assert!(client_gone(&std::io::Error::from(std::io::ErrorKind::ConnectionAborted)));
        assert!(client_gone(&std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        assert!(!client_gone(&std::io::Error::from_raw_os_error(24))); // EMFILE
    }
}
