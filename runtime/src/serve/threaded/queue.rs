//! The queue between the event loop and the worker threads, and when a worker is woken.
//!
//! A request handed to a worker and its response handed back cost a wake-up each, and
//! with the server on one core a wake-up is a context switch: as much time as hyper's
//! whole request. So wake-ups are spent only where they buy something:
//!
//! * a worker that finishes a job takes the next one without sleeping;
//! * a worker is woken only when none is awake looking for work (`searching`);
//! * a runtime thread that queues jobs wakes that worker when it is about to park
//!   ([`flush`]), so that every request it read in one go is handed over with one
//!   wake-up (and at once past [`BATCH`] jobs);
//! * a worker that starts a job while more wait wakes another only if a core is free or
//!   jobs are slow on average (then the others should not wait behind this one); when
//!   all are short, the workers awake drain the queue faster than a wake-up would;
//! * a worker whose job waits (an async handler awaiting I/O) wakes another for the
//!   queue, as Go hands off a thread that blocks in a system call;
//! * the most recently parked worker is woken first: its caches are warm.
//!
//! A worker blocked in a sync handler cannot say so. A monitor thread looks while jobs
//! are queued: if none has started since its last look and none is being searched for,
//! it wakes a worker. It looks every millisecond after it had to, backing off to every
//! 8 ms while all is well, and sleeps after 100 ms without a queued job, as the sync
//! pool's monitor does.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Jobs queued by a runtime thread past which it wakes a worker without waiting to park,
/// as the sync pool does.
const BATCH: usize = 64;

const TICK_MIN: Duration = Duration::from_millis(1);
const TICK_MAX: Duration = Duration::from_millis(8);
const QUIET_BEFORE_SLEEPING: Duration = Duration::from_millis(100);

/// Jobs that take less than this on average are left to the workers awake when every
/// core is running one: waking another worker costs more than waiting for them.
const SHORT_JOB: Duration = Duration::from_micros(50);

/// One job in this many is timed for the average.
const SAMPLE: u64 = 8;

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `capacity` jobs are waiting already.
    Full,
    /// The queue was closed: the server is stopping.
    Closed,
}

/// Jobs of type `J` waiting for a worker, and who is looking for them.
pub(crate) struct Queue<J> {
    state: Mutex<State<J>>,
    /// Wakes the monitor when a job is queued while it sleeps.
    wake_monitor: Condvar,
    capacity: usize,
    /// The cores this process may run on.
    cores: usize,
}

struct State<J> {
    jobs: VecDeque<J>,
    /// Workers asleep, the most recently parked last.
    parked: Vec<Arc<Parker>>,
    /// Workers awake and about to look at the queue.
    searching: usize,
    /// Workers running a job.
    running: usize,
    /// How long jobs take, on average over the last few timed.
    mean_job: Duration,
    /// Jobs started so far; the monitor compares it between looks.
    started: u64,
    /// Whether the monitor sleeps because nothing was queued for a while.
    monitor_asleep: bool,
    /// Set by [`Queue::close`]: workers finish the queue and return.
    closed: bool,
}

/// How a parked worker is woken.
struct Parker {
    thread: Thread,
    woken: AtomicBool,
}

impl Parker {
    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }

    /// Sleeps until woken. The bridge unparks this thread too, for the futures it polls;
    /// such a wake-up finds `woken` unset and sleeps again.
    fn wait(&self) {
        while !self.woken.swap(false, Ordering::Acquire) {
            std::thread::park();
        }
    }
}

/// What [`flush`] needs of a queue, whatever its jobs.
trait Flush {
    fn flush(&self);
}

thread_local! {
    /// The queues this runtime thread put jobs in without waking a worker: it wakes one
    /// for each, if still needed, when it parks.
    static DEFERRED: RefCell<Vec<Arc<dyn Flush>>> = const { RefCell::new(Vec::new()) };
}

/// Called by the shared runtime's threads before they park: wakes a worker for the jobs
/// they queued, if none is looking for them.
pub(crate) fn flush() {
    let deferred = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
    for queue in deferred {
        queue.flush();
    }
}

impl<J: Send + 'static> Flush for Queue<J> {
    fn flush(&self) {
        let mut state = self.lock();
        let woken = if state.jobs.is_empty() || state.searching > 0 { None } else { state.take_parked() };
        drop(state);
        wake(woken);
    }
}

