//! Request bodies that the view reads itself, piece by piece, so that an upload of
//! hundreds of MiB never sits in memory: what [`BodyStream`](crate::BodyStream) (in an
//! `async fn`), [`BodyReader`](crate::BodyReader) (`std::io::Read`, in a plain `fn`) and
//! [`Multipart`](crate::Multipart) read from.
//!
//! A view that takes one of them (or [`Multipart`](crate::Multipart)) is marked by its
//! macro, at compile time, as streaming its body: the server then routes the request
//! before reading anything, checks the declared length against the route's limit, and
//! hands the body over unread. The limit still holds while streaming (413), and so do the
//! server's body read timeout, between two pieces, and its minimum rate (408).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::task::AtomicWaker;
use http::StatusCode;
use tokio::time::{Instant, Sleep};

use crate::body::ChunkStream;
use crate::error::ClientFault;

/// How fast a streamed body must arrive: a piece within `idle` of the last one, and on
/// average `min_rate` bytes a second once the first `idle` has passed (Apache's
/// `MinRate`), so that a client trickling a byte now and then cannot hold a view, and on
/// the threaded backend its worker, for ever.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    pub(crate) idle: Duration,
    pub(crate) min_rate: u64,
}

/// Set when the request's time is up: the body's next read fails, so that a view still
/// reading it (a sync one cannot be interrupted otherwise) stops there.
#[derive(Clone, Default)]
pub(crate) struct Cancel(Arc<CancelState>);

#[derive(Default)]
struct CancelState {
    cancelled: AtomicBool,
    waker: AtomicWaker,
}

impl Cancel {
    pub(crate) fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.waker.wake();
    }

    fn poll(&self, cx: &mut Context<'_>) -> bool {
        self.0.waker.register(cx.waker());
        self.0.cancelled.load(Ordering::SeqCst)
    }
}

/// A request body not read yet, with its limit and how fast it must come.
pub(crate) struct Incoming {
    chunks: ChunkStream,
    limit: u64,
    read: u64,
    /// None in the test client, where the body is in memory.
    pace: Option<Pace>,
    started: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    cancel: Option<Cancel>,
    /// Once set, every later read gives it again: a body cut short never looks complete.
    fault: Option<ClientFault>,
    finished: bool,
}

impl Incoming {
    pub(crate) fn new(
        chunks: ChunkStream,
        limit: u64,
        pace: Option<Pace>,
        cancel: Option<Cancel>,
    ) -> Incoming {
        Incoming {
            chunks,
            limit,
            read: 0,
            pace,
            started: Instant::now(),
            timer: None,
            cancel,
            fault: None,
            finished: false,
        }
    }

    /// A body already in memory, as the test client has it, in pieces of 64 KiB (without
    /// copying) as it would arrive from a socket.
    pub(crate) fn from_bytes(bytes: Bytes, limit: u64) -> Incoming {
        const PIECE: usize = 64 * 1024;
        let pieces =
            (0..bytes.len()).step_by(PIECE).map(move |at| Ok(bytes.slice(at..(at + PIECE).min(bytes.len()))));
        let chunks: ChunkStream = Box::pin(futures::stream::iter(pieces.collect::<Vec<_>>()));
        Incoming::new(chunks, limit, None, None)
    }

    /// The largest body accepted, in bytes.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// The bytes read so far.
    pub(crate) fn read(&self) -> u64 {
        self.read
    }

    /// When the next piece must have come: within `idle` of the last one, and soon enough
    /// for the average rate.
    fn deadline(&self, pace: Pace, now: Instant) -> (Instant, bool) {
        let idle = now + pace.idle;
        if pace.min_rate == 0 {
            return (idle, false);
        }
        let earned = Duration::from_secs_f64(self.read as f64 / pace.min_rate as f64);
        let rate = self.started + pace.idle + earned;
        if rate < idle { (rate, true) } else { (idle, false) }
    }

    fn fail(&mut self, fault: ClientFault) -> Poll<Option<Result<Bytes, ClientFault>>> {
        self.fault = Some(fault.clone());
        Poll::Ready(Some(Err(fault)))
    }

    /// The next piece, or the client's fault: a body over the limit, a piece that does
    /// not come in time, a broken body; or the request's time being up.
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ClientFault>>> {
        if let Some(fault) = &self.fault {
            return Poll::Ready(Some(Err(fault.clone())));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        if self.cancel.as_ref().is_some_and(|c| c.poll(cx)) {
            return self.fail(ClientFault::new(StatusCode::SERVICE_UNAVAILABLE, "the request took too long"));
        }
        match self.chunks.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.read += chunk.len() as u64;
                if self.read > self.limit {
                    return self.fail(too_large(self.limit));
                }
                if let Some(pace) = self.pace {
                    let (deadline, _) = self.deadline(pace, Instant::now());
                    if let Some(timer) = self.timer.as_mut() {
                        timer.as_mut().reset(deadline);
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                let message = format!("the request body could not be read: {e}");
                self.fail(ClientFault::new(StatusCode::BAD_REQUEST, message))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(pace) = self.pace else { return Poll::Pending };
                let (deadline, _) = self.deadline(pace, Instant::now());
                let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let (_, by_rate) = self.deadline(pace, Instant::now());
                let message = if by_rate {
                    format!("the request body arrived slower than {} bytes a second", pace.min_rate)
                } else {
                    format!("no part of the request body arrived for {:?}", pace.idle)
                };
                self.fail(ClientFault::new(StatusCode::REQUEST_TIMEOUT, message))
            }
        }
    }

    /// The next piece, awaited.
    pub(crate) async fn next_chunk(&mut self) -> Option<Result<Bytes, ClientFault>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }
}

/// The 413 for a body over `limit`.
pub(crate) fn too_large(limit: u64) -> ClientFault {
    ClientFault::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_cut_short_never_looks_complete() {
        let pieces = ["ab", "cd", "ef"].map(|p| Ok(Bytes::from_static(p.as_bytes())));
        let mut body = Incoming::new(Box::pin(futures::stream::iter(pieces)), 3, None, None);
        let mut next = || futures::executor::block_on(body.next_chunk()).map(|r| r.map_err(|f| f.status));
        assert_eq!(next(), Some(Ok(Bytes::from_static(b"ab"))));
        assert_eq!(next(), Some(Err(StatusCode::PAYLOAD_TOO_LARGE)));
        assert_eq!(next(), Some(Err(StatusCode::PAYLOAD_TOO_LARGE)), "the fault again, not the end");
    }

    #[test]
    fn a_cancelled_body_fails_its_next_read() {
        let cancel = Cancel::default();
        let mut body = Incoming::new(Box::pin(futures::stream::pending()), 10, None, Some(cancel.clone()));
        cancel.cancel();
        let next = futures::executor::block_on(body.next_chunk()).map(|r| r.map_err(|f| f.status));
        assert_eq!(next, Some(Err(StatusCode::SERVICE_UNAVAILABLE)));
    }
}
