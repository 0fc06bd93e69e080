//! [`Server`]: binding, starting the backend and the app's serving hooks, and the
//! [`ServerHandle`] that stops it gracefully.

use std::any::Any;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::engine::Engine;
use super::limits::{Backend, Limits};
use super::service::{self, Serve};
use super::threaded::Pool;
#[cfg(feature = "tls")]
use super::tls;
use super::{conn, listen};
use crate::admit::Admission;
use crate::app::{App, AppCore, LayerFn};
use crate::bridge;
use crate::context::{AppHandle, Features, RequestContext};
use crate::shutdown::Shutdown;

/// A server for an [`App`], configured then started with [`Server::spawn`] or
/// [`Server::run`].
///
/// ```
/// use erlen::prelude::*;
/// use erlen::{Backend, Server};
///
/// #[get("/")]
/// async fn index() -> &'static str { "hi" }
///
/// let server = Server::bind("127.0.0.1:0")
///     .backend(Backend::Threaded { workers: 4 })
///     .spawn(App::new().register(handlers![index]))?;
/// let addr = server.addr();
/// # let _ = addr;
/// server.shutdown(); // graceful: in-flight requests finish
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a Server does nothing until it is started: `.spawn(app)` or `.run(app)`"]
pub struct Server {
    addr: io::Result<SocketAddr>,
    /// A socket bound already ([`Server::from_listener`]), served instead of binding `addr`.
    listener: Option<std::net::TcpListener>,
    backend: Backend,
    limits: Limits,
    trust_proxy: usize,
    #[cfg(feature = "tls")]
    tls: Option<tls::Pem>,
}

impl Server {
    /// A server that will listen on `addr` (`"127.0.0.1:0"` picks a free port). An address
    /// that does not resolve is reported by `spawn` or `run`.
    pub fn bind(addr: impl ToSocketAddrs) -> Server {
        let addr = addr.to_socket_addrs().and_then(|mut addrs| {
            addrs
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to nothing"))
        });
        Server {
            addr,
            listener: None,
            backend: Backend::Async,
            limits: Limits::default(),
            trust_proxy: 0,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// A server on a socket that is bound already: one passed by systemd's socket
    /// activation (or any `LISTEN_FDS` launcher), or bound by a test. [`App::run`] and
    /// [`App::cli`] take a socket passed by `LISTEN_FDS` by themselves.
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// let socket = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = Server::from_listener(socket).spawn(App::new())?;
    /// # let _ = server.addr();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_listener(listener: std::net::TcpListener) -> Server {
        let addr = listener.local_addr();
        Server { listener: Some(listener), ..Server::bind(addr.unwrap_or(([127, 0, 0, 1], 0).into())) }
    }

    /// Trusts `hops` proxies in front of the server (a load balancer, nginx), as Werkzeug's
    /// `ProxyFix`: [`Request::remote_addr`](crate::Request::remote_addr),
    /// [`Request::scheme`](crate::Request::scheme), [`Request::host`](crate::Request::host)
    /// and `url_for!(.., _external = true)` then follow the value `hops` places from the
    /// right of `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` (or, when a
    /// request has none of them, of RFC 7239's `Forwarded`). Each proxy appends what it
    /// saw; values further left come from the client and are never trusted. A value
    /// missing or malformed leaves that field as the connection has it.
    ///
    /// The default, 0, ignores these headers: anyone can send them. Set it to exactly the
    /// number of proxies every request passes through, and let the server be reached
    /// only through them. [`App::run`] reads `ERLEN_TRUST_PROXY`.
    ///
    /// A proxy that sets `Forwarded` rather than `X-Forwarded-*` must remove
    /// `X-Forwarded-*` headers that clients send, since those are read first.
    ///
    /// ```
    /// use erlen::Server;
    ///
    /// // nginx on the same machine, in front of erlen:
    /// let server = Server::bind("127.0.0.1:8000").trust_proxy(1);
    /// # let _ = server;
    /// ```
    pub fn trust_proxy(mut self, hops: usize) -> Server {
        self.trust_proxy = hops;
        self
    }

    /// Serves HTTPS with the certificate chain `cert_pem` (the server's certificate first)
    /// and its private key `key_pem` (PKCS#8, RSA or EC), both PEM text, on rustls with
    /// the `ring` provider: TLS 1.2 and 1.3, HTTP/2 or HTTP/1.1 chosen by ALPN. Needs the
    /// `tls` feature. Invalid PEM or a key that does not fit is reported by `spawn` or
    /// `run`. Requests then have `req.scheme() == "https"`.
    ///
    /// ```no_run
    /// use erlen::prelude::*;
    ///
    /// let cert = std::fs::read("cert.pem")?;
    /// let key = std::fs::read("key.pem")?;
    /// Server::bind("0.0.0.0:8443").tls(cert, key).run(App::new())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Server {
        self.tls = Some(tls::Pem { cert: cert_pem.into(), key: key_pem.into() });
        self
    }

