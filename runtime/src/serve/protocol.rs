//! HTTP/1.1 and HTTP/2 on one port: a connection that opens with HTTP/2's preface (h2c
//! with prior knowledge, or TLS after ALPN chose `h2`) is served by hyper's HTTP/2
//! connection, any other by its HTTP/1 connection.
//!
//! hyper-util's `auto` builder does the same, in two ways that cost every idle HTTP/1
//! connection memory: it hands the bytes it read to tell the protocol to hyper on their
//! own, so hyper first sees a piece of the request and doubles its read buffer, from 8
//! to 16 KiB, for the connection's life; and its connection holds HTTP/2's state inline,
//! sizing every HTTP/1 connection's task for HTTP/2. Here the bytes read first are handed
//! over together with whatever else has arrived, and an HTTP/2 connection is boxed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use hyper::body::Incoming;
use hyper::rt::bounds::Http2ServerConnExec;
use hyper::server::conn::{http1, http2};
use hyper::service::HttpService;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::lifetime::Graceful;
use super::limits::Limits;
use crate::body::BoxError;

/// What an HTTP/2 client sends first (RFC 9113, section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// hyper's settings for every connection of one server.
pub(crate) struct Http {
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
}

impl Http {
    pub(crate) fn new(limits: &Limits) -> Http {
        let mut h1 = http1::Builder::new();
        // No timer, so no header read timeout of hyper's: the connection's watchdog
        // (`lifetime`) closes a connection that has no request in flight for the idle
        // time, a slow head included; hyper's would arm a timer for every request.
        h1
            // The head's size is checked as parsed, however the reads fell; the buffer's
            // cap alone lets a head through that arrives in one large read.
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(limits.max_header_bytes)
            .keep_alive(true);
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            // A peer that stops answering pings while a request runs is gone.
            .keep_alive_interval(limits.header_read_timeout)
            .keep_alive_timeout(limits.header_read_timeout);
        Http { h1, h2 }
    }

    /// Serves `io` with `service`, in the protocol its first bytes tell; HTTP/1
    /// connections may be upgraded (WebSocket).
    pub(crate) fn serve<I, S>(&self, io: I, service: S) -> Connection<'_, I, S>
    where
        S: HttpService<Incoming>,
    {
        Connection(State::Opening(Opening { io: Rewound::new(io), service, http: self }))
    }
}

/// A connection being served: a future that ends when the connection has closed.
pub(crate) struct Connection<'a, I, S: HttpService<Incoming>>(State<'a, I, S>);

/// The connection's stream, as hyper reads and writes it.
type Io<I> = TokioIo<Rewound<I>>;

#[allow(clippy::large_enum_variant)] // HTTP/1 is the connection's state for most of its life
enum State<'a, I, S: HttpService<Incoming>> {
    /// Reading the first bytes, until they tell the protocol.
    Opening(Opening<'a, I, S>),
    Http1(http1::UpgradeableConnection<Io<I>, S>),
    /// Boxed: an HTTP/2 connection's state is twice an HTTP/1 connection's, and HTTP/1
    /// connections would otherwise carry it.
    Http2(Pin<Box<http2::Connection<Io<I>, S, TokioExecutor>>>),
    /// Closed before it started: told to shut down while it was opening.
    Closed,
}

struct Opening<'a, I, S> {
    io: Rewound<I>,
    service: S,
    http: &'a Http,
}

