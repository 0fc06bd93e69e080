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

    pub(crate) async fn serve(&self, app: &Arc<AppCore>, request: Box<Request>) -> Response {
        // Boxed: hyper writes each request's service future into its connection's slot, so
        // a small future (a pointer here) is cheaper to start than the lifecycle's state
        // machine inline, even with the allocation.
        Box::pin(crate::dispatch::dispatch(app, request, &self.mode)).await
    }
}