    /// Chooses the backend (default: [`Backend::Async`]).
    pub fn backend(mut self, backend: Backend) -> Server {
        self.backend = backend;
        self
    }

    /// Largest request body accepted; larger ones get 413 (default 2 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Server {
        self.limits.request.body_limit = bytes as u64;
        self
    }

    /// How long a client may take to send a request's body, from the end of its headers
    /// (default 30 s). A body still arriving then, trickled or stalled, is answered 408,
    /// and an HTTP/1 connection is closed. Raise it along with [`Server::body_limit`] for
    /// large uploads over slow links.
    ///
    /// A body the view streams ([`BodyStream`](crate::BodyStream),
    /// [`BodyReader`](crate::BodyReader), [`Multipart`](crate::Multipart)) may take
    /// longer as long as it keeps coming: this is then the longest wait for its next
    /// piece, and [`Server::body_min_rate`] bounds it in all.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Server {
        self.limits.request.body_read_timeout = timeout;
        self
    }

    /// The slowest a streamed body may arrive, on average, once its first
    /// [`Server::body_read_timeout`] has passed: 500 bytes a second by default (Apache's
    /// `MinRate`); slower is answered 408. A client trickling a byte now and then cannot
    /// hold an upload view (and, on the threaded backend, its worker) for ever. `0` turns
    /// the bound off.
    ///
    /// ```
    /// let server = erlen::Server::bind("127.0.0.1:0").body_min_rate(64 * 1024);
    /// # let _ = server;
    /// ```
    pub fn body_min_rate(mut self, bytes_per_second: u64) -> Server {
        self.limits.request.body_min_rate = bytes_per_second;
        self
    }

    /// How long a connection may go without starting a request: from accept, whatever
    /// protocol it speaks (a client that sends nothing, or part of the HTTP/2 preface, is
    /// closed), and from the end of its previous request, on HTTP/1.1 keep-alive and idle
    /// HTTP/2 connections alike. It also bounds sending one request's headers, against
    /// slow clients (slowloris), and HTTP/2 clients must answer pings within it while a
    /// request runs. The connection is closed when it runs out (default 10 s).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Server {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// How long a response may wait for its client to read it (default 30 s without
    /// progress, nginx's `send_timeout`): a client that stops reading a large response,
    /// or an HTTP/2 client that does not open its flow-control window, has its connection
    /// closed then, so that it holds neither the connection nor the response's buffers
    /// for ever. Progress is the client taking what was sent; an event stream that has
    /// nothing to send is not waiting.
    ///
    /// ```
    /// let server = erlen::Server::bind("127.0.0.1:0").write_timeout(std::time::Duration::from_secs(60));
    /// # let _ = server;
    /// ```
    pub fn write_timeout(mut self, timeout: Duration) -> Server {
        self.limits.write_timeout = timeout;
        self
    }

    /// Largest request head accepted; larger ones get 431 (default 64 KiB, at least 8 KiB).
    pub fn max_header_bytes(mut self, bytes: usize) -> Server {
        self.limits.max_header_bytes = bytes.max(8 * 1024);
        self
    }

    /// Answers 503 when a request takes longer than `timeout` (default: no limit).
    pub fn request_timeout(mut self, timeout: Duration) -> Server {
        self.limits.request.request_timeout = Some(timeout);
        self
    }

    /// How long a graceful shutdown may take in all (default 10 s): in-flight requests
    /// finish and idle connections get their grace within it; what is left then is closed.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Server {
        self.limits.shutdown_timeout = timeout;
        self
    }

    /// On the async backend, how many sync handlers may run at once on the sync pool
    /// (default: the pool's bound, 512 or `ERLEN_BLOCKING_THREADS`). A setting of the
    /// async backend: [`Server::spawn`] refuses it with the threaded one.
    pub fn blocking_threads(mut self, threads: usize) -> Server {
        self.limits.blocking_threads = Some(threads.max(1));
        self
    }

    /// On the threaded backend, how many requests may wait for a worker; beyond that
    /// they get 503 (default 1024). A setting of the threaded backend: [`Server::spawn`]
    /// refuses it with the async one.
    pub fn queue_size(mut self, size: usize) -> Server {
        self.limits.queue_size = Some(size.max(1));
        self
    }

    /// How many connections may be open at once (default: three quarters of the process's
    /// descriptor limit, `ulimit -n`). At the limit the server stops accepting: new
    /// connections wait in the listen backlog until one closes, and are then served.
    pub fn max_connections(mut self, connections: usize) -> Server {
        self.limits.max_connections = connections.max(1);
        self
    }

    /// How many connections the kernel holds for the server before it accepts them
    /// (default 2048, as gunicorn; capped by the kernel's `net.core.somaxconn`). Beyond
    /// it, clients' connection attempts are dropped and retried a second or more later.
    pub fn listen_backlog(mut self, backlog: u32) -> Server {
        self.limits.backlog = backlog.max(1);
        self
    }

    /// Starts serving in the background and returns at once. Works from plain code and
    /// from inside a tokio runtime.
    ///
    /// The app's `#[before_serving]` hooks run here, in registration order, after the
    /// address is bound and before the first connection is accepted.
    ///
    /// # Errors
    ///
    /// If the app cannot be built (the error lists why), the address cannot be bound, or a
    /// `#[before_serving]` hook returns an `Err` or panics (the error names the hook and
    /// says what it returned; nothing listens on the address afterwards).
    pub fn spawn(self, app: App) -> io::Result<ServerHandle> {
        let (app, layers) = app.build_with_layers()?;
        self.spawn_core(app, &layers)
    }

    pub(crate) fn spawn_core(self, app: Arc<AppCore>, layers: &[LayerFn]) -> io::Result<ServerHandle> {
        #[cfg(feature = "tls")]
        let tls = self.tls.as_ref().map(tls::Acceptor::new).transpose()?;
        #[cfg(not(feature = "tls"))]
        let tls = None;
        let listener = {
            let _entered = bridge::handle().enter();
            match self.listener {
                Some(listener) => {
                    listener.set_nonblocking(true)?;
                    tokio::net::TcpListener::from_std(listener)?
                }
                None => listen::bind(self.addr?, self.limits.backlog)?,
            }
        };
        let addr = listener.local_addr()?;
        refuse_debug_beyond_loopback(app.features.get::<crate::debug_page::DebugMode>().is_some(), addr)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        // The app as its requests' context sees it: with this server's shutdown signal.
        let handle: Arc<dyn AppHandle> =
            Arc::new(Served { app: app.clone(), shutdown: Shutdown::new(stop_rx.clone()) });
        let (engine, workers) = Engine::start(self.backend, &app, &handle, &self.limits)?;
        // Bound but not yet accepting: connections wait in the backlog while the app's
        // before_serving hooks run. If one fails, everything is dropped (the listener closes,
        // the workers exit) and no after_serving hook runs.
        app.serving.run_before(&app.state)?;
        let after_serving = Some(app.clone());
        let shared_tls = tls.is_some();
        let admission =
            Admission { app, handle, limits: self.limits.request.clone(), trust_proxy: self.trust_proxy };
        let serve = Arc::new(Serve { admission, engine });
        let stack = service::stack(&serve, layers);
        let shared = Arc::new(conn::Shared::new(serve, stack, self.limits, tls));
        let shutdown_timeout = shared.limits.shutdown_timeout;
        let task = bridge::handle().spawn(conn::serve(listener, shared, stop_rx));
        tracing::info!(%addr, backend = ?self.backend, tls = shared_tls, "erlen is listening");
        Ok(ServerHandle { addr, stop: stop_tx, task: Some(task), workers, shutdown_timeout, after_serving })
    }

    /// Serves until ctrl-c or SIGTERM, then shuts down gracefully. Blocks.
    ///
    /// # Errors
    ///
    /// As [`Server::spawn`].
    pub fn run(self, app: App) -> io::Result<()> {
        self.spawn(app)?.serve_until_signal();
        Ok(())
    }
}

