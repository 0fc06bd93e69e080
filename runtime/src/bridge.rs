//! The one shared tokio runtime, and the blocking bridge from sync code onto it.
//!
//! Flask 2.0 runs each async view through asgiref's `AsyncToSync`, which starts a thread
//! and an event loop for every call. erlen starts one runtime, lazily, for the whole
//! process (multi-thread; current-thread on a thread of its own with `ERLEN_THREADS=1`):
//! the async backend serves on it, the test client dispatches on it, and
//! sync code reaches it through [`block_on`], which parks the calling thread until the
//! future completes. Nothing is created per request or per call.

use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

static RUNTIME: OnceLock<&'static Runtime> = OnceLock::new();

thread_local! {
    /// Whether this thread is the one that drives a one-thread runtime (`ERLEN_THREADS=1`).
    static DRIVES_RUNTIME: Cell<bool> = const { Cell::new(false) };
}

/// The shared runtime's handle, starting the runtime on first use.
///
/// Its worker threads default to the number of cores (`ERLEN_THREADS` overrides); sync
/// handlers do not use its blocking pool but erlen's sync pool. With `ERLEN_THREADS=1` it
/// is tokio's current-thread runtime, driven by one thread of its own (`erlen-rt`): the
/// tasks, the sockets and the timers all live on that thread, with none of the
/// multi-thread scheduler's hand-offs. It is never shut down: it lives as long as the
/// process, so that a `reqwest::Client` or any other resource bound to it stays valid in
/// every handler, test and server.
pub fn handle() -> &'static Handle {
    RUNTIME.get_or_init(start).handle()
}

fn start() -> &'static Runtime {
    let threads = crate::env::positive("ERLEN_THREADS");
    let one_thread = threads == Some(1);
    let mut builder = if one_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().thread_name("erlen-rt").on_thread_park(|| {
        // Hand over, with one wake-up each, the work this thread queued for the sync pool
        // and for threaded servers' workers.
        crate::sched::flush();
    });
    if let (false, Some(n)) = (one_thread, threads) {
        builder.worker_threads(n);
    }
    // Without a runtime nothing can be served; this is the OS refusing threads.
    let runtime: &'static Runtime = match builder.build() {
        Ok(rt) => Box::leak(Box::new(rt)),
        Err(e) => panic!("erlen could not start its tokio runtime: {e}"),
    };
    if one_thread {
        // A current-thread runtime runs its tasks and drives its I/O only inside
        // `Runtime::block_on`: this thread stays there for the life of the process.
        let driver = thread::Builder::new().name("erlen-rt".into()).spawn(move || {
            DRIVES_RUNTIME.with(|d| d.set(true));
            runtime.block_on(std::future::pending::<()>());
        });
        if let Err(e) = driver {
            panic!("erlen could not start its tokio runtime's thread: {e}");
        }
    }
    runtime
}

/// Runs `future` to completion from sync code and returns its output: the Flask 1.x
/// pattern of running a coroutine inside a sync view, without creating a thread or an
/// event loop.
///
/// The calling thread parks while the future runs with the shared runtime's reactor and
/// timers, so `tokio::time`, `tokio::net` and `reqwest` work inside it. It may be called
/// from a sync handler or hook on either backend, from the test client, from a plain
/// thread, and from a thread of a multi-thread tokio runtime (where it uses
/// `block_in_place`, so the runtime's other tasks keep running).
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/v1")]
/// fn v1() -> String {
///     // A sync view awaiting async work.
///     erlen::block_on(async {
///         tokio::time::sleep(std::time::Duration::from_millis(5)).await;
///         "slept".to_string()
///     })
/// }
///
/// let client = App::new().register(handlers![v1]).test_client();
/// assert_eq!(client.get("/v1").send().text(), "slept");
/// ```
///
/// The future is polled here, on the calling thread, which is unparked each time it is
/// woken. Work that is woken many times before it is done (a batch of pipelined queries,
/// whose rows arrive one by one) costs less through [`run_on_runtime`], which wakes the
/// thread once.
pub fn block_on<F: Future>(future: F) -> F::Output {
    assert!(
        !DRIVES_RUNTIME.with(Cell::get),
        "erlen::block_on was called from async code on the runtime's only thread (ERLEN_THREADS=1), \
         which would wait for itself forever: `.await` the future instead, or run this code in a sync \
         handler (erlen runs those on its sync pool)"
    );
    let on_multi_thread =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if on_multi_thread { tokio::task::block_in_place(|| park_on(future)) } else { park_on(future) }
}

