//! How the lifecycle calls user code: a backend only chooses where sync functions run.
//!
//! Async handlers are always awaited in place (on the async backend that is the
//! connection's task on the runtime; on the threaded backend, the worker thread parked on
//! the shared runtime through the bridge). Sync handlers either run inline (threaded
//! worker: it is a thread made for blocking) or are moved to the sync pool (`pool`), so
//! they never stall the runtime's worker threads. Panics are caught here, once.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::Semaphore;

use crate::error::HttpError;
use crate::request::Request;

/// Where sync handlers run.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    /// On erlen's sync pool (see `pool`), with at most `limit` at once when set.
    Offload { limit: Option<Arc<Semaphore>> },
    /// On the calling thread (a worker of the threaded backend).
    Inline,
}

/// The request was lost with a blocking task the runtime cancelled (it is shutting down).
#[derive(Debug)]
pub(crate) struct Lost;

impl Mode {
    /// Runs sync user code `f` with the request, returning the request with the result.
    pub(crate) async fn call_sync<R: Send + 'static>(
        &self,
        mut req: Box<Request>,
        f: impl FnOnce(&mut Request) -> Result<R, HttpError> + Send + 'static,
    ) -> Result<(Box<Request>, Result<R, HttpError>), Lost> {
        let call = move || {
            let out = catch_unwind(AssertUnwindSafe(|| f(&mut req)))
                .unwrap_or_else(|panic| Err(HttpError::from_panic(&*panic)));
            (req, out)
        };
        match self {
            Mode::Inline => Ok(call()),
            Mode::Offload { limit } => {
                let _permit = match limit {
                    Some(sem) => Some(sem.clone().acquire_owned().await.map_err(|_| Lost)?),
                    None => None,
                };
                let (done, result) = tokio::sync::oneshot::channel();
                crate::pool::global().execute(move || {
                    let _ = done.send(call());
                });
                result.await.map_err(|_| Lost)
            }
        }
    }
}

/// Awaits async user code, turning a panic into a 500 error.
pub(crate) async fn call_async<R>(fut: impl Future<Output = Result<R, HttpError>>) -> Result<R, HttpError> {
    AssertUnwindSafe(fut).catch_unwind().await.unwrap_or_else(|panic| Err(HttpError::from_panic(&*panic)))
}
