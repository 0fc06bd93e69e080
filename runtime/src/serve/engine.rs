//! Where a request's lifecycle runs: the one thing the two backends differ in. The
//! connection layer and the tower service hand every request to [`Engine::serve`] and get
//! its response back, whatever the backend.

use std::io;

use futures::future::Either;
use std::sync::Arc;

use super::limits::{Backend, Limits};
use super::{async_backend, threaded};
use crate::admit::{Admission, Admitted};
use crate::app::AppCore;
use crate::context::AppHandle;
use crate::response::Response;

/// How many requests may wait for a worker of the threaded backend, by default.
const DEFAULT_QUEUE_SIZE: usize = 1024;

/// Refuses a setting of the other backend: it would be silently ignored.
fn check_settings(backend: Backend, limits: &Limits) -> io::Result<()> {
    let problem = match backend {
        Backend::Async if limits.queue_size.is_some() => {
            "`Server::queue_size` sets how many requests wait for a worker of the threaded backend, \
             and this server uses the async backend: remove it, or choose `Backend::Threaded { workers }`"
        }
        Backend::Threaded { .. } if limits.blocking_threads.is_some() => {
            "`Server::blocking_threads` bounds the sync handlers of the async backend, and this server \
             uses the threaded backend, where sync handlers run on its workers: set `Backend::Threaded { workers }` instead"
        }
        _ => return Ok(()),
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, problem))
}

pub(crate) enum Engine {
    /// In the connection's task; sync handlers on the sync pool.
    Async(async_backend::Offload),
    /// On a fixed pool of worker threads, one request per worker.
    Threaded(threaded::Workers),
}

impl Engine {
    /// Starts the engine of `backend` for `app`; the threaded one returns its worker
    /// threads, to join at shutdown.
    pub(crate) fn start(
        backend: Backend,
        app: &Arc<AppCore>,
        handle: &Arc<dyn AppHandle>,
        limits: &Limits,
    ) -> io::Result<(Engine, Option<threaded::Pool>)> {
        check_settings(backend, limits)?;
        Ok(match backend {
            Backend::Async => (Engine::Async(async_backend::Offload::new(limits.blocking_threads)), None),
            Backend::Threaded { workers } => {
                let queue_size = limits.queue_size.unwrap_or(DEFAULT_QUEUE_SIZE);
                let (workers, pool) =
                    threaded::Workers::start(app.clone(), handle.clone(), workers.max(1), queue_size)?;
                (Engine::Threaded(workers), Some(pool))
            }
        })
    }
}

impl crate::admit::Engine for Engine {
    /// Runs the request's lifecycle and returns its response; never fails (a full queue
    /// or a server shutting down is a 503 response). The backend's future is returned as
    /// it is, not moved into one more state machine.
    fn run<'a>(
        &'a self,
        admission: &'a Admission,
        admitted: Admitted,
    ) -> impl Future<Output = Response> + Send + 'a {
        match self {
            Engine::Async(offload) => Either::Left(offload.serve(admission, admitted)),
            Engine::Threaded(workers) => Either::Right(workers.serve(admitted)),
        }
    }
}
