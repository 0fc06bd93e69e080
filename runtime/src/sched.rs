//! The scheduler: jobs handed from the runtime's threads to threads made for blocking,
//! and when such a thread is woken. One design serves two uses:
//!
//! * the sync pool ([`sync_pool`]), which runs sync handlers for the async backend and
//!   the test client: its threads are started on demand, up to 512
//!   (`ERLEN_BLOCKING_THREADS`), and leave after [`IDLE_EXIT`] without a job
//!   ([`Sched::elastic`]); its queue has no bound;
//! * the threaded backend's queue, between the event loop and a fixed set of worker
//!   threads that its owner starts ([`Sched::fixed`]), holding at most `capacity`
//!   requests: a full queue refuses ([`Refused::Full`]) and the server answers 503, and
//!   a closed one ([`Sched::close`]) refuses too while its workers run what is queued
//!   and return.
//!
//! Sync code must never run on the runtime's worker threads, so each job crosses to
//! another thread and back. A job handed over and its result handed back cost a wake-up
//! each, and with the server on one core a wake-up is a context switch: as much time as
//! hyper's whole request. With tokio's `spawn_blocking` every call wakes an idle thread;
//! measured on one core, that halved the throughput of a trivial sync handler against an
//! async one. So wake-ups are spent only where they buy something:
//!
//! * a thread that finishes a job takes the next one without sleeping, and drains the
//!   queue before it parks, so a burst of jobs costs one wake-up instead of one per job;
//! * a thread is woken only when none is awake looking for work (`searching`), and when
//!   the threads running a job would not get to the queue soon: fewer than there are
//!   cores are running one, or jobs are slow on average (then the others should not wait
//!   behind them). When all are short and every core runs one, the threads awake drain
//!   the queue faster than a wake-up would: on one core, a thread woken while another
//!   runs only shares its core;
//! * a thread that starts a job while more wait wakes another by the same rule;
//! * a runtime thread that queues jobs does not wake anyone: it wakes a thread when it is
//!   about to park ([`flush`]), so that every job it queued in one tick is handed over
//!   with one wake-up, and at once past [`BATCH`] jobs;
//! * a thread whose job waits (an async handler awaiting I/O on the threaded backend)
//!   wakes another for the queue, as Go hands off a thread that blocks in a system call;
//! * the most recently parked thread is woken first: its caches are warm (and, for the
//!   sync pool, the threads parked longest are the ones left idle, which leave);
//! * a thread is woken after the lock is let go: on a shared core the thread woken runs
//!   at once, and would find the lock still held.
//!
//! A thread blocked in a sync job (a sleep, a slow query) cannot say so, and a runtime
//! thread kept busy does not park to hand its jobs over. So that neither holds up the jobs
//! queued behind, a monitor thread looks while jobs are queued: if none has started since
//! its last look and none is being searched for, it wakes (or, for the sync pool, starts)
//! a thread. It looks every millisecond after it had to, backing off to every 8 ms while
//! all is well, as Go's sysmon does; it sleeps after 100 ms without a queued job (under
//! load the queue empties and fills many times a millisecond, and waking the monitor each
//! time would cost more than its tick).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Jobs queued by a runtime thread past which it wakes a thread without waiting to park.
/// Measured: 16 woke the sync pool several times per tick (each wake-up preempts the
/// runtime thread on a shared core) and cost 4% against 64.
const BATCH: usize = 64;

const TICK_MIN: Duration = Duration::from_millis(1);
const TICK_MAX: Duration = Duration::from_millis(8);
const QUIET_BEFORE_SLEEPING: Duration = Duration::from_millis(100);

/// Jobs that take less than this on average are left to the threads running when every
/// core is running one: waking another thread costs more than waiting for them.
const SHORT_JOB: Duration = Duration::from_micros(50);

/// One job in this many is timed for the average: reading the clock costs more than the
/// rest of the hand-over.
const SAMPLE: u64 = 8;

/// How long a thread of an elastic scheduler waits for a job before it leaves.
const IDLE_EXIT: Duration = Duration::from_secs(10);

/// A sync call queued on the sync pool, run once by one of its threads.
pub(crate) trait Task: Send + Sync {
    /// Runs the call; a second run does nothing.
    fn run(&self);
}

/// The sync pool's jobs.
pub(crate) type SyncJob = Arc<dyn Task>;

static SYNC_POOL: OnceLock<Arc<Sched<SyncJob>>> = OnceLock::new();

