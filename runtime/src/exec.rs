//! How the lifecycle calls user code: a backend only chooses where sync functions run.
//!
//! Async handlers are always awaited in place (on the async backend that is the
//! connection's task on the runtime; on the threaded backend, the worker thread parked on
//! the shared runtime through the bridge). Sync handlers either run inline (threaded
//! worker: it is a thread made for blocking) or are moved to the sync pool (`sched`), so
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
    /// On erlen's sync pool (see `sched`), with at most `limit` at once when set.
    Offload { limit: Option<Arc<Semaphore>> },
    /// On the calling thread (a worker of the threaded backend).
    Inline,
}

/// What becomes of the request a sync call holds if whoever awaits the call stops waiting
/// (the lifecycle was dropped: its client left, its route's time ran out): the call runs
/// to its end on its thread, and then the request is handed to what `then` gives.
pub(crate) trait Abandon: Sync {
    /// What to do with the request once the call has returned.
    fn then(&self) -> Box<dyn FnOnce(Box<Request>) + Send>;
}

impl Mode {
    /// Runs sync user code `f` with the request, inside the request context `ctx`,
    /// returning the request with the result. Should the future be dropped while the call
    /// runs on the pool, the request goes to `abandon`'s continuation when it returns.
    ///
    /// A plain fn returning the future, not an `async fn`: the arguments go into the call
    /// before the future is made, so they take no room in it (a view's or hook's future
    /// sits in every request's).
    pub(crate) fn call_sync<'a, R: Send + 'static>(
        &self,
        req: Box<Request>,
        ctx: Arc<RequestContext>,
        f: impl FnOnce(&mut Request) -> Result<R, HttpError> + Send + 'static,
        abandon: Option<&'a dyn Abandon>,
    ) -> impl Future<Output = Out<R>> + Send + 'a {
        let call = in_context(req, ctx, f);
        let how = match self {
            Mode::Inline => How::Inline(call),
            Mode::Offload { limit } => How::Offload(limit.clone(), offload(call, abandon)),
        };
        async move {
            match how {
                How::Inline(call) => call(),
                How::Offload(limit, waiting) => {
                    // The semaphore is never closed, so a permit always comes.
                    let _permit = match limit {
                        Some(sem) => sem.acquire_owned().await.ok(),
                        None => None,
                    };
                    waiting.await
                }
            }
        }
    }
}

/// Where a sync call runs: here, or on the pool once a permit (if any) is had.
enum How<'a, F, R> {
    Inline(F),
    Offload(Option<Arc<Semaphore>>, Waiting<'a, F, R>),
}

/// The sync call as it runs on its thread: inside the request context, a panic caught.
fn in_context<R>(
    mut req: Box<Request>,
    ctx: Arc<RequestContext>,
    f: impl FnOnce(&mut Request) -> Result<R, HttpError>,
) -> impl FnOnce() -> Out<R> {
    move || {
        let out = crate::context::enter_sync(ctx, || catch_unwind(AssertUnwindSafe(|| f(&mut req))))
            .unwrap_or_else(|panic| Err(HttpError::from_panic(&*panic)));
        (req, out)
    }
}

/// The future that queues `call` on the sync pool when first polled and waits for it.
fn offload<F: FnOnce() -> Out<R> + Send + 'static, R: Send + 'static>(
    call: F,
    abandon: Option<&dyn Abandon>,
) -> Waiting<'_, F, R> {
    let offloaded = Arc::new(Offloaded {
        slot: Mutex::new(Slot { stage: Stage::Queued(call), then: None }),
        waker: AtomicWaker::new(),
    });
    Waiting { offloaded, queued: false, done: false, abandon }
}

/// The future of a call on the pool: queues it on its first poll, then waits for its
/// output; dropped before that, it hands the call's request on (see [`Abandon`]).
struct Waiting<'a, F, R> {
    offloaded: Arc<Offloaded<F, Out<R>>>,
    queued: bool,
    done: bool,
    abandon: Option<&'a dyn Abandon>,
}

/// What a sync call gives back: the request and the function's result.
type Out<R> = (Box<Request>, Result<R, HttpError>);

impl<F: FnOnce() -> Out<R> + Send + 'static, R: Send + 'static> Future for Waiting<'_, F, R> {
    type Output = Out<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out<R>> {
        if !self.queued {
            // The waker is in place before the call is queued, so the first poll need not
            // look for an output that cannot be there yet.
            self.offloaded.waker.register(cx.waker());
            let pushed = crate::sched::sync_pool().push(self.offloaded.clone());
            debug_assert!(pushed.is_ok(), "the sync pool has no bound and is never closed");
            self.queued = true;
            return Poll::Pending;
        }
        let out = std::task::ready!(self.offloaded.poll_out(cx));
        self.done = true;
        Poll::Ready(out)
    }
}

impl<F, R> Drop for Waiting<'_, F, R> {
    fn drop(&mut self) {
        if self.queued && !self.done {
            if let Some(abandon) = self.abandon {
                let then = abandon.then();
                self.offloaded.abandon(Box::new(move |(req, _)| then(req)));
            }
        }
    }
}

/// A sync call on its way to the pool and back, in one allocation: the call, then its
/// output, behind one lock, and the waker of the task awaiting it.
struct Offloaded<F, T> {
    slot: Mutex<Slot<F, T>>,
    waker: AtomicWaker,
}

/// Where the call is, and what to do with its output if nobody waits for it any more.
struct Slot<F, T> {
    stage: Stage<F, T>,
    then: Option<Box<dyn FnOnce(T) + Send>>,
}

enum Stage<F, T> {
    Queued(F),
    Running,
    Done(T),
    Taken,
}

