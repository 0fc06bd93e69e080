//! How long a connection lives: it is closed once it has had no request in flight for the
//! idle time (from accept, then from the end of each response), whatever protocol it
//! speaks, or once a response has waited the write timeout for its client to read it
//! (a client that stops reading a large response holds nothing for ever); and it is
//! drained at shutdown without losing the request a keep-alive client may be sending. A
//! request is in flight from the moment hyper hands it over until its response body has
//! been sent.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures::task::AtomicWaker;
use http::Version;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::watch;
use tokio::time::Instant;

/// Once a graceful shutdown starts, how long an idle connection stays open for a request
/// that may already be on its way. That request is answered with `Connection: close`; a
/// connection closed the instant the shutdown starts would lose it.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// How long a connection told to close (an HTTP/2 GOAWAY) may take to finish before it
/// is dropped: a client that never acknowledges does not hold it open.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// The largest piece of a response body handed to hyper at once. hyper asks for the next
/// piece only when it has room to write it, so [`Tracked`] is dropped, and its request
/// leaves flight, once all but the last few pieces are on their way to the client.
const PIECE: usize = 64 * 1024;

/// What a connection's watchdog knows of its requests, written as they start and end.
pub(crate) struct Activity {
    accepted: Instant,
    in_flight: AtomicUsize,
    /// When the last request ended, in milliseconds since `accepted` (0 before the first).
    idle_since_ms: AtomicU64,
    http2: AtomicBool,
    /// The response bodies that handed hyper a piece and wait for it to ask for the next
    /// (it asks once it could write the piece): each with its number and since when.
    writing: Mutex<Vec<(u64, Instant)>>,
    next_writing: AtomicU64,
    /// Set when a body starts waiting while none was: the watchdog's deadline moves.
    writing_started: AtomicBool,
    /// The watchdog's task, woken then (an HTTP/2 stream's body is polled in a task of
    /// its own).
    watchdog: AtomicWaker,
}

/// How long a connection may wait: for a request to start (`idle`), and for its client to
/// read what it was sent (`write`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) idle: Duration,
    pub(crate) write: Duration,
}

impl Activity {
    /// The activity of a connection accepted now.
    pub(crate) fn new() -> Activity {
        Activity {
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            writing: Mutex::new(Vec::new()),
            next_writing: AtomicU64::new(0),
            writing_started: AtomicBool::new(false),
            watchdog: AtomicWaker::new(),
        }
    }

    /// A body handed hyper a piece at `at` and waits for hyper to take the next: its number.
    fn start_writing(&self, at: Instant) -> u64 {
        let id = self.next_writing.fetch_add(1, Ordering::Relaxed);
        let mut writing = crate::sync::lock(&self.writing);
        let first = writing.is_empty();
        writing.push((id, at));
        drop(writing);
        if first {
            self.writing_started.store(true, Ordering::SeqCst);
            self.watchdog.wake();
        }
        id
    }

    /// hyper asked body `id` for its next piece (or the body is gone).
    fn done_writing(&self, id: u64) {
        crate::sync::lock(&self.writing).retain(|(w, _)| *w != id);
    }

    /// Since when the body that has waited longest for its client has waited, if one waits.
    fn writing_since(&self) -> Option<Instant> {
        crate::sync::lock(&self.writing).iter().map(|(_, at)| *at).min()
    }

