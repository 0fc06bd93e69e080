//! The threaded backend: a fixed pool of worker threads, like a WSGI server's.
//!
//! Connections live in the event loop; when a request has been read in full it is queued
//! for the pool, and a worker runs its whole lifecycle, start to finish, one request at a
//! time. Sync handlers run right on the worker. Async handlers are polled on the worker
//! too, through the bridge ([`crate::bridge::park_on`]): the worker parks while the shared
//! runtime's reactor and timers drive their I/O, so no thread and no event loop is created
//! per call (Flask's `AsyncToSync` creates both). A full queue is a 503, never a hang.
//! When to wake a worker, so that a request crosses threads at as little cost as it can,
//! is the scheduler's business (`crate::sched`), which the sync pool shares.
//!
//! A request whose client has gone (the connection closed, the HTTP/2 stream was reset,
//! the request timed out) is skipped if no worker has started it yet, and the view or
//! hook awaiting on the worker is cancelled at its next `.await`, as on the async backend.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use tokio::sync::oneshot;

use crate::admit::Admitted;
use crate::app::AppCore;
use crate::bridge;
use crate::context::AppHandle;
use crate::dispatch::dispatch;
use crate::error::HttpError;
use crate::exec::Mode;
use crate::response::Response;
use crate::sched::{Refused, Sched};

/// A request waiting for a worker, and where its response goes.
struct Job {
    admitted: Admitted,
    reply: oneshot::Sender<Response>,
}

/// The sending side, used by connections; dropping it closes the queue, which lets the
/// workers finish what is queued and exit.
pub(crate) struct Workers {
    queue: Arc<Sched<Job>>,
}

/// The worker threads, joined at shutdown.
#[derive(Debug)]
pub(crate) struct Pool {
    /// The workers, then the queue's monitor.
    threads: Vec<JoinHandle<()>>,
    // In a mutex only so that `ServerHandle` is `Sync`; it is used once, at shutdown.
    exited: Mutex<Receiver<()>>,
}

impl Workers {
    /// Starts `workers` threads serving `app`, sharing a queue of `queue_size` requests.
    pub(crate) fn start(
        app: Arc<AppCore>,
        handle: Arc<dyn AppHandle>,
        workers: usize,
        queue_size: usize,
    ) -> io::Result<(Workers, Pool)> {
        let queue = Sched::fixed(workers, queue_size, crate::sched::cores());
        let (exit, exited) = mpsc::channel();
        let threads = (0..workers)
            .map(|i| {
                let queue = queue.clone();
                let exit = exit.clone();
                let app = app.clone();
                let handle = handle.clone();
                std::thread::Builder::new().name(format!("erlen-worker-{i}")).spawn(move || {
                    let waker = bridge::thread_waker();
                    queue.work(|job, blocking| run(&app, &handle, job, &waker, blocking));
                    let _ = exit.send(());
                })
            })
            .chain(std::iter::once(queue.spawn_monitor("erlen-worker-monitor")))
            .collect::<io::Result<Vec<_>>>();
        match threads {
            Ok(threads) => Ok((Workers { queue }, Pool { threads, exited: Mutex::new(exited) })),
            Err(e) => {
                // The threads started exit once the queue is closed.
                queue.close();
                Err(e)
            }
        }
    }

    /// Queues the request and waits for a worker's response. A full queue is a 503 with
    /// `Retry-After`, as is a server that is shutting down.
    pub(crate) async fn serve(&self, admitted: Admitted) -> Response {
        let (reply, response) = oneshot::channel();
        let refused = match self.queue.push(Job { admitted, reply }) {
            Ok(()) => {
                return response.await.unwrap_or_else(|_| {
                    HttpError::internal("the worker serving the request stopped").default_response()
                });
            }
            Err(Refused::Full) => HttpError::new(StatusCode::SERVICE_UNAVAILABLE)
                .with_message("all workers are busy and the queue is full; try again shortly")
                .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
            Err(Refused::Closed) => {
                HttpError::new(StatusCode::SERVICE_UNAVAILABLE).with_message("the server is shutting down")
            }
        };
        refused.default_response()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// Runs one request's lifecycle on this worker, parked with `waker` when it waits (after
/// calling `blocking`), and sends its response, unless its client has gone.
fn run(app: &AppCore, handle: &Arc<dyn AppHandle>, job: Job, waker: &Waker, blocking: &dyn Fn()) {
    let Job { admitted, reply } = job;
    if reply.is_closed() {
        tracing::debug!(path = admitted.request.path(), "the client has gone; its queued request is skipped");
        return;
    }
    // Shared by the lifecycle, which asks before its teardown hooks whether the client is
    // gone (a sync view runs to its end regardless), and the watch for the client leaving.
    let reply = Mutex::new(reply);
    let gone = || crate::sync::lock(&reply).is_closed();
    let served = {
        // Pinned where it is made: the lifecycle's state is large, and never moved.
        let lifecycle = pin!(async {
            // The lifecycle first: a request that does not wait (a sync view) is done
            // before the client's departure is ever watched for, which costs a
            // registration.
            tokio::select! {
                biased;
                response = dispatch(app, handle, admitted, &Mode::Inline, &gone) => Some(response),
                () = std::future::poll_fn(|cx| crate::sync::lock(&reply).poll_closed(cx)) => None,
            }
        });
        // The lifecycle turns every panic of user code into a 500; this keeps the worker
        // alive should anything else panic.
        catch_unwind(AssertUnwindSafe(|| bridge::park_on_with(lifecycle, waker, blocking)))
    };
    match served {
        // The client may still go before the response reaches it; nothing to do then.
        Ok(Some(response)) => {
            let _ = crate::sync::into_inner(reply).send(response);
        }
        Ok(None) => tracing::debug!("the client has gone; its request was cancelled"),
        Err(_) => tracing::error!("a worker panicked outside the request's handlers; the request is dropped"),
    }
}

impl Pool {
    /// Waits, up to `deadline`, for every worker to finish its current request and exit
    /// (the queue is closed first, once the connections have let go of it). A worker stuck
    /// in a handler past the deadline is left to finish on its own.
    pub(crate) fn join(self, deadline: Duration) {
        let until = Instant::now() + deadline;
        let exited = crate::sync::into_inner(self.exited);
        // The monitor, last, exits as soon as the queue is closed.
        for _ in 1..self.threads.len() {
            let left = until.saturating_duration_since(Instant::now());
            if exited.recv_timeout(left).is_err() {
                tracing::warn!("a worker is still busy after the shutdown timeout; leaving it behind");
                return;
            }
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}
