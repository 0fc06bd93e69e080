//! The async backend: the lifecycle runs in the connection's task on the shared runtime.
//! Async handlers are awaited there; sync handlers are moved to the sync pool, at
//! most `blocking_threads` at once when that is set.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::admit::{Admission, Admitted};
use crate::exec::Mode;
use crate::response::Response;

pub(crate) struct Offload {
    mode: Mode,
}

impl Offload {
    /// Sync handlers on the sync pool, at most `blocking_threads` at once when set.
    pub(crate) fn new(blocking_threads: Option<usize>) -> Offload {
        let limit = blocking_threads.map(|n| Arc::new(Semaphore::new(n)));
        Offload { mode: Mode::Offload { limit } }
    }

    /// The request's lifecycle, to run in the calling task.
    pub(crate) fn serve<'a>(
        &'a self,
        admission: &'a Admission,
        admitted: Admitted,
    ) -> impl Future<Output = Response> + Send + 'a {
        // Here a lifecycle whose request is abandoned is dropped: it never goes on unseen.
        crate::dispatch::dispatch(&admission.app, &admission.handle, admitted, &self.mode, &|| false)
    }
}
