//! What a server is configured with: its backend and its limits.

use std::time::Duration;

use super::listen;
use crate::admit::RequestLimits;

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
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// What each request is admitted within: body size and pace, its timeout.
    pub(crate) request: RequestLimits,
    pub(crate) header_read_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) blocking_threads: Option<usize>,
    /// Set only with [`Server::queue_size`](super::Server::queue_size); the threaded
    /// backend's default otherwise.
    pub(crate) queue_size: Option<usize>,
    pub(crate) max_connections: usize,
    pub(crate) backlog: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request: RequestLimits::default(),
            header_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            shutdown_timeout: Duration::from_secs(10),
            blocking_threads: None,
            queue_size: None,
            max_connections: listen::default_max_connections(),
            backlog: listen::DEFAULT_BACKLOG,
        }
    }
}