    /// When the connection will have been idle too long if no request starts before:
    /// `idle` after it was accepted or after its last request ended, or, once the server
    /// drains (since `drain`), the short grace. With requests in flight, a time to look
    /// again.
    fn deadline(&self, timeouts: Timeouts, drain: Option<Instant>) -> Instant {
        let Timeouts { idle, write } = timeouts;
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            let look = Instant::now() + if drain.is_some() { DRAIN_GRACE.min(idle) } else { idle.min(write) };
            return match self.writing_since() {
                Some(since) => look.min(since + write),
                None => look,
            };
        }
        let idle_since = self.accepted + Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst));
        let deadline = idle_since + idle;
        match drain {
            Some(drain) => deadline.min(idle_since.max(drain) + DRAIN_GRACE),
            None => deadline,
        }
    }

    /// Drives `conn` and closes it once it has been idle past its deadline. The deadline
    /// runs from accept, before hyper has even seen which protocol the client speaks, so
    /// a client that sends nothing, or part of the HTTP/2 preface, is closed in time; and
    /// it covers idle HTTP/2 connections, which hyper's header timeout does not. When
    /// `stop` turns, an HTTP/2 connection gets a GOAWAY at once and an HTTP/1 connection
    /// answers its next request with `Connection: close` (the server adds it while it
    /// drains), or closes after the grace if none comes.
    ///
    /// `conn` is pinned by the caller, in its own future: taken by value, it would be
    /// stored twice in this one (as the argument and pinned), and the connection's task
    /// would be larger by the size of a hyper connection.
    ///
    /// A response that has waited `timeouts.write` for its client to read it (hyper does
    /// not ask its body for the next piece while it cannot write the last) closes the
    /// connection: on HTTP/1 a client that stopped reading, on HTTP/2 a stream or a whole
    /// connection whose flow-control window the client does not open.
    pub(crate) async fn watch_over<C: Graceful>(
        &self,
        mut conn: Pin<&mut C>,
        timeouts: Timeouts,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), C::Error> {
        let mut drain = None;
        // Tells whether the stop signal turned, without taking `stop`'s borrow.
        let probe = stop.clone();
        loop {
            let deadline = self.deadline(timeouts, drain);
            let mut sleep = pin!(tokio::time::sleep_until(deadline));
            let watching = drain.is_none();
            let mut stopped = pin!(stop.wait_for(|stop| *stop));
            // The timer and the stop signal keep the waker they were polled with, so they
            // are polled again only once they have fired (a load each) or the waker has
            // changed: the connection wakes this task for every request, and registering
            // both each time cost more than the rest of this loop. They count as
            // registered only if the task had coop budget left when they were polled: a
            // view that spends it (the connection is polled first, and runs the view)
            // makes them return Pending without registering anything.
            let mut registered: Option<Waker> = None;
            let woke = poll_fn(|cx| {
                if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                    return Poll::Ready(Woke::Done(result));
                }
                let fresh = !registered.as_ref().is_some_and(|waker| waker.will_wake(cx.waker()));
                let budget = tokio::task::coop::has_budget_remaining();
                // A response started to wait for its client: its write timeout may come
                // before the deadline the timer was set for.
                let mut moved = false;
                if self.writing_started.swap(false, Ordering::SeqCst) {
                    let deadline = self.deadline(timeouts, drain);
                    if deadline < sleep.deadline() {
                        sleep.as_mut().reset(deadline);
                        moved = true;
                    }
                }
                if (fresh || moved || sleep.is_elapsed()) && sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::Timer);
                }
                if watching
                    && (fresh || probe.has_changed().unwrap_or(true))
                    && stopped.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Woke::Stop);
                }
                if fresh && budget {
                    self.watchdog.register(cx.waker());
                    registered = Some(cx.waker().clone());
                }
                Poll::Pending
            })
            .await;
            match woke {
                Woke::Done(result) => return result,
                Woke::Timer => {
                    let now = Instant::now();
                    if self.writing_since().is_some_and(|since| since + timeouts.write <= now) {
                        tracing::debug!(
                            timeout = ?timeouts.write,
                            "a client did not read its response within the write timeout; closing its connection"
                        );
                        // Dropped: a graceful close would wait for the write that is stuck.
                        return Ok(());
                    }
                    if self.deadline(timeouts, drain) <= now {
                        break;
                    }
                }
                Woke::Stop => {
                    drain = Some(Instant::now());
                    if self.http2.load(Ordering::Relaxed) {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
        conn.as_mut().graceful_shutdown();
        tokio::time::timeout(CLOSE_WAIT, conn).await.unwrap_or(Ok(()))
    }
}

/// What woke [`Activity::watch_over`]'s loop.
enum Woke<R> {
    /// The connection ended.
    Done(R),
    /// The deadline passed (it may have moved since).
    Timer,
    /// The server started to shut down.
    Stop,
}

/// A connection that can be told to finish what it is serving and close, then polled
/// until it has.
pub(crate) trait Graceful: Future<Output = Result<(), Self::Error>> {
    type Error;

    fn graceful_shutdown(self: Pin<&mut Self>);
}

/// A request in flight on a connection (`C` holds the connection's [`Activity`]); it
/// ends when dropped: when its response has been sent, or when it is abandoned.
pub(crate) struct Active<C: AsRef<Activity>>(Arc<C>);

impl<C: AsRef<Activity>> Active<C> {
    /// A request of `version` starts on `conn`.
    pub(crate) fn begin(conn: Arc<C>, version: Version) -> Active<C> {
        let activity: &Activity = (*conn).as_ref();
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        if version == Version::HTTP_2 {
            activity.http2.store(true, Ordering::Relaxed);
        }
        Active(conn)
    }

    /// The connection the request came on.
    pub(crate) fn conn(&self) -> &C {
        &self.0
    }
}

impl<C: AsRef<Activity>> Drop for Active<C> {
    fn drop(&mut self) {
        let activity: &Activity = (*self.0).as_ref();
        let ms = u64::try_from(activity.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.idle_since_ms.store(ms, Ordering::SeqCst);
        activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request in flight until it has been sent (or
/// abandoned), so that a long download is never taken for an idle connection; and that
/// tells the watchdog when it waits for its client to read what it was handed.
pub(crate) struct Tracked<B, C: AsRef<Activity>> {
    body: B,
    /// What is left of the body's last frame.
    rest: Bytes,
    active: Active<C>,
    /// Set while a piece was handed to hyper and more is to come: the number under which
    /// the connection's activity knows the wait.
    writing: Option<u64>,
}

impl<B, C: AsRef<Activity>> Tracked<B, C> {
    pub(crate) fn new(body: B, active: Active<C>) -> Tracked<B, C> {
        Tracked { body, rest: Bytes::new(), active, writing: None }
    }

    fn activity(&self) -> &Activity {
        (*self.active.0).as_ref()
    }
}

impl<B, C: AsRef<Activity>> Drop for Tracked<B, C> {
    fn drop(&mut self) {
        if let Some(id) = self.writing.take() {
            self.activity().done_writing(id);
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin, C: AsRef<Activity>> Body for Tracked<B, C> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        // hyper asks for the next piece: it could write the last one.
        if let Some(id) = this.writing.take() {
            this.activity().done_writing(id);
        }
        if this.rest.is_empty() {
            match std::task::ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.rest = data,
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                done_or_failed => return Poll::Ready(done_or_failed),
            }
        }
        let piece = this.rest.split_to(this.rest.len().min(PIECE));
        // More to come (a small response is one piece and costs nothing here): until
        // hyper asks for it, the body waits for its client.
        if !this.rest.is_empty() || !this.body.is_end_stream() {
            this.writing = Some(this.activity().start_writing(Instant::now()));
        }
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let body = self.body.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        if let Some(upper) = body.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint.set_lower(body.lower().saturating_add(rest));
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    struct Conn(Activity);
    impl AsRef<Activity> for Conn {
        fn as_ref(&self) -> &Activity {
            &self.0
        }
    }

    #[tokio::test]
    async fn a_body_is_sent_in_pieces_and_its_request_ends_with_it() {
        let conn = Arc::new(Conn(Activity::new()));
        let active = Active::begin(conn.clone(), Version::HTTP_11);
        let mut body = Tracked::new(Full::new(Bytes::from(vec![7u8; PIECE * 2 + 1])), active);
        assert_eq!(body.size_hint().exact(), Some(PIECE as u64 * 2 + 1));
        assert_eq!(conn.0.in_flight.load(Ordering::SeqCst), 1);
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.unwrap().into_data().unwrap().len());
        }
        assert_eq!(sizes, [PIECE, PIECE, 1]);
        assert!(body.is_end_stream());
        drop(body);
        assert_eq!(conn.0.in_flight.load(Ordering::SeqCst), 0);
    }

    /// A connection whose first poll spends the task's whole coop budget (as an async
    /// view does that meets many ready tokio operations), then idles until told to close.
    struct Greedy {
        greedy: bool,
        polled: bool,
        closing: bool,
    }

    impl Future for Greedy {
        type Output = Result<(), ()>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            if self.closing {
                return Poll::Ready(Ok(()));
            }
            if !std::mem::replace(&mut self.polled, true) && self.greedy {
                for _ in 0..1000 {
                    if pin!(tokio::task::consume_budget()).poll(cx).is_pending() {
                        break;
                    }
                }
            }
            Poll::Pending
        }
    }

    impl Graceful for Greedy {
        type Error = ();
        fn graceful_shutdown(mut self: Pin<&mut Self>) {
            self.closing = true;
        }
    }

    /// How long the watchdog takes to end a [`Greedy`] connection (none: not in 4 s).
    async fn watched(greedy: bool, idle: Duration, stop_after: Option<Duration>) -> Option<Duration> {
        let (tx, stop) = watch::channel(false);
        let start = Instant::now();
        let task = tokio::spawn(async move {
            let activity = Activity::new();
            let conn = pin!(Greedy { greedy, polled: false, closing: false });
            activity.watch_over(conn, Timeouts { idle, write: Duration::from_secs(30) }, stop).await
        });
        if let Some(after) = stop_after {
            tokio::time::sleep(after).await;
            tx.send_replace(true);
        }
        let done = tokio::time::timeout(Duration::from_secs(4), task).await.is_ok();
        drop(tx);
        done.then(|| start.elapsed())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_that_spends_the_budget_still_times_out_and_drains() {
        let idle = Duration::from_millis(100);
        for greedy in [false, true] {
            let closed = watched(greedy, idle, None).await;
            assert!(closed.is_some(), "greedy: {greedy}: idle 100 ms, still open after 4 s");
            // Stopped at 100 ms: closed after the drain's grace of 1 s.
            let closed = watched(greedy, Duration::from_secs(60), Some(idle)).await;
            assert!(closed.is_some(), "greedy: {greedy}: stopped at 100 ms, still open after 4 s");
        }
    }

    #[test]
    fn the_deadline_runs_from_accept_then_from_the_last_response_and_shortens_on_drain() {
        let activity = Activity::new();
        let idle = Duration::from_secs(10);
        let t = Timeouts { idle, write: Duration::from_secs(30) };
        assert_eq!(activity.deadline(t, None), activity.accepted + idle);
        activity.idle_since_ms.store(2_000, Ordering::SeqCst);
        let since = activity.accepted + Duration::from_secs(2);
        assert_eq!(activity.deadline(t, None), since + idle);
        let drain = since + Duration::from_secs(3);
        assert_eq!(activity.deadline(t, Some(drain)), drain + DRAIN_GRACE);
        activity.in_flight.store(1, Ordering::SeqCst);
        assert!(activity.deadline(t, None) > Instant::now() + Duration::from_secs(9));
        // A body waiting for its client since `at`: the write timeout runs from there.
        let at = Instant::now();
        let id = activity.start_writing(at);
        let short = Timeouts { idle, write: Duration::from_secs(2) };
        assert_eq!(activity.deadline(short, None), at + short.write);
        activity.done_writing(id);
        assert!(activity.writing_since().is_none());
    }
}