impl<J: Send + 'static> Queue<J> {
    /// A queue for `workers` workers (each must call [`Queue::work`]), holding at most
    /// `capacity` jobs; `cores` is how many can run at once.
    pub(crate) fn new(workers: usize, capacity: usize, cores: usize) -> Arc<Queue<J>> {
        Arc::new(Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                parked: Vec::with_capacity(workers),
                // Each starts by looking at the queue.
                searching: workers,
                running: 0,
                mean_job: Duration::ZERO,
                started: 0,
                monitor_asleep: false,
                closed: false,
            }),
            wake_monitor: Condvar::new(),
            capacity: capacity.max(1),
            cores: cores.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<J>> {
        crate::sync::lock(&self.state)
    }

    /// Queues `job` for the first free worker.
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
        // Nobody to wake when a worker will look at the queue anyway: one that is
        // searching, or, with every worker running, the first to finish.
        let wanted = state.searching == 0 && !state.parked.is_empty();
        let defer = wanted && crate::pool::on_runtime_worker() && state.jobs.len() < BATCH;
        let woken = if wanted && !defer { state.take_parked() } else { None };
        // Wake-ups after unlocking: on a shared core the thread woken runs at once, and
        // would find the lock still held.
        drop(state);
        if monitor {
            self.wake_monitor.notify_one();
        }
        if defer {
            DEFERRED.with(|d| {
                let mut d = d.borrow_mut();
                let this: Arc<dyn Flush> = self.clone();
                if !d.iter().any(|q| Arc::ptr_eq(q, &this)) {
                    d.push(this);
                }
            });
        }
        wake(woken);
        Ok(())
    }

    /// Stops taking jobs: workers run what is queued and return from [`Queue::work`], and
    /// the monitor from [`Queue::monitor`].
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let parked: Vec<_> = std::iter::from_fn(|| state.take_parked()).collect();
        drop(state);
        for parker in parked {
            parker.wake();
        }
        self.wake_monitor.notify_one();
    }

    /// A worker's life, until the queue is closed and empty: the next job, as long as
    /// there is one, then sleep. `run` is given each job, and a function to call when the
    /// job is about to wait (for I/O, a timer), so that another worker takes the queue.
    pub(crate) fn work(&self, mut run: impl FnMut(J, &dyn Fn())) {
        let parker = Arc::new(Parker { thread: std::thread::current(), woken: AtomicBool::new(false) });
        let blocking = || self.blocking();
        let mut state = self.lock();
        loop {
            // Here this worker is counted in `searching`.
            let Some(job) = state.jobs.pop_front() else {
                state.searching -= 1;
                if state.closed {
                    return;
                }
                state.parked.push(parker.clone());
                drop(state);
                // Whoever wakes this worker counts it in `searching` again.
                parker.wait();
                state = self.lock();
                continue;
            };
            state.searching -= 1;
            state.running += 1;
            state.started += 1;
            // One job in `SAMPLE` is timed: reading the clock costs more than the rest
            // of the hand-over.
            let timed = state.started % SAMPLE == 1;
            let others_wait = !state.jobs.is_empty() && state.searching == 0;
            let help = others_wait && (state.running < self.cores || state.mean_job > SHORT_JOB);
            let woken = if help { state.take_parked() } else { None };
            drop(state);
            wake(woken);
            let start = timed.then(Instant::now);
            run(job, &blocking);
            let took = start.map(|start| start.elapsed());
            state = self.lock();
            if let Some(took) = took {
                state.mean_job = state.mean_job - state.mean_job / 4 + took / 4;
            }
            state.running -= 1;
            state.searching += 1;
        }
    }

    /// Called by a worker whose job is about to wait: another takes the queue meanwhile.
    fn blocking(&self) {
        let mut state = self.lock();
        let woken = if state.jobs.is_empty() || state.searching > 0 { None } else { state.take_parked() };
        drop(state);
        wake(woken);
    }

    /// The monitor's life, until the queue is closed: wakes a worker when jobs wait and
    /// none has started since the last look, because the workers awake are blocked in
    /// their jobs or the runtime thread that queued them has not parked to hand them over.
    pub(crate) fn monitor(&self) {
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
                let woken = state.take_parked();
                drop(state);
                wake(woken);
                state = self.lock();
                tick = TICK_MIN;
            } else {
                // All is well: look less often, as Go's sysmon backs off.
                tick = (tick * 2).min(TICK_MAX);
            }
        }
    }
}

impl<J> State<J> {
    /// The most recently parked worker, if any, counted as searching: the caller wakes it
    /// once it has let go of the lock.
    fn take_parked(&mut self) -> Option<Arc<Parker>> {
        let parker = self.parked.pop()?;
        self.searching += 1;
        Some(parker)
    }
}

fn wake(parker: Option<Arc<Parker>>) {
    if let Some(parker) = parker {
        parker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    type Job = Box<dyn FnOnce() + Send>;

    /// A queue with `workers` threads running its jobs, and its monitor.
    fn start(
        workers: usize,
        capacity: usize,
        cores: usize,
    ) -> (Arc<Queue<Job>>, Vec<std::thread::JoinHandle<()>>) {
        let queue = Queue::<Job>::new(workers, capacity, cores);
        let mut threads: Vec<_> = (0..workers)
            .map(|_| {
                let queue = queue.clone();
                std::thread::spawn(move || queue.work(|job, _| job()))
            })
            .collect();
        let monitor = queue.clone();
        threads.push(std::thread::spawn(move || monitor.monitor()));
        (queue, threads)
    }

    fn stop(queue: &Queue<Job>, threads: Vec<std::thread::JoinHandle<()>>) {
        queue.close();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    #[test]
    fn blocked_jobs_start_at_once_on_idle_workers() {
        let (queue, threads) = start(4, 16, 4);
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
        let (queue, threads) = start(2, 16, 1);
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
        let (queue, threads) = start(1, 2, 1);
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
        // monitor must start the job.
        let (queue, threads) = start(2, 16, 2);
        let handle = crate::bridge::handle();
        crate::bridge::block_on(handle.spawn(async {})).unwrap();
        std::thread::sleep(Duration::from_millis(50)); // the runtime's threads have parked once
        let (ran_tx, ran) = mpsc::channel();
        let (pushed_tx, pushed) = mpsc::channel();
        let queue_for_task = queue.clone();
        handle.spawn(async move {
            let _ = queue_for_task.push(Box::new(move || {
                let _ = ran_tx.send(Instant::now());
            }));
            let _ = pushed_tx.send(Instant::now());
            std::thread::sleep(Duration::from_millis(800));
        });
        // Timed from the push: other tests may keep the runtime's threads busy too.
        let pushed = pushed.recv_timeout(Duration::from_secs(5)).unwrap();
        let ran = ran.recv_timeout(Duration::from_secs(5)).unwrap();
        let waited = ran.saturating_duration_since(pushed);
        assert!(waited < Duration::from_millis(400), "waited {waited:?}");
        stop(&queue, threads);
    }
}
