//! How the lifecycle calls user code: a backend only chooses where sync functions run.
//!
//! Async handlers are always awaited in place (on the async backend that is the
//! connection's task on the runtime; on the threaded backend, the worker thread parked on
//! the shared runtime through the bridge). Sync handlers either run inline (threaded
//! worker: it is a thread made for blocking) or are moved to the sync pool (`pool`), so
//! they never stall the runtime's worker threads. Panics are caught here, once.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use tokio::sync::Semaphore;

use crate::context::RequestContext;
use crate::error::HttpError;
use crate::request::Request;
use crate::sync::lock;

/// Where sync handlers run.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    /// On erlen's sync pool (see `pool`), with at most `limit` at once when set.
    Offload { limit: Option<Arc<Semaphore>> },
    /// On the calling thread (a worker of the threaded backend).
    Inline,
}

impl Mode {
    /// Runs sync user code `f` with the request, inside the request context `ctx`,
    /// returning the request with the result.
    pub(crate) async fn call_sync<R: Send + 'static>(
        &self,
        mut req: Box<Request>,
        ctx: Arc<RequestContext>,
        f: impl FnOnce(&mut Request) -> Result<R, HttpError> + Send + 'static,
    ) -> (Box<Request>, Result<R, HttpError>) {
        let call = move || {
            let out = crate::context::enter_sync(ctx, || catch_unwind(AssertUnwindSafe(|| f(&mut req))))
                .unwrap_or_else(|panic| Err(HttpError::from_panic(&*panic)));
            (req, out)
        };
        match self {
            Mode::Inline => call(),
            Mode::Offload { limit } => {
                // The semaphore is never closed, so a permit always comes.
                let _permit = match limit {
                    Some(sem) => sem.clone().acquire_owned().await.ok(),
                    None => None,
                };
                let offloaded = Arc::new(Offloaded {
                    call: Mutex::new(Some(call)),
                    out: Mutex::new(None),
                    waker: AtomicWaker::new(),
                });
                crate::pool::global().execute(offloaded.clone());
                std::future::poll_fn(|cx| offloaded.poll_out(cx)).await
            }
        }
    }
}

/// A sync call on its way to the pool and back, in one allocation: the call, the slot for
/// its output, and the waker of the task awaiting it.
struct Offloaded<F, T> {
    call: Mutex<Option<F>>,
    out: Mutex<Option<T>>,
    waker: AtomicWaker,
}

impl<F: FnOnce() -> T + Send, T: Send> crate::pool::Task for Offloaded<F, T> {
    fn run(&self) {
        let call = lock(&self.call).take();
        if let Some(call) = call {
            let out = call();
            *lock(&self.out) = Some(out);
            self.waker.wake();
        }
    }
}

impl<F, T> Offloaded<F, T> {
    fn poll_out(&self, cx: &mut Context<'_>) -> Poll<T> {
        if let Some(out) = lock(&self.out).take() {
            return Poll::Ready(out);
        }
        self.waker.register(cx.waker());
        // The output may have arrived between the look and the registration.
        match lock(&self.out).take() {
            Some(out) => Poll::Ready(out),
            None => Poll::Pending,
        }
    }
}

/// Awaits async user code inside the request context `ctx`, turning a panic into a 500
/// error. One future, not three (context, panic guard, output mapping): the response it
/// yields is moved once per layer, and this is the innermost one.
pub(crate) fn call_async<R>(
    ctx: Arc<RequestContext>,
    mut fut: impl Future<Output = Result<R, HttpError>> + Unpin,
) -> impl Future<Output = Result<R, HttpError>> {
    let mut slot = Some(ctx);
    std::future::poll_fn(move |cx| {
        let polled = crate::context::enter(&mut slot, || {
            catch_unwind(AssertUnwindSafe(|| Pin::new(&mut fut).poll(cx)))
        });
        polled.unwrap_or_else(|panic| Poll::Ready(Err(HttpError::from_panic(&*panic))))
    })
}
