//! Where a request's lifecycle runs: the one thing the two backends differ in. The
//! connection layer and the tower service hand every request to [`Engine::serve`] and get
//! its response back, whatever the backend.

use std::io;
use std::sync::Arc;

use super::{Backend, Limits, async_backend, threaded};
use crate::app::AppCore;
use crate::request::Request;
use crate::response::Response;

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
        limits: &Limits,
    ) -> io::Result<(Engine, Option<threaded::Pool>)> {
        Ok(match backend {
            Backend::Async => (Engine::Async(async_backend::Offload::new(limits)), None),
            Backend::Threaded { workers } => {
                let (workers, pool) =
                    threaded::Workers::start(app.clone(), workers.max(1), limits.queue_size)?;
                (Engine::Threaded(workers), Some(pool))
            }
        })
    }

    /// Runs the request's lifecycle and returns its response; never fails (a full queue
    /// or a server shutting down is a 503 response).
    pub(crate) async fn serve(&self, app: &Arc<AppCore>, request: Box<Request>) -> Response {
        match self {
            Engine::Async(offload) => offload.serve(app, request).await,
            Engine::Threaded(workers) => workers.serve(request).await,
        }
    }
}
