//! The async backend: the lifecycle runs in the connection's task on the shared runtime.
//! Async handlers are awaited there; sync handlers are moved to the sync pool, at
//! most `blocking_threads` at once when that is set.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::Limits;
use crate::app::AppCore;
use crate::exec::Mode;
use crate::request::Request;
use crate::response::Response;

pub(crate) struct Offload {
    mode: Mode,
}

impl Offload {
    pub(crate) fn new(limits: &Limits) -> Offload {
        let limit = limits.blocking_threads.map(|n| Arc::new(Semaphore::new(n)));
        Offload { mode: Mode::Offload { limit } }
    }

    /// The request's lifecycle, to run in the calling task.
    pub(crate) fn serve<'a>(
        &'a self,
        app: &'a Arc<AppCore>,
        request: Box<Request>,
    ) -> impl Future<Output = Response> + Send + 'a {
        crate::dispatch::dispatch(app, request, &self.mode)
    }
}