/// Debug mode's page shows the app's inside: it is served on loopback only, unless
/// `ERLEN_DEBUG_ANY_HOST=1` says the network is the developer's alone.
pub(crate) fn refuse_debug_beyond_loopback(debug: bool, addr: SocketAddr) -> io::Result<()> {
    if !debug || addr.ip().is_loopback() || crate::env::debug_any_host() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "debug mode is refused on {addr}, which is not a loopback address: its error page shows the app's code, \
             backtraces and requests to whoever asks. Serve on 127.0.0.1 (`--host 127.0.0.1`), turn debug mode off, \
             or set ERLEN_DEBUG_ANY_HOST=1 if this network is yours alone"
        ),
    ))
}

/// Resolves at ctrl-c or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only ctrl-c stops the server");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A running server. [`ServerHandle::shutdown`] (or dropping the handle) stops it
/// gracefully, losing no request of a keep-alive client: it stops accepting, lets
/// in-flight requests finish, answers the next request on each open HTTP/1 connection
/// with `Connection: close` (an HTTP/2 connection gets a GOAWAY), and closes a connection
/// that stays idle after a grace of one second. All within the shutdown timeout.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    workers: Option<Pool>,
    shutdown_timeout: Duration,
    /// The app whose after_serving hooks run once the server has stopped; taken then.
    after_serving: Option<Arc<AppCore>>,
}

