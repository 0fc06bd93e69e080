//! Serving over sockets: [`Server`], its [`Backend`]s and the [`ServerHandle`].
//!
//! Both backends share the HTTP layer (`conn`): hyper on the shared runtime, HTTP/1.1
//! with keep-alive and HTTP/2 (h2c, prior knowledge) on one port (`protocol`), with limits
//! that protect the server, on a socket bound by `listen`; `lifetime` closes idle
//! connections and drains them at shutdown. The backends differ only in where the
//! lifecycle runs, which `engine` hides behind one `serve(request) -> response`:
//!
//! * [`Backend::Async`] (`async_backend`): in the connection's task; async handlers are
//!   awaited there, sync handlers go to erlen's sync pool.
//! * [`Backend::Threaded`] (`threaded`): on a fixed pool of worker threads, one request
//!   per worker at a time, like a WSGI server's `gthread` worker; sync handlers run on the
//!   worker, async handlers through the blocking bridge onto the shared runtime. Idle
//!   keep-alive connections stay in the event loop and hold no worker.

mod async_backend;
mod conn;
mod engine;
mod lifetime;
mod listen;
mod protocol;
mod proxy;
mod service;
mod threaded;
mod tls;

pub(crate) use service::LayerFn;
pub use service::{AppService, Stack};

use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::{App, AppCore};
use crate::bridge;

/// Which backend serves the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// hyper on the shared tokio runtime (the default).
    #[default]
    Async,
    /// A pool of `workers` threads, each serving one request at a time.
    Threaded {
        /// How many requests are served at once.
        workers: usize,
    },
}