impl<I, S, B> Future for Connection<'_, I, S>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = B> + Unpin,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
    TokioExecutor: Http2ServerConnExec<S::Future, B>,
{
    type Output = Result<(), BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let state = &mut self.get_mut().0;
        loop {
            match state {
                State::Opening(opening) => {
                    let http2 = ready!(opening.io.poll_opening(cx))?;
                    let State::Opening(Opening { io, service, http }) =
                        std::mem::replace(state, State::Closed)
                    else {
                        unreachable!("matched above")
                    };
                    let io = TokioIo::new(io);
                    *state = match http2 {
                        true => State::Http2(Box::pin(http.h2.serve_connection(io, service))),
                        false => State::Http1(http.h1.serve_connection(io, service).with_upgrades()),
                    };
                }
                State::Http1(conn) => return Pin::new(conn).poll(cx).map_err(Into::into),
                State::Http2(conn) => return conn.as_mut().poll(cx).map_err(Into::into),
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<I, S, B> Graceful for Connection<'_, I, S>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = B> + Unpin,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
    TokioExecutor: Http2ServerConnExec<S::Future, B>,
{
    type Error = BoxError;

    /// An HTTP/1 connection closes once its current response is sent, an HTTP/2
    /// connection sends a GOAWAY and closes once its streams are done, and a connection
    /// that has not said which it speaks closes at once.
    fn graceful_shutdown(self: Pin<&mut Self>) {
        let state = &mut self.get_mut().0;
        match state {
            State::Opening(_) => *state = State::Closed,
            State::Http1(conn) => Pin::new(conn).graceful_shutdown(),
            State::Http2(conn) => conn.as_mut().graceful_shutdown(),
            State::Closed => {}
        }
    }
}

/// A connection's stream, with the bytes read to tell its protocol handed back first.
pub(crate) struct Rewound<I> {
    io: I,
    first: [u8; PREFACE.len()],
    /// `first[start..end]` is what is left to hand back.
    start: u8,
    end: u8,
}

impl<I> Rewound<I> {
    fn new(io: I) -> Rewound<I> {
        Rewound { io, first: [0; PREFACE.len()], start: 0, end: 0 }
    }
}

impl<I: AsyncRead + Unpin> Rewound<I> {
    /// Reads until the bytes read are not the start of HTTP/2's preface (HTTP/1; also
    /// when the client closes) or are all of it (HTTP/2): `Ready(true)` for HTTP/2.
    fn poll_opening(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        while usize::from(self.end) < PREFACE.len() {
            let read = usize::from(self.end);
            let mut buf = ReadBuf::new(&mut self.first[read..]);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
            let n = buf.filled().len();
            // At most the 24 bytes of `first`.
            self.end += n as u8;
            if n == 0 || self.first[read..read + n] != PREFACE[read..read + n] {
                return Poll::Ready(Ok(false));
            }
        }
        Poll::Ready(Ok(true))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewound<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.start == this.end {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let first = &this.first[usize::from(this.start)..usize::from(this.end)];
        let n = first.len().min(buf.remaining());
        buf.put_slice(&first[..n]);
        // At most the 24 bytes of `first`.
        this.start += n as u8;
        if this.start < this.end || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // And what has arrived since, in the same read: given only the first bytes,
        // hyper would take them for a partial request and grow its buffer for the rest.
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => Poll::Ready(Ok(())),
            done => done,
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewound<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    /// What `Rewound` tells of a stream that receives the pieces `sent`, one at a time
    /// while it reads, and what a reader of 8 KiB (hyper's first read) then gets at once.
    async fn open(sent: &[&[u8]]) -> (bool, Vec<u8>) {
        let (mut client, server) = duplex(1024);
        let mut rewound = Rewound::new(server);
        let send = async move {
            for piece in sent {
                client.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
        };
        let opening = poll_fn(|cx| rewound.poll_opening(cx));
        let ((), http2) = tokio::join!(send, opening);
        let mut first = vec![0; 8192];
        let n = rewound.read(&mut first).await.unwrap();
        first.truncate(n);
        (http2.unwrap(), first)
    }

    #[tokio::test]
    async fn an_http1_request_is_handed_over_whole_with_the_bytes_read_to_tell_its_protocol() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(open(&[request]).await, (false, request.to_vec()));
    }

    #[tokio::test]
    async fn the_http2_preface_is_recognised_when_it_arrives_in_pieces() {
        let (http2, first) = open(&[&PREFACE[..3], &PREFACE[3..20], &PREFACE[20..], b"\0\0\0\x04"]).await;
        assert!(http2);
        assert_eq!(first, [&PREFACE[..], b"\0\0\0\x04"].concat());
    }

    #[tokio::test]
    async fn a_client_that_closes_early_is_taken_for_http1() {
        assert_eq!(open(&[&PREFACE[..23]]).await, (false, PREFACE[..23].to_vec()));
        assert_eq!(open(&[]).await, (false, Vec::new()));
    }
}
