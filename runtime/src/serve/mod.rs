//! Serving over sockets: [`Server`], its [`Backend`]s and the [`ServerHandle`].
//!
//! `app` is how an app is run from `main` (`App::run`, and the command line's `run`), on
//! an address or on a socket passed by `LISTEN_FDS` (`listen`).
//!
//! Both backends share the HTTP layer (`conn`): hyper on the shared runtime, HTTP/1.1
//! with keep-alive and HTTP/2 (h2c, prior knowledge) on one port (`protocol`), with limits
//! that protect the server, on a socket bound by `listen`; `lifetime` closes idle
//! connections and drains them at shutdown. Every request is admitted to the app by
//! `crate::admit`, as the test client's are. The backends differ only in where the
//! lifecycle runs, which `engine` hides behind one `run(request) -> response`:
//!
//! * [`Backend::Async`] (`async_backend`): in the connection's task; async handlers are
//!   awaited there, sync handlers go to erlen's sync pool.
//! * [`Backend::Threaded`] (`threaded`): on a fixed pool of worker threads, one request
//!   per worker at a time, like a WSGI server's `gthread` worker; sync handlers run on the
//!   worker, async handlers through the blocking bridge onto the shared runtime. Idle
//!   keep-alive connections stay in the event loop and hold no worker.

mod app;
mod async_backend;
mod conn;
mod engine;
mod lifetime;
mod limits;
mod listen;
mod protocol;
mod server;
mod service;
mod threaded;
mod tls;

pub(crate) use app::{RunOptions, backend_from_env, start};
pub use limits::Backend;
pub(crate) use listen::{DEFAULT_BACKLOG, bind as bind_listener, inherited as inherited_listener};
pub use server::{Server, ServerHandle};
pub(crate) use server::{refuse_debug_beyond_loopback, shutdown_signal};
pub use service::AppService;
pub(crate) use service::Serve;