/// Runs `future` as a task on the shared runtime and parks the calling thread until its
/// output is ready: [`block_on`] for work that is woken many times before it is done.
///
/// [`block_on`] polls its future on the calling thread, which is unparked every time the
/// future is woken: a batch of pipelined database queries, whose rows arrive one by one,
/// wakes a sync view's thread for each row. Here the runtime polls the task where its
/// sockets are, and the calling thread wakes once, for the result. The price is two
/// hand-offs between threads, so for work that waits once (one query, one HTTP call)
/// [`block_on`] costs less. The future must be `Send + 'static`, as any task's; it does
/// not run inside the request's context, so take what it needs from the request first.
///
/// A panic in the task is resumed on the calling thread, where erlen's lifecycle turns
/// it into a 500 as it does any handler's. With `ERLEN_THREADS=1` it panics when called
/// from async code on the runtime's only thread, as [`block_on`] does.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/total")]
/// fn total() -> String {
///     // A sync view whose async work wakes many times: run it on the runtime.
///     let sum = erlen::run_on_runtime(async {
///         let parts = futures::future::join_all((1..=4).map(|n| async move {
///             tokio::task::yield_now().await;
///             n * 10
///         }));
///         parts.await.into_iter().sum::<i32>()
///     });
///     sum.to_string()
/// }
///
/// let client = App::new().register(handlers![total]).test_client();
/// assert_eq!(client.get("/total").send().text(), "100");
/// ```
pub fn run_on_runtime<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match block_on(handle().spawn(future)) {
        Ok(output) => output,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            // Only a runtime shutting down cancels a task, and erlen's never shuts down.
            Err(e) => panic!("erlen::run_on_runtime: the task did not finish: {e}"),
        },
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, parking between polls, with the shared runtime entered
/// so that its I/O and timers register with (and are driven by) the shared runtime.
/// Unlike `Handle::block_on`, it nests: a sync handler running under it may call
/// [`block_on`] again.
pub(crate) fn park_on<F: Future>(future: F) -> F::Output {
    park_on_with(pin!(future), &thread_waker(), &|| {})
}

/// A waker that unparks this thread, for [`park_on_with`]: a thread that parks on many
/// futures makes it once.
pub(crate) fn thread_waker() -> Waker {
    Waker::from(Arc::new(ThreadWaker(thread::current())))
}

/// [`park_on`] with this thread's `waker` (from [`thread_waker`]), calling `before_park`
/// whenever the future is pending and the thread is about to park. The future is pinned
/// by the caller, so that a large one is never moved.
pub(crate) fn park_on_with<F: Future>(
    mut future: Pin<&mut F>,
    waker: &Waker,
    before_park: &dyn Fn(),
) -> F::Output {
    let _entered = handle().enter();
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        before_park();
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn nests_and_uses_the_shared_timers() {
        let out = block_on(async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            block_on(async { 21 }) * 2
        });
        assert_eq!(out, 42);
    }

    #[test]
    fn runs_on_the_runtime_and_resumes_its_panics_here() {
        let here = thread::current().id();
        let (there, name) = run_on_runtime(async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            (thread::current().id(), thread::current().name().map(str::to_string))
        });
        assert_ne!(there, here, "the task ran on the calling thread");
        assert_eq!(name.as_deref(), Some("erlen-rt"));

        let panicked =
            std::panic::catch_unwind(|| run_on_runtime(async { panic!("the task's own message") }));
        let payload = panicked.expect_err("the task's panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the task's own message"));
        // The runtime is unharmed.
        assert_eq!(run_on_runtime(async { 3 }), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn works_from_a_multi_thread_runtime_worker() {
        let n = block_on(async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            7
        });
        assert_eq!(n, 7);
    }

    #[tokio::test]
    async fn works_from_a_current_thread_runtime() {
        assert_eq!(
            block_on(async {
                tokio::time::sleep(Duration::from_millis(2)).await;
                1
            }),
            1
        );
    }
}
