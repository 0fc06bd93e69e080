//! The threaded backend: a fixed pool of worker threads, like a WSGI server's.
//!
//! Connections live in the event loop; when a request has been read in full it is queued
//! for the pool, and the first free worker runs its whole lifecycle, start to finish. Sync
//! handlers run right on the worker. Async handlers are polled on the worker too, through
//! the bridge ([`crate::bridge::park_on`]): the worker parks while the shared runtime's
//! reactor and timers drive their I/O, so no thread and no event loop is created per call
//! (Flask's `AsyncToSync` creates both). A full queue is a 503, never a hang.
//!
//! A request whose client has gone (the connection closed, the HTTP/2 stream was reset,
//! the request timed out) is skipped if no worker has started it yet, and the view or
//! hook awaiting on the worker is cancelled at its next `.await`, as on the async backend.

use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use tokio::sync::oneshot;

use crate::app::AppCore;
use crate::bridge;
use crate::dispatch::dispatch;
use crate::error::HttpError;
use crate::exec::Mode;
use crate::request::Request;
use crate::response::Response;

struct Job {
    request: Box<Request>,
    reply: oneshot::Sender<Response>,
}

/// The sending side, used by connections.
pub(crate) struct Workers {
    queue: SyncSender<Job>,
}

/// The worker threads, joined at shutdown.
#[derive(Debug)]
pub(crate) struct Pool {
    threads: Vec<JoinHandle<()>>,
    // In a mutex only so that `ServerHandle` is `Sync`; it is used once, at shutdown.
    exited: Mutex<Receiver<()>>,
}

impl Workers {
    /// Starts `workers` threads serving `app`, sharing a queue of `queue_size` requests.
    pub(crate) fn start(app: Arc<AppCore>, workers: usize, queue_size: usize) -> io::Result<(Workers, Pool)> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(queue_size);
        let jobs = Arc::new(Mutex::new(jobs));
        let (exit, exited) = mpsc::channel();
        let threads = (0..workers)
            .map(|i| {
                let jobs = jobs.clone();
                let exit = exit.clone();
                let app = app.clone();
                std::thread::Builder::new().name(format!("erlen-worker-{i}")).spawn(move || {
                    work(&app, &jobs);
                    let _ = exit.send(());
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok((Workers { queue }, Pool { threads, exited: Mutex::new(exited) }))
    }

    /// Queues the request and waits for a worker's response. A full queue is a 503 with
    /// `Retry-After`, as is a server that is shutting down.
    pub(crate) async fn serve(&self, request: Box<Request>) -> Response {
        let (reply, response) = oneshot::channel();
        let refused = match self.queue.try_send(Job { request, reply }) {
            Ok(()) => {
                return response.await.unwrap_or_else(|_| {
                    HttpError::internal("the worker serving the request stopped").default_response()
                });
            }
            Err(TrySendError::Full(_)) => HttpError::new(StatusCode::SERVICE_UNAVAILABLE)
                .with_message("all workers are busy and the queue is full; try again shortly")
                .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
            Err(TrySendError::Disconnected(_)) => {
                HttpError::new(StatusCode::SERVICE_UNAVAILABLE).with_message("the server is shutting down")
            }
        };
        refused.default_response()
    }
}

fn work(app: &Arc<AppCore>, jobs: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while serving one.
        let job = crate::sync::lock(jobs).recv();
        let Ok(Job { request, mut reply }) = job else { return };
        if reply.is_closed() {
            tracing::debug!(path = request.path(), "the client has gone; its queued request is skipped");
            continue;
        }
        let served = bridge::park_on(async {
            tokio::select! {
                biased;
                () = reply.closed() => None,
                response = dispatch(app, request, &Mode::Inline) => Some(response),
            }
        });
        match served {
            // The client may still go before the response reaches it; nothing to do then.
            Some(response) => {
                let _ = reply.send(response);
            }
            None => tracing::debug!("the client has gone; its request was cancelled"),
        }
    }
}

impl Pool {
    /// Waits, up to `deadline`, for every worker to finish its current request and exit
    /// (the queue's sender is dropped first, which ends their loop). A worker stuck in a
    /// handler past the deadline is left to finish on its own.
    pub(crate) fn join(self, deadline: Duration) {
        let until = Instant::now() + deadline;
        let exited = crate::sync::into_inner(self.exited);
        for _ in 0..self.threads.len() {
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