/// Limits and timeouts; every one is answered with a clear HTTP error, and the server
/// goes on serving.
/// The largest request body a route accepts unless its `body_limit` or the server's says
/// otherwise; the test client applies it too.
pub(crate) const DEFAULT_BODY_LIMIT: u64 = 2 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) body_limit: usize,
    pub(crate) body_read_timeout: Duration,
    pub(crate) body_min_rate: u64,
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) blocking_threads: Option<usize>,
    /// Set only with [`Server::queue_size`]; the threaded backend's default otherwise.
    pub(crate) queue_size: Option<usize>,
    pub(crate) max_connections: usize,
    pub(crate) backlog: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_limit: DEFAULT_BODY_LIMIT as usize,
            body_read_timeout: Duration::from_secs(30),
            body_min_rate: 500,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            request_timeout: None,
            shutdown_timeout: Duration::from_secs(10),
            blocking_threads: None,
            queue_size: None,
            max_connections: listen::default_max_connections(),
            backlog: listen::DEFAULT_BACKLOG,
        }
    }
}

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
pub struct Server {
    addr: io::Result<SocketAddr>,
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
            backend: Backend::Async,
            limits: Limits::default(),
            trust_proxy: 0,
            #[cfg(feature = "tls")]
            tls: None,
        }
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
        self.limits.body_limit = bytes;
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
        self.limits.body_read_timeout = timeout;
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
        self.limits.body_min_rate = bytes_per_second;
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

    /// Largest request head accepted; larger ones get 431 (default 64 KiB, at least 8 KiB).
    pub fn max_header_bytes(mut self, bytes: usize) -> Server {
        self.limits.max_header_bytes = bytes.max(8 * 1024);
        self
    }

    /// Answers 503 when a request takes longer than `timeout` (default: no limit).
    pub fn request_timeout(mut self, timeout: Duration) -> Server {
        self.limits.request_timeout = Some(timeout);
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

    fn spawn_core(self, app: Arc<AppCore>, layers: &[LayerFn]) -> io::Result<ServerHandle> {
        #[cfg(feature = "tls")]
        let tls = self.tls.as_ref().map(tls::Acceptor::new).transpose()?;
        #[cfg(not(feature = "tls"))]
        let tls = None;
        let listener = {
            let _entered = bridge::handle().enter();
            listen::bind(self.addr?, self.limits.backlog)?
        };
        let addr = listener.local_addr()?;
        let (engine, workers) = engine::Engine::start(self.backend, &app, &self.limits)?;
        // Bound but not yet accepting: connections wait in the backlog while the app's
        // before_serving hooks run. If one fails, everything is dropped (the listener closes,
        // the workers exit) and no after_serving hook runs.
        crate::serving::run_before(&app)?;
        let after_serving = Some(app.clone());
        let shared_tls = tls.is_some();
        let (stop_tx, stop_rx) = watch::channel(false);
        let serve =
            Arc::new(service::Serve { app, engine, limits: self.limits, trust_proxy: self.trust_proxy });
        let stack = service::stack(&serve, layers);
        let shared = Arc::new(conn::Shared::new(serve, stack, tls));
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

async fn shutdown_signal() {
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
    workers: Option<threaded::Pool>,
    shutdown_timeout: Duration,
    /// The app whose after_serving hooks run once the server has stopped; taken then.
    after_serving: Option<Arc<AppCore>>,
}

impl ServerHandle {
    /// Blocks until ctrl-c or SIGTERM, then shuts down gracefully: the end of
    /// [`Server::run`] and [`App::run`].
    fn serve_until_signal(self) {
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
            crate::serving::run_after(&app);
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_wait();
    }
}

impl App {
    /// Serves the app until ctrl-c or SIGTERM, as Flask's `app.run()`: on 127.0.0.1:5000
    /// with the async backend, unless `ERLEN_ADDR`, `ERLEN_BACKEND` (`async` or
    /// `threaded`) and `ERLEN_WORKERS` say otherwise. Behind a proxy,
    /// `ERLEN_TRUST_PROXY=1` trusts its `X-Forwarded-*` headers ([`Server::trust_proxy`]).
    ///
    /// It prints the address and the routes, and, as Flask's development server does,
    /// logs every request to stderr (target `erlen::access`): unless the app installed a
    /// `tracing` subscriber of its own, `run` installs one, filtered by `ERLEN_LOG` or else
    /// `RUST_LOG` (default `info`; `ERLEN_LOG=warn` silences the access log), in colour
    /// only on a terminal.
    ///
    /// # Errors
    ///
    /// If the app cannot be built (the error lists every problem, one a line), the
    /// variables are invalid, or the address cannot be bound.
    pub fn run(self) -> io::Result<()> {
        let addr = std::env::var("ERLEN_ADDR").unwrap_or_else(|_| "127.0.0.1:5000".to_string());
        let backend = backend_from_env(
            std::env::var("ERLEN_BACKEND").ok().as_deref(),
            std::env::var("ERLEN_WORKERS").ok().as_deref(),
        )?;
        let trust_proxy = trust_proxy_from_env(std::env::var("ERLEN_TRUST_PROXY").ok().as_deref())?;
        let (app, layers) = self.build_with_layers()?;
        let routes = route_list(&app);
        let server = Server::bind(addr.as_str()).backend(backend).trust_proxy(trust_proxy);
        let handle = server.spawn_core(app, &layers).map_err(|e| {
            if e.kind() == io::ErrorKind::AddrInUse {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{addr} is in use by another program: stop it, or set ERLEN_ADDR to another address"
                    ),
                )
            } else {
                e
            }
        })?;
        let mode = match backend {
            Backend::Async => "async backend".to_string(),
            Backend::Threaded { workers } => format!("threaded backend, {workers} workers"),
        };
        // Before the banner: a client that waits for it (a test, a script) must find its
        // first request logged.
        log_requests_by_default();
        // Not eprintln!, which panics when stderr is closed.
        let banner = format!(" * Running on http://{} ({mode}; ctrl-c to quit)\n{routes}", handle.addr());
        let _ = writeln!(io::stderr(), "{banner}");
        handle.serve_until_signal();
        Ok(())
    }
}