impl ServerHandle {
    /// Blocks until ctrl-c or SIGTERM, then shuts down gracefully: the end of
    /// [`Server::run`] and [`App::run`].
    pub(crate) fn serve_until_signal(self) {
        bridge::block_on(shutdown_signal());
        tracing::info!("shutting down gracefully");
        self.shutdown();
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server gracefully and waits until it has stopped: no new connection is
    /// accepted, in-flight requests finish (up to the shutdown timeout), the threaded
    /// backend's workers exit, and then the app's `#[after_serving]` hooks run, once.
    pub fn shutdown(mut self) {
        self.stop_and_wait();
    }

    fn stop_and_wait(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = bridge::block_on(task);
        }
        if let Some(pool) = self.workers.take() {
            pool.join(self.shutdown_timeout);
        }
        if let Some(app) = self.after_serving.take() {
            app.serving.run_after(&app.state);
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_wait();
    }
}

/// The app as the request context of a server's requests sees it: the app, with the
/// server's shutdown signal, which ends event streams and WebSockets when it turns.
struct Served {
    app: Arc<AppCore>,
    shutdown: Shutdown,
}

impl AppHandle for Served {
    fn features(&self) -> &Features {
        self.app.features()
    }

    fn endpoint_name(&self, index: usize) -> &str {
        self.app.endpoint_name(index)
    }

    fn url_for(
        &self,
        ctx: &RequestContext,
        endpoint: &str,
        values: &[(&str, &str)],
        query: bool,
        external: bool,
        anchor: Option<&str>,
    ) -> Result<String, String> {
        self.app.url_for(ctx, endpoint, values, query, external, anchor)
    }

    fn shutdown(&self) -> Option<&Shutdown> {
        Some(&self.shutdown)
    }

    fn as_any(&self) -> &dyn Any {
        self.app.as_any()
    }
}