/// The sync pool, started on first use, with at most 512 threads
/// (`ERLEN_BLOCKING_THREADS` overrides).
pub(crate) fn sync_pool() -> &'static Arc<Sched<SyncJob>> {
    SYNC_POOL.get_or_init(|| {
        let max = crate::env::positive("ERLEN_BLOCKING_THREADS").unwrap_or(512);
        let pool = Sched::elastic(max, "erlen-sync", |job: SyncJob| job.run());
        if let Err(e) = pool.spawn_monitor("erlen-sync-monitor") {
            // Without the monitor a blocked handler can delay the calls queued behind it
            // until it returns; everything still completes.
            tracing::error!(error = %e, "cannot start the sync pool's monitor thread");
        }
        pool
    })
}

/// The cores this process may run on.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `capacity` jobs are waiting already.
    Full,
    /// The scheduler was closed: the server is stopping.
    Closed,
}

/// Who starts the threads that run the jobs.
enum Threads<J> {
    /// The owner starts them, each calling [`Sched::work`].
    Fixed,
    /// The scheduler starts them when a job needs one, up to `max`, each running its jobs
    /// with `run`; they leave after `idle` without a job ([`IDLE_EXIT`]).
    Elastic { max: usize, idle: Duration, name: &'static str, run: fn(J) },
}

/// Jobs of type `J` waiting for a thread, and who is looking for them.
pub(crate) struct Sched<J> {
    state: Mutex<State<J>>,
    /// Wakes the monitor when a job is queued while it sleeps.
    wake_monitor: Condvar,
    kind: Threads<J>,
    /// Jobs that may wait at once.
    capacity: usize,
    /// How many threads can run at once.
    cores: usize,
}

struct State<J> {
    jobs: VecDeque<J>,
    /// Threads asleep, the most recently parked last.
    parked: Vec<Arc<Parker>>,
    /// Threads alive, or being started.
    threads: usize,
    /// Threads awake and about to look at the queue.
    searching: usize,
    /// Threads running a job.
    running: usize,
    /// How long jobs take, on average over the last few timed.
    mean_job: Duration,
    /// Jobs started so far; the monitor compares it between looks.
    started: u64,
    /// Whether the monitor sleeps because nothing was queued for a while.
    monitor_asleep: bool,
    /// Set by [`Sched::close`]: threads finish the queue and return.
    closed: bool,
}

/// How a parked thread is woken.
struct Parker {
    thread: Thread,
    woken: AtomicBool,
}

impl Parker {
    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }

    /// Sleeps until woken, or until `timeout` has passed (then false). The thread may be
    /// unparked by others too (the bridge does, for the futures it polls; so does a
    /// `block_on` in a sync handler); such a wake-up finds `woken` unset and sleeps again.
    fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        while !self.woken.swap(false, Ordering::Acquire) {
            match deadline {
                None => std::thread::park(),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    std::thread::park_timeout(left);
                }
            }
        }
        true
    }
}

/// A thread to set looking for work, once the lock is let go.
enum Worker {
    Parked(Arc<Parker>),
    /// To be started; already counted in `threads` and `searching`.
    New,
}

/// What [`flush`] needs of a scheduler, whatever its jobs.
trait Flush {
    fn flush(self: Arc<Self>);
}

thread_local! {
    /// The schedulers this runtime thread put jobs in without waking a thread: it wakes
    /// one for each, if still needed, when it parks.
    static DEFERRED: RefCell<Vec<Arc<dyn Flush>>> = const { RefCell::new(Vec::new()) };
    /// Whether this thread is one of the shared runtime's, which call [`flush`] before
    /// they park (known once it has parked once).
    static RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
    /// The scheduler last put in `DEFERRED` since the last flush, by address: the other
    /// jobs of the tick skip the list.
    static LAST_DEFERRED: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// Called by the shared runtime's threads before they park: wakes a thread for the jobs
/// they queued, if none is looking for them. Also marks the calling thread as one that
/// calls it, so that its jobs wait for it.
pub(crate) fn flush() {
    RUNTIME_THREAD.with(|r| r.set(true));
    LAST_DEFERRED.with(|last| last.set(std::ptr::null()));
    DEFERRED.with(|d| {
        let mut deferred = std::mem::take(&mut *d.borrow_mut());
        for sched in deferred.drain(..) {
            sched.flush();
        }
        // The list keeps its room for the next tick: no allocation per tick.
        let mut d = d.borrow_mut();
        if d.is_empty() {
            *d = deferred;
        }
    });
}

impl<J: Send + 'static> Flush for Sched<J> {
    fn flush(self: Arc<Self>) {
        let mut state = self.lock();
        let woken = self.wanted(&mut state);
        drop(state);
        self.wake(woken);
    }
}

