//! The thread pool that runs sync handlers for the async backend and the test client.
//!
//! Sync handlers must never run on the runtime's worker threads, so each call crosses to
//! another thread and back. With tokio's `spawn_blocking` every call wakes an idle thread
//! (a context switch each way); measured on one core, that halved the throughput of a
//! trivial sync handler against an async one. This pool wakes a thread only when no pool
//! thread is awake: an awake thread drains the queue before it parks, so a burst of calls
//! costs one wake-up instead of one per call.
//!
//! The runtime's workers queue calls without waking anyone and wake a thread when they
//! are about to park (`flush`), so that a whole tick of calls is handed over at once.
//!
//! A sync handler may block for long (a sleep, a slow query). So that it cannot hold up
//! the calls queued behind it, a monitor thread looks while the pool is in use: if calls
//! are queued and none has started since its last look, it wakes (or starts) another
//! thread, up to the limit. It looks every millisecond after such an intervention and
//! backs off to every 8 ms while all is well; it parks after 100 ms without queued calls.
//! Threads idle for 10 s exit.

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// A call queued on the pool, run once by one pool thread.
pub(crate) trait Task: Send + Sync {
    /// Runs the call; a second run does nothing.
    fn run(&self);
}

type Job = Arc<dyn Task>;

const TICK_MIN: Duration = Duration::from_millis(1);
const TICK_MAX: Duration = Duration::from_millis(8);
const QUIET_BEFORE_PARKING: Duration = Duration::from_millis(100);
const IDLE_EXIT: Duration = Duration::from_secs(10);
/// Queued calls past which a runtime worker wakes a thread without waiting to park.
/// Measured: 16 woke the pool several times per tick (each wake-up preempts the runtime
/// thread on a shared core) and cost 4% against 64.
const BATCH: usize = 64;

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads not parked (running a job or about to look for one).
    awake: usize,
    /// Wake-ups granted to parked threads and not yet taken.
    permits: usize,
    /// Jobs started so far; the monitor compares it between ticks.
    started: u64,
    /// Whether the monitor is parked because the queue was empty.
    monitor_parked: bool,
}

struct Inner {
    state: Mutex<State>,
    wake_worker: Condvar,
    wake_monitor: Condvar,
    max_threads: usize,
}

static POOL: OnceLock<SyncPool> = OnceLock::new();

/// The pool, started on first use, with at most 512 threads (`ERLEN_BLOCKING_THREADS`
/// overrides).
pub(crate) fn global() -> &'static SyncPool {
    POOL.get_or_init(|| SyncPool::new(crate::env::positive("ERLEN_BLOCKING_THREADS").unwrap_or(512)))
}

pub(crate) struct SyncPool {
    inner: Arc<Inner>,
}

impl SyncPool {
    fn new(max_threads: usize) -> SyncPool {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            wake_worker: Condvar::new(),
            wake_monitor: Condvar::new(),
            max_threads: max_threads.max(1),
        });
        let monitor = inner.clone();
        let spawned =
            std::thread::Builder::new().name("erlen-sync-monitor".into()).spawn(move || monitor.monitor());
        if let Err(e) = spawned {
            // Without the monitor a blocked handler can delay the calls queued behind it
            // until it returns; everything still completes.
            tracing::error!(error = %e, "cannot start the sync pool's monitor thread");
        }
        SyncPool { inner }
    }

    /// Runs `task` on a pool thread.
    ///
    /// Called from a runtime worker, the wake-up waits for [`SyncPool::flush`], which the
    /// worker calls when it runs out of tasks, so that one wake-up serves every call that
    /// the worker's tick queued (unless many are queued already).
    pub(crate) fn execute(&self, task: Job) {
        let mut state = self.inner.lock();
        state.queue.push_back(task);
        let deferred = RUNTIME_WORKER.with(Cell::get) && state.queue.len() < BATCH;
        if state.awake == 0 && !deferred {
            self.inner.wake_one(&mut state);
        }
        if state.monitor_parked {
            state.monitor_parked = false;
            self.inner.wake_monitor.notify_one();
        }
    }
}

/// Called by the shared runtime's workers before they park: wakes a thread for the calls
/// they queued. Also marks the thread as a worker, for `execute`.
pub(crate) fn flush() {
    RUNTIME_WORKER.with(|w| w.set(true));
    if let Some(pool) = POOL.get() {
        let mut state = pool.inner.lock();
        if state.awake == 0 && !state.queue.is_empty() {
            pool.inner.wake_one(&mut state);
        }
    }
}