/// The routes, one a line, or a warning that there are none: a view that was never
/// registered with `handlers![...]` is missing from this list.
fn route_list(app: &AppCore) -> String {
    let routes = app.router.routes();
    if routes.is_empty() {
        return " * Warning: the app has no routes, so every request is a 404. Register the views: \
                App::new().register(handlers![index, ...])"
            .to_string();
    }
    let routes: Vec<_> =
        routes.into_iter().map(|(pattern, methods, e)| (methods.join(", "), pattern, e)).collect();
    let methods_width = routes.iter().map(|(m, _, _)| m.len()).max().unwrap_or(0);
    let pattern_width = routes.iter().map(|(_, p, _)| p.len()).max().unwrap_or(0);
    let mut list = String::from(" * Routes:");
    for (methods, pattern, endpoint) in routes {
        let name = app.endpoints.get(endpoint).map(|e| &*e.name).unwrap_or("?");
        list.push_str(&format!("\n     {methods:methods_width$}  {pattern:pattern_width$}  {name}"));
    }
    list
}

/// Installs a `tracing` subscriber that logs to stderr, unless one is set already.
fn log_requests_by_default() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;

    let (var, directives) = match (std::env::var("ERLEN_LOG"), std::env::var("RUST_LOG")) {
        (Ok(d), _) => ("ERLEN_LOG", d),
        (Err(_), Ok(d)) => ("RUST_LOG", d),
        _ => ("", "info".to_string()),
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        let _ = writeln!(
            io::stderr(),
            " * Warning: {var}={directives:?} is not a valid log filter ({e}); logging at `info`"
        );
        EnvFilter::new("info")
    });
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // Fails only when a subscriber is set already: the app's own, which it keeps.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        // Else a failed write is reported with eprintln!, which panics when stderr is closed.
        .log_internal_errors(false)
        .try_init();
}

fn backend_from_env(backend: Option<&str>, workers: Option<&str>) -> io::Result<Backend> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
    let workers =
        match workers {
            None => default_workers(),
            Some(w) => w.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                invalid(format!("ERLEN_WORKERS={w:?}: expected a number of threads above 0"))
            })?,
        };
    match backend.map(str::trim) {
        None | Some("async") => Ok(Backend::Async),
        Some("threaded") => Ok(Backend::Threaded { workers }),
        Some(other) => Err(invalid(format!("ERLEN_BACKEND={other:?}: expected `async` or `threaded`"))),
    }
}

fn trust_proxy_from_env(hops: Option<&str>) -> io::Result<usize> {
    match hops {
        None => Ok(0),
        Some(h) => h.trim().parse::<usize>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("ERLEN_TRUST_PROXY={h:?}: expected the number of proxies in front of the server, such as 1 (0 trusts none)"),
            )
        }),
    }
}

/// Twice the cores, at least 4: threads mostly wait on I/O.
fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(4).max(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_without_routes_is_announced() {
        let empty = App::new().build().unwrap();
        assert!(route_list(&empty).contains("the app has no routes"), "{}", route_list(&empty));
    }

    #[test]
    fn backend_from_the_environment() {
        assert_eq!(backend_from_env(None, None).unwrap(), Backend::Async);
        assert_eq!(backend_from_env(Some("threaded"), Some("3")).unwrap(), Backend::Threaded { workers: 3 });
        assert!(backend_from_env(Some("gevent"), None).unwrap_err().to_string().contains("expected `async`"));
        assert!(backend_from_env(Some("threaded"), Some("0")).is_err());
    }

    #[test]
    fn trust_proxy_from_the_environment() {
        assert_eq!(trust_proxy_from_env(None).unwrap(), 0);
        assert_eq!(trust_proxy_from_env(Some(" 2 ")).unwrap(), 2);
        assert!(trust_proxy_from_env(Some("yes")).unwrap_err().to_string().contains("number of proxies"));
    }

    #[test]
    fn unresolvable_addresses_are_reported_by_spawn() {
        let err = Server::bind("not an address").spawn(App::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