impl<J: Send + 'static> Sched<J> {
    /// A scheduler for `workers` threads that the caller starts, each calling
    /// [`Sched::work`], holding at most `capacity` jobs; `cores` is how many threads can
    /// run at once.
    pub(crate) fn fixed(workers: usize, capacity: usize, cores: usize) -> Arc<Sched<J>> {
        // Each starts by looking at the queue.
        Sched::new(Threads::Fixed, workers, capacity, cores)
    }

    /// A scheduler that starts up to `max` threads named `name` as jobs need them, each
    /// running its jobs with `run` (a panic in it is caught), with no bound on the queue.
    pub(crate) fn elastic(max: usize, name: &'static str, run: fn(J)) -> Arc<Sched<J>> {
        Sched::new(Threads::Elastic { max: max.max(1), idle: IDLE_EXIT, name, run }, 0, usize::MAX, cores())
    }

    fn new(threads: Threads<J>, workers: usize, capacity: usize, cores: usize) -> Arc<Sched<J>> {
        Arc::new(Sched {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                parked: Vec::with_capacity(workers),
                threads: workers,
                searching: workers,
                running: 0,
                mean_job: Duration::ZERO,
                started: 0,
                monitor_asleep: false,
                closed: false,
            }),
            wake_monitor: Condvar::new(),
            kind: threads,
            capacity: capacity.max(1),
            cores: cores.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<J>> {
        crate::sync::lock(&self.state)
    }

    /// Starts the monitor thread, named `name`; it returns once the scheduler is closed.
    pub(crate) fn spawn_monitor(self: &Arc<Self>, name: &str) -> io::Result<JoinHandle<()>> {
        let sched = self.clone();
        std::thread::Builder::new().name(name.into()).spawn(move || sched.monitor())
    }

    /// Queues `job` for the first free thread.
    ///
    /// Called from a runtime thread, the wake-up waits for [`flush`], which the thread
    /// calls when it runs out of tasks, so that one wake-up serves every job that its
    /// tick queued (unless [`BATCH`] are queued already).
    pub(crate) fn push(self: &Arc<Self>, job: J) -> Result<(), Refused> {
        let mut state = self.lock();
        if state.closed {
            return Err(Refused::Closed);
        }
        if state.jobs.len() >= self.capacity {
            return Err(Refused::Full);
        }
        state.jobs.push_back(job);
        let monitor = std::mem::take(&mut state.monitor_asleep);
        let defer = self.needed(&state) && RUNTIME_THREAD.with(Cell::get) && state.jobs.len() < BATCH;
        let woken = if defer { None } else { self.wanted(&mut state) };
        drop(state);
        if monitor {
            self.wake_monitor.notify_one();
        }
        if defer {
            // Most jobs of a tick go to the scheduler listed last: compared by address,
            // without touching the list or the count of the `Arc`.
            let this = Arc::as_ptr(self).cast::<()>();
            if LAST_DEFERRED.with(|last| last.replace(this)) != this {
                DEFERRED.with(|d| {
                    let mut d = d.borrow_mut();
                    if !d.iter().any(|s| std::ptr::addr_eq(Arc::as_ptr(s), this)) {
                        d.push(self.clone());
                    }
                });
            }
        }
        self.wake(woken);
        Ok(())
    }

    /// Stops taking jobs: threads run what is queued and return from [`Sched::work`],
    /// and the monitor from its loop.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let parked = std::mem::take(&mut state.parked);
        state.searching += parked.len();
        drop(state);
        for parker in parked {
            parker.wake();
        }
        self.wake_monitor.notify_one();
    }

    /// A thread's life, until the scheduler is closed and empty (or, for an elastic one,
    /// until it has been idle for long): the next job, as long as there is one, then
    /// sleep. `run` is given each job, and a function to call when the job is about to
    /// wait (for I/O, a timer), so that another thread takes the queue. A panic in `run`
    /// is caught: the thread goes on.
    pub(crate) fn work(self: &Arc<Self>, mut run: impl FnMut(J, &dyn Fn())) {
        let parker = Arc::new(Parker { thread: std::thread::current(), woken: AtomicBool::new(false) });
        let blocking = || self.blocking();
        let mut state = self.lock();
        loop {
            // Here this thread is counted in `searching`.
            let Some(job) = state.jobs.pop_front() else {
                state.searching -= 1;
                if state.closed {
                    state.threads -= 1;
                    return;
                }
                state.parked.push(parker.clone());
                drop(state);
                // Whoever wakes this thread counts it in `searching` again.
                if !self.sleep(&parker) {
                    return;
                }
                state = self.lock();
                continue;
            };
            state.searching -= 1;
            state.running += 1;
            state.started += 1;
            let timed = state.started % SAMPLE == 1;
            let help = self.wanted(&mut state);
            drop(state);
            self.wake(help);
            let start = timed.then(Instant::now);
            let _ = catch_unwind(AssertUnwindSafe(|| run(job, &blocking)));
            let took = start.map(|start| start.elapsed());
            state = self.lock();
            if let Some(took) = took {
                state.mean_job = state.mean_job - state.mean_job / 4 + took / 4;
            }
            state.running -= 1;
            state.searching += 1;
        }
    }

    /// Sleeps on `parker` until woken (true). A thread of an elastic scheduler left
    /// parked for its `idle` time leaves instead (false), unless jobs wait.
    fn sleep(&self, parker: &Arc<Parker>) -> bool {
        let Threads::Elastic { idle, .. } = self.kind else {
            return parker.wait(None);
        };
        if parker.wait(Some(idle)) {
            return true;
        }
        let mut state = self.lock();
        let Some(at) = state.parked.iter().position(|p| Arc::ptr_eq(p, parker)) else {
            // Taken by a waker just now: its wake-up is on its way.
            drop(state);
            return parker.wait(None);
        };
        state.parked.remove(at);
        if state.jobs.is_empty() {
            state.threads -= 1;
            return false;
        }
        state.searching += 1;
        true
    }

    /// Called by a thread whose job is about to wait: another takes the queue meanwhile.
    /// The caller gives up its core, so the rule on running threads does not apply.
    fn blocking(self: &Arc<Self>) {
        let mut state = self.lock();
        let woken =
            if state.jobs.is_empty() || state.searching > 0 { None } else { self.take_worker(&mut state) };
        drop(state);
        self.wake(woken);
    }

    /// Whether jobs wait with nobody to take them soon: none is searching, and the
    /// threads running a job leave a core free or are slow on average.
    fn needed(&self, state: &State<J>) -> bool {
        !state.jobs.is_empty()
            && state.searching == 0
            && (state.running < self.cores || state.mean_job > SHORT_JOB)
    }

    /// A thread to wake, if [`Sched::needed`] says so and there is one.
    fn wanted(&self, state: &mut State<J>) -> Option<Worker> {
        if self.needed(state) { self.take_worker(state) } else { None }
    }

    /// The most recently parked thread, or else a new one if the scheduler may start one,
    /// counted as searching: the caller wakes it with [`Sched::wake`] once it has let go
    /// of the lock.
    fn take_worker(&self, state: &mut State<J>) -> Option<Worker> {
        let worker = match (state.parked.pop(), &self.kind) {
            (Some(parker), _) => Worker::Parked(parker),
            (None, Threads::Elastic { max, .. }) if state.threads < *max => {
                state.threads += 1;
                Worker::New
            }
            (None, _) => return None,
        };
        state.searching += 1;
        Some(worker)
    }

    fn wake(self: &Arc<Self>, worker: Option<Worker>) {
        match worker {
            None => {}
            Some(Worker::Parked(parker)) => parker.wake(),
            Some(Worker::New) => {
                let Threads::Elastic { name, run, .. } = self.kind else { return };
                let sched = self.clone();
                let spawned = std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || sched.work(|job, _| run(job)));
                if let Err(e) = spawned {
                    // The monitor tries again while jobs wait.
                    let mut state = self.lock();
                    state.threads -= 1;
                    state.searching -= 1;
                    drop(state);
                    tracing::error!(error = %e, "cannot start a thread for sync handlers");
                }
            }
        }
    }

    /// The monitor's life, until the scheduler is closed: wakes a thread when jobs wait
    /// and none has started since the last look, because the threads awake are blocked in
    /// their jobs or the runtime thread that queued them has not parked to hand them over.
    fn monitor(self: Arc<Self>) {
        let mut state = self.lock();
        let mut seen = state.started;
        let mut tick = TICK_MIN;
        let mut quiet = Duration::ZERO;
        while !state.closed {
            quiet = if state.jobs.is_empty() { quiet + tick } else { Duration::ZERO };
            if quiet >= QUIET_BEFORE_SLEEPING {
                quiet = Duration::ZERO;
                state.monitor_asleep = true;
                while state.monitor_asleep && !state.closed {
                    state = crate::sync::wait(&self.wake_monitor, state);
                }
                seen = state.started;
                tick = TICK_MIN;
                continue;
            }
            drop(state);
            std::thread::sleep(tick);
            state = self.lock();
            let progressed = std::mem::replace(&mut seen, state.started) != state.started;
            if !state.jobs.is_empty() && !progressed && state.searching == 0 {
                let woken = self.take_worker(&mut state);
                drop(state);
                self.wake(woken);
                state = self.lock();
                tick = TICK_MIN;
            } else {
                // All is well: look less often.
                tick = (tick * 2).min(TICK_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    type Job = Box<dyn FnOnce() + Send>;

    fn run(job: Job) {
        job()
    }

    /// An elastic scheduler of at most `max` threads, as the sync pool is.
    fn elastic(max: usize) -> Arc<Sched<Job>> {
        let sched = Sched::elastic(max, "erlen-sync-test", run);
        sched.spawn_monitor("erlen-sync-test-monitor").unwrap();
        sched
    }

    /// A fixed scheduler with `workers` threads running its jobs, and its monitor.
    fn fixed(workers: usize, capacity: usize, cores: usize) -> (Arc<Sched<Job>>, Vec<JoinHandle<()>>) {
        let sched = Sched::<Job>::fixed(workers, capacity, cores);
        let mut threads: Vec<_> = (0..workers)
            .map(|_| {
                let sched = sched.clone();
                std::thread::spawn(move || sched.work(|job, _| job()))
            })
            .collect();
        threads.push(sched.spawn_monitor("erlen-worker-test-monitor").unwrap());
        (sched, threads)
    }

    fn stop(sched: &Sched<Job>, threads: Vec<JoinHandle<()>>) {
        sched.close();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    /// A runtime whose threads call [`flush`] before they park, as the shared one's do.
    fn runtime(threads: usize) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .on_thread_park(flush)
            .build()
            .unwrap()
    }

    #[test]
    fn blocked_jobs_do_not_hold_up_the_queue() {
        let pool = elastic(8);
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        for i in 0..6 {
            let tx = tx.clone();
            pool.push(Box::new(move || {
                std::thread::sleep(Duration::from_millis(300));
                let _ = tx.send(i);
            }))
            .unwrap();
        }
        let done: Vec<i32> = (0..6).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        assert_eq!(done.len(), 6);
        // One after another they take 1.8 s; the monitor adds threads within milliseconds.
        assert!(start.elapsed() < Duration::from_millis(1200), "took {:?}", start.elapsed());
    }

    #[test]
    fn a_burst_runs_on_few_threads_and_survives_panics() {
        let pool = elastic(64);
        let (tx, rx) = mpsc::channel();
        pool.push(Box::new(|| panic!("a job panicked"))).unwrap();
        for i in 0..1000 {
            let tx = tx.clone();
            pool.push(Box::new(move || {
                let _ = tx.send(i);
            }))
            .unwrap();
        }
        let sum: i32 = (0..1000).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).sum();
        assert_eq!(sum, 999 * 1000 / 2);
        let threads = pool.lock().threads;
        assert!(threads < 64, "{threads} threads for 1000 trivial jobs");
    }

    #[test]
    fn the_limit_is_respected() {
        let pool = elastic(2);
        let (tx, rx) = mpsc::channel();
        for _ in 0..4 {
            let tx = tx.clone();
            pool.push(Box::new(move || {
                std::thread::sleep(Duration::from_millis(50));
                let _ = tx.send(());
            }))
            .unwrap();
        }
        for _ in 0..4 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert!(pool.lock().threads <= 2);
    }

    #[test]
    fn blocked_jobs_start_at_once_on_idle_workers() {
        let (queue, threads) = fixed(4, 16, 4);
        let (tx, rx) = mpsc::channel();
        let begin = Instant::now();
        for _ in 0..4 {
            let tx = tx.clone();
            queue
                .push(Box::new(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    let _ = tx.send(());
                }))
                .unwrap();
        }
        for _ in 0..4 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        // One after another they take 1.2 s.
        assert!(begin.elapsed() < Duration::from_millis(900), "took {:?}", begin.elapsed());
        stop(&queue, threads);
    }

    #[test]
    fn a_job_behind_a_blocked_one_is_started_by_the_monitor() {
        // One core: the worker that starts the slow job does not wake another for the
        // quick one behind it (jobs have been short so far); the monitor does.
        let (queue, threads) = fixed(2, 16, 1);
        std::thread::sleep(Duration::from_millis(50)); // both workers are parked
        let (tx, rx) = mpsc::channel();
        let slow_tx = tx.clone();
        let begin = Instant::now();
        queue
            .push(Box::new(move || {
                std::thread::sleep(Duration::from_millis(800));
                let _ = slow_tx.send("slow");
            }))
            .unwrap();
        queue
            .push(Box::new(move || {
                let _ = tx.send("quick");
            }))
            .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "quick");
        assert!(begin.elapsed() < Duration::from_millis(400), "waited {:?}", begin.elapsed());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "slow");
        stop(&queue, threads);
    }

    #[test]
    fn a_full_or_closed_queue_refuses_and_closing_runs_what_is_queued() {
        let (queue, threads) = fixed(1, 2, 1);
        let (started_tx, started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        queue
            .push(Box::new(move || {
                let _ = started_tx.send(());
                let _ = released.recv();
            }))
            .unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        let (done_tx, done) = mpsc::channel();
        for _ in 0..2 {
            let done_tx = done_tx.clone();
            queue
                .push(Box::new(move || {
                    let _ = done_tx.send(());
                }))
                .unwrap();
        }
        assert_eq!(queue.push(Box::new(|| {})).err(), Some(Refused::Full));
        queue.close();
        assert_eq!(queue.push(Box::new(|| {})).err(), Some(Refused::Closed));
        drop(release);
        for _ in 0..2 {
            done.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        stop(&queue, threads);
    }

    #[test]
    fn a_job_queued_by_a_busy_runtime_thread_still_runs() {
        // A runtime thread defers the wake-up to when it parks. Here it stays busy, so the
        // monitor must start the job: on either kind of scheduler.
        let rt = runtime(2);
        rt.block_on(rt.spawn(async {})).unwrap();
        std::thread::sleep(Duration::from_millis(50)); // the runtime's threads have parked once
        let (queue, threads) = fixed(2, 16, 2);
        let pool = elastic(2);
        for sched in [queue.clone(), pool] {
            // The pool starts with no thread: the first job wakes none on the runtime
            // thread, which defers.
            let (ran_tx, ran) = mpsc::channel();
            let (pushed_tx, pushed) = mpsc::channel();
            rt.spawn(async move {
                let _ = sched.push(Box::new(move || {
                    let _ = ran_tx.send(Instant::now());
                }));
                let _ = pushed_tx.send(Instant::now());
                std::thread::sleep(Duration::from_millis(800));
            });
            let pushed = pushed.recv_timeout(Duration::from_secs(5)).unwrap();
            let ran = ran.recv_timeout(Duration::from_secs(5)).unwrap();
            let waited = ran.saturating_duration_since(pushed);
            assert!(waited < Duration::from_millis(400), "waited {waited:?}");
        }
        stop(&queue, threads);
    }

    #[test]
    fn idle_elastic_threads_leave_and_stray_unparks_do_not_wake() {
        let idle = Duration::from_millis(30);
        let pool =
            Sched::new(Threads::Elastic { max: 4, idle, name: "erlen-sync-test", run }, 0, usize::MAX, 2);
        let (tx, rx) = mpsc::channel();
        for _ in 0..2 {
            let tx = tx.clone();
            pool.push(Box::new(move || {
                std::thread::sleep(Duration::from_millis(20));
                let _ = tx.send(());
            }))
            .unwrap();
        }
        for _ in 0..2 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        // Both threads ran a job (two cores), then park and leave.
        let deadline = Instant::now() + Duration::from_secs(5);
        while pool.lock().threads > 0 {
            assert!(Instant::now() < deadline, "idle threads did not leave");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(pool.lock().parked.is_empty());
        // And one is started again for the next job.
        pool.push(Box::new(move || {
            let _ = tx.send(());
        }))
        .unwrap();
        rx.recv_timeout(Duration::from_secs(5)).unwrap();

        // A parker sleeps through an unpark from elsewhere (the bridge's, for a future).
        let parker = Parker { thread: std::thread::current(), woken: AtomicBool::new(false) };
        std::thread::current().unpark();
        assert!(!parker.wait(Some(Duration::from_millis(5))));
        parker.wake();
        assert!(parker.wait(Some(Duration::from_millis(5))));
    }
}