impl<F: FnOnce() -> T + Send, T: Send> crate::sched::Task for Offloaded<F, T> {
    fn run(&self) {
        let call = {
            let mut slot = lock(&self.slot);
            match std::mem::replace(&mut slot.stage, Stage::Running) {
                Stage::Queued(call) => call,
                // Run already.
                other => {
                    slot.stage = other;
                    return;
                }
            }
        };
        let out = call();
        let mut slot = lock(&self.slot);
        match slot.then.take() {
            // Nobody waits for it any more: its continuation takes it, on this thread.
            Some(then) => {
                slot.stage = Stage::Taken;
                drop(slot);
                then(out);
            }
            None => {
                slot.stage = Stage::Done(out);
                drop(slot);
                self.waker.wake();
            }
        }
    }
}

impl<F, T> Offloaded<F, T> {
    /// The output, once the call has run.
    fn take(&self) -> Option<T> {
        let mut slot = lock(&self.slot);
        // Looked at in place first: a stage is large, and moving it out and back costs.
        if !matches!(slot.stage, Stage::Done(_)) {
            return None;
        }
        match std::mem::replace(&mut slot.stage, Stage::Taken) {
            Stage::Done(out) => Some(out),
            _ => None,
        }
    }

    /// Nobody waits for the output any more: `then` gets it, now if the call is done,
    /// else when it returns.
    fn abandon(&self, then: Box<dyn FnOnce(T) + Send>) {
        let mut slot = lock(&self.slot);
        match std::mem::replace(&mut slot.stage, Stage::Taken) {
            Stage::Done(out) => {
                drop(slot);
                then(out);
            }
            Stage::Taken => {}
            other => {
                slot.stage = other;
                slot.then = Some(then);
            }
        }
    }

    fn poll_out(&self, cx: &mut Context<'_>) -> Poll<T> {
        if let Some(out) = self.take() {
            return Poll::Ready(out);
        }
        self.waker.register(cx.waker());
        // The output may have arrived between the look and the registration.
        match self.take() {
            Some(out) => Poll::Ready(out),
            None => Poll::Pending,
        }
    }
}

/// Awaits async user code inside the request context `ctx` (where it is also dropped,
/// should it be cancelled), turning a panic into a 500 error. Two small layers, not
/// the three of a task-local, a panic guard and an output map: the response it yields
/// is moved once per layer, and this is the innermost one.
pub(crate) fn call_async<R>(
    ctx: Arc<RequestContext>,
    fut: impl Future<Output = Result<R, HttpError>> + Unpin,
) -> impl Future<Output = Result<R, HttpError>> {
    let mut call = crate::context::InContext::new(ctx, fut);
    std::future::poll_fn(move |cx| {
        catch_unwind(AssertUnwindSafe(|| Pin::new(&mut call).poll(cx)))
            .unwrap_or_else(|panic| Poll::Ready(Err(HttpError::from_panic(&*panic))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    /// Records whether it was dropped inside a request context (1) or outside (2).
    struct Probe(Arc<AtomicU8>);

    impl Drop for Probe {
        fn drop(&mut self) {
            let inside = crate::context::current().is_some();
            self.0.store(if inside { 1 } else { 2 }, Ordering::SeqCst);
        }
    }

    #[test]
    fn calls_queued_by_busy_runtime_workers_still_run() {
        use std::sync::mpsc;
        use std::time::{Duration, Instant};
        // A runtime worker defers the wake-up to when it parks. Here every worker stays
        // busy without parking, so only the monitor can start the queued call.
        let handle = crate::bridge::handle();
        crate::bridge::block_on(handle.spawn(async {})).unwrap();
        std::thread::sleep(Duration::from_millis(50)); // the workers park once: they defer
        let busy = Duration::from_millis(800);
        for _ in 1..handle.metrics().num_workers() {
            handle.spawn(async move { std::thread::sleep(busy) });
        }
        std::thread::sleep(Duration::from_millis(50));
        let (ran, ran_at) = mpsc::channel();
        let submitted = Instant::now();
        handle.spawn(async move {
            let (parts, ()) = http::Request::new(()).into_parts();
            let req = Box::new(Request::from_parts(parts, bytes::Bytes::new()).unwrap());
            let mode = Mode::Offload { limit: None };
            let mut call = Box::pin(mode.call_sync(
                req,
                RequestContext::for_tests(),
                move |_| {
                    let _ = ran.send(Instant::now());
                    Ok(())
                },
                None,
            ));
            // Poll once, which queues the call, then keep this worker busy too.
            std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx).is_ready())).await;
            std::thread::sleep(busy);
            let _ = call.await;
        });
        let ran_at = ran_at.recv_timeout(Duration::from_secs(5)).unwrap();
        let waited = ran_at.duration_since(submitted);
        assert!(waited < Duration::from_millis(400), "the queued call waited {waited:?} behind busy workers");
    }

    #[tokio::test]
    async fn a_cancelled_async_handler_is_dropped_inside_its_context() {
        let seen = Arc::new(AtomicU8::new(0));
        let probe = Probe(seen.clone());
        let handler: crate::body::BoxFuture<'static, Result<(), HttpError>> = Box::pin(async move {
            let _probe = probe;
            std::future::pending::<()>().await;
            Ok(())
        });
        let mut call = Box::pin(call_async(RequestContext::for_tests(), handler));
        assert!(std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx).is_pending())).await);
        drop(call);
        assert_eq!(seen.load(Ordering::SeqCst), 1, "the handler's future was dropped outside its context");
        assert!(crate::context::current().is_none(), "the context does not outlive the drop");
    }
}
