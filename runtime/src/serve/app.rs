//! How an [`App`] is served: [`App::run`], Flask's `app.run()`, on 127.0.0.1:5000 (or what
//! the `ERLEN_*` variables say) with a request log and the list of routes; and
//! [`App::into_service`], the app as a tower service to mount in another server.

use std::io::{self, Write};

use super::limits::Backend;
use super::listen;
use super::server::{Server, ServerHandle};
use super::service::AppService;
use crate::admit::RequestLimits;
use crate::app::{App, AppCore, BuildError};

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
    ///
    /// A listening socket passed by the `LISTEN_FDS` protocol (systemd's socket
    /// activation, systemfd) is served instead of `ERLEN_ADDR`.
    pub fn run(self) -> io::Result<()> {
        start(self, &RunOptions::from_env()?)?.serve_until_signal();
        Ok(())
    }
}

/// How [`App::run`] and the command line's `run` serve: from the `ERLEN_*` variables,
/// which the command line's flags then override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunOptions {
    /// `host:port`.
    pub(crate) addr: String,
    pub(crate) backend: Backend,
    pub(crate) trust_proxy: usize,
}

impl RunOptions {
    /// `ERLEN_ADDR` (default 127.0.0.1:5000), `ERLEN_BACKEND`, `ERLEN_WORKERS`,
    /// `ERLEN_TRUST_PROXY`.
    pub(crate) fn from_env() -> io::Result<RunOptions> {
        let var = |name: &str| std::env::var(name).ok();
        Ok(RunOptions {
            addr: var("ERLEN_ADDR").unwrap_or_else(|| "127.0.0.1:5000".to_string()),
            backend: backend_from_env(var("ERLEN_BACKEND").as_deref(), var("ERLEN_WORKERS").as_deref())?,
            trust_proxy: trust_proxy_from_env(var("ERLEN_TRUST_PROXY").as_deref())?,
        })
    }
}

/// Builds the app and starts serving it as `options` say (on the socket passed by
/// `LISTEN_FDS`, if any), with the request log, and prints the address and the routes.
pub(crate) fn start(app: App, options: &RunOptions) -> io::Result<ServerHandle> {
    let RunOptions { addr, backend, trust_proxy } = options;
    let (app, layers) = app.build_with_layers()?;
    let routes = route_list(&app);
    let inherited = listen::inherited()?;
    let passed = inherited.is_some();
    let server = match inherited {
        Some(socket) => Server::from_listener(socket),
        None => Server::bind(addr.as_str()),
    };
    let server = server.backend(*backend).trust_proxy(*trust_proxy);
    let handle = server.spawn_core(app, &layers).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            io::Error::new(
                e.kind(),
                format!("{addr} is in use by another program: stop it, or set ERLEN_ADDR (or --port) to another address"),
            )
        } else {
            e
        }
    })?;
    let mode = match backend {
        Backend::Async => "async backend".to_string(),
        Backend::Threaded { workers } => format!("threaded backend, {workers} workers"),
    };
    let socket = if passed { ", on the socket passed by LISTEN_FDS" } else { "" };
    // Before the banner: a client that waits for it (a test, a script) must find its
    // first request logged.
    log_requests_by_default();
    // Not eprintln!, which panics when stderr is closed.
    let banner = format!(" * Running on http://{} ({mode}{socket}; ctrl-c to quit)\n{routes}", handle.addr());
    let _ = writeln!(io::stderr(), "{banner}");
    Ok(handle)
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

pub(crate) fn backend_from_env(backend: Option<&str>, workers: Option<&str>) -> io::Result<Backend> {
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

impl App {
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
        Ok(AppService::new(app, layers.into(), RequestLimits::default(), 0))
    }
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