thread_local! {
    static RUNTIME_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is one of the shared runtime's workers (known once it has parked
/// once), which call [`flush`] before they park.
pub(crate) fn on_runtime_worker() -> bool {
    RUNTIME_WORKER.with(Cell::get)
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Wakes a parked thread, or starts one if none is parked and the limit allows.
    fn wake_one(self: &Arc<Self>, state: &mut State) {
        let parked = state.threads - state.awake;
        if parked > 0 {
            state.permits += 1;
            state.awake += 1;
            self.wake_worker.notify_one();
        } else if state.threads < self.max_threads {
            let inner = self.clone();
            let spawned = std::thread::Builder::new().name("erlen-sync".into()).spawn(move || inner.work());
            match spawned {
                Ok(_) => {
                    state.threads += 1;
                    state.awake += 1;
                }
                Err(e) => tracing::error!(error = %e, "cannot start a sync pool thread"),
            }
        }
    }

    fn work(self: Arc<Self>) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                state.started += 1;
                drop(state);
                // Handlers catch their own panics; this keeps the thread alive regardless.
                let _ = catch_unwind(AssertUnwindSafe(|| job.run()));
                state = self.lock();
                continue;
            }
            state.awake -= 1;
            loop {
                let (next, timeout) = crate::sync::wait_timeout(&self.wake_worker, state, IDLE_EXIT);
                state = next;
                if state.permits > 0 {
                    state.permits -= 1;
                    break;
                }
                if timeout.timed_out() && state.queue.is_empty() {
                    state.threads -= 1;
                    return;
                }
            }
        }
    }

    fn monitor(self: Arc<Self>) {
        let mut state = self.lock();
        let mut seen = state.started;
        let mut tick = TICK_MIN;
        let mut quiet = Duration::ZERO;
        loop {
            quiet = if state.queue.is_empty() { quiet + tick } else { Duration::ZERO };
            // Park only after a quiet spell: under load the queue empties and fills many
            // times a millisecond, and waking the monitor each time would cost more than
            // its tick.
            if quiet >= QUIET_BEFORE_PARKING {
                quiet = Duration::ZERO;
                state.monitor_parked = true;
                while state.monitor_parked {
                    state = crate::sync::wait(&self.wake_monitor, state);
                }
                seen = state.started;
                tick = TICK_MIN;
            }
            drop(state);
            std::thread::sleep(tick);
            state = self.lock();
            if !state.queue.is_empty() && state.started == seen {
                // Queued calls made no progress for a tick: the awake threads are blocked
                // (or the runtime's workers are too busy to park). Look closely again.
                self.wake_one(&mut state);
                tick = TICK_MIN;
            } else {
                // All is well: look less often, as Go's sysmon backs off.
                tick = (tick * 2).min(TICK_MAX);
            }
            seen = state.started;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    /// A closure as a task, for the tests.
    struct Once(Mutex<Option<Box<dyn FnOnce() + Send>>>);

    impl Task for Once {
        fn run(&self) {
            let job = self.0.lock().unwrap().take();
            if let Some(job) = job {
                job();
            }
        }
    }

    fn task(job: impl FnOnce() + Send + 'static) -> Job {
        Arc::new(Once(Mutex::new(Some(Box::new(job)))))
    }

    #[test]
    fn blocked_jobs_do_not_hold_up_the_queue() {
        let pool = SyncPool::new(8);
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        for i in 0..6 {
            let tx = tx.clone();
            pool.execute(task(move || {
                std::thread::sleep(Duration::from_millis(300));
                let _ = tx.send(i);
            }));
        }
        let done: Vec<i32> = (0..6).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        assert_eq!(done.len(), 6);
        // One after another they take 1.8 s; the monitor adds threads within milliseconds.
        assert!(start.elapsed() < Duration::from_millis(1200), "took {:?}", start.elapsed());
    }

    #[test]
    fn a_burst_runs_on_few_threads_and_survives_panics() {
        let pool = SyncPool::new(64);
        let (tx, rx) = mpsc::channel();
        pool.execute(task(|| panic!("a job panicked")));
        for i in 0..1000 {
            let tx = tx.clone();
            pool.execute(task(move || {
                let _ = tx.send(i);
            }));
        }
        let sum: i32 = (0..1000).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).sum();
        assert_eq!(sum, 999 * 1000 / 2);
        let threads = pool.inner.lock().threads;
        assert!(threads < 64, "{threads} threads for 1000 trivial jobs");
    }

    #[test]
    fn calls_queued_by_busy_runtime_workers_still_run() {
        use std::future::Future;
        use std::task::Poll;
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
            let req = Box::new(crate::Request::from_parts(parts, bytes::Bytes::new()).unwrap());
            let mode = crate::exec::Mode::Offload { limit: None };
            let mut call =
                Box::pin(mode.call_sync(req, crate::context::RequestContext::for_tests(), move |_| {
                    let _ = ran.send(Instant::now());
                    Ok(())
                }));
            // Poll once, which queues the call, then keep this worker busy too.
            std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx).is_ready())).await;
            std::thread::sleep(busy);
            let _ = call.await;
        });
        let ran_at = ran_at.recv_timeout(Duration::from_secs(5)).unwrap();
        let waited = ran_at.duration_since(submitted);
        assert!(waited < Duration::from_millis(400), "the queued call waited {waited:?} behind busy workers");
    }

    #[test]
    fn the_limit_is_respected() {
        let pool = SyncPool::new(2);
        let (tx, rx) = mpsc::channel();
        for _ in 0..4 {
            let tx = tx.clone();
            pool.execute(task(move || {
                std::thread::sleep(Duration::from_millis(50));
                let _ = tx.send(());
            }));
        }
        for _ in 0..4 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert!(pool.inner.lock().threads <= 2);
    }
}
