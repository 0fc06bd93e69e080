//! Server-Sent Events: a response that stays open and sends [`Event`]s as they come, as
//! Flask-SSE and Quart's streaming responses do. The browser's `EventSource` reconnects by
//! itself and sends the last id it saw as `Last-Event-ID`
//! ([`Request::last_event_id`](crate::Request::last_event_id)).

use std::fmt::Write as _;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

use crate::body::{Body, BoxError};
use crate::response::{IntoResponse, Response};

/// One event of an event stream: its data (several lines are fine), and optionally a
/// name (`event:`), an id (`id:`) the browser sends back when it reconnects, a retry
/// delay, or a comment.
///
/// ```
/// use erlen::sse::Event;
///
/// let event = Event::default().event("tick").id("7").data("line one\nline two");
/// assert_eq!(event.to_string(), "event: tick\nid: 7\ndata: line one\ndata: line two\n\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    text: String,
}

impl Event {
    fn field(mut self, name: &str, value: &str) -> Event {
        // Reserved once and pushed piece by piece: an event is built for every message of
        // a stream, and formatting machinery showed up in its profile.
        self.text.reserve(value.len() + name.len() + 3);
        // A field's value ends at a line break: each line is a field of its own.
        for line in value.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            self.text.push_str(name);
            self.text.push_str(": ");
            self.text.push_str(line);
            self.text.push('\n');
        }
        self
    }

    /// The event as sent: its fields and the blank line that ends it, without copying.
    fn into_bytes(self) -> Bytes {
        let mut text = self.text;
        text.push('\n');
        Bytes::from(text)
    }

    /// The data; a value with several lines is sent as several `data:` lines, which the
    /// browser joins with `\n`.
    pub fn data(self, data: impl AsRef<str>) -> Event {
        self.field("data", data.as_ref())
    }

    /// The data as JSON.
    ///
    /// # Errors
    ///
    /// If `value` cannot be serialized.
    pub fn json_data(self, value: &impl serde::Serialize) -> Result<Event, serde_json::Error> {
        Ok(self.data(serde_json::to_string(value)?))
    }

    /// The event's name: the browser dispatches it to `addEventListener(name, ..)`.
    pub fn event(self, name: impl AsRef<str>) -> Event {
        self.field("event", first_line(name.as_ref()))
    }

    /// The event's id, which the browser sends back as `Last-Event-ID` when it reconnects.
    pub fn id(self, id: impl AsRef<str>) -> Event {
        self.field("id", first_line(id.as_ref()))
    }

    /// How long the browser waits before reconnecting.
    pub fn retry(mut self, delay: Duration) -> Event {
        let _ = writeln!(self.text, "retry: {}", delay.as_millis());
        self
    }

    /// A comment, which the browser ignores.
    pub fn comment(mut self, text: impl AsRef<str>) -> Event {
        for line in text.as_ref().lines() {
            let _ = writeln!(self.text, ": {line}");
        }
        self
    }
}

fn first_line(text: &str) -> &str {
    text.split(['\r', '\n']).next().unwrap_or("")
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")
    }
}

/// An event stream response (`text/event-stream`): each item of `stream` is sent as it
/// comes, and a comment is sent when nothing was sent for the keep-alive interval (15 s
/// by default), so that proxies keep the connection and a client that left is noticed.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/ticks")]
/// async fn ticks() -> Sse {
///     let events = futures::stream::iter(1..=3).map(|n| Event::default().id(n.to_string()).data(format!("tick {n}")));
///     Sse::new(events)
/// }
///
/// let client = App::new().register(handlers![ticks]).test_client();
/// let resp = client.get("/ticks").send();
/// assert_eq!(resp.header("content-type"), Some("text/event-stream"));
/// assert_eq!(resp.text(), "id: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\nid: 3\ndata: tick 3\n\n");
/// # use futures::StreamExt;
/// ```
pub struct Sse {
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
    keep_alive: Option<Duration>,
}

impl Sse {
    /// An event stream of `events`.
    pub fn new(events: impl Stream<Item = Event> + Send + 'static) -> Sse {
        Sse { events: Box::pin(events), keep_alive: Some(Duration::from_secs(15)) }
    }

    /// Sends a comment after `interval` without an event (default 15 s).
    pub fn keep_alive(mut self, interval: Duration) -> Sse {
        self.keep_alive = Some(interval);
        self
    }

    /// Sends no keep-alive comments.
    pub fn without_keep_alive(mut self) -> Sse {
        self.keep_alive = None;
        self
    }
}

impl std::fmt::Debug for Sse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sse").field("keep_alive", &self.keep_alive).finish()
    }
}

/// The events with keep-alive comments in the gaps.
struct WithKeepAlive {
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
    interval: Option<Duration>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stream for WithKeepAlive {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(next) = this.events.poll_next_unpin(cx) {
            if let (Some(interval), Some(timer)) = (this.interval, this.timer.as_mut()) {
                timer.as_mut().reset(tokio::time::Instant::now() + interval);
            }
            return Poll::Ready(next.map(|event| Ok(event.into_bytes())));
        }
        let Some(interval) = this.interval else { return Poll::Pending };
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                timer.as_mut().reset(tokio::time::Instant::now() + interval);
                Poll::Ready(Some(Ok(Bytes::from_static(b": keep-alive\n\n"))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An event stream ends when the server that serves it starts to shut down, so that the
/// drain does not wait for a stream that never ends: the browser's `EventSource`
/// reconnects (to another instance, behind a proxy) and resumes with `Last-Event-ID`.
impl IntoResponse for Sse {
    fn into_response(self) -> Response {
        let stream = WithKeepAlive { events: self.events, interval: self.keep_alive, timer: None };
        let shutdown = crate::context::current().and_then(|ctx| ctx.app.shutdown().cloned());
        let body = match shutdown {
            Some(mut shutdown) => Body::from_stream(stream.take_until(async move { shutdown.wait().await })),
            None => Body::from_stream(stream),
        };
        let mut resp = Response::new(body);
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // nginx buffers responses unless told otherwise.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        resp
    }
}
