//! The socket a handler holds: [`WebSocket`] for an `async fn`, [`BlockingWebSocket`] for
//! a plain `fn`. When the handler is done with it (returns, fails or panics), the socket
//! goes back to the task that ran the handler, which closes it (`Returned::close`).

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;

use super::message::{Message, WebSocketError, close_frame};
use crate::shutdown::Shutdown;

/// The connection under a socket: hyper's upgraded connection, or the test client's
/// in-memory pipe.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub(crate) type Stream = WebSocketStream<Box<dyn Io>>;

/// How long closing may take: sending our close frame and waiting for the peer's answer.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Which side has sent its close frame.
#[derive(Debug, Clone, Copy, Default)]
struct Closing {
    sent: bool,
    received: bool,
}

/// A WebSocket in an `async fn` handler marked `#[websocket("/path")]`.
///
/// [`recv`](WebSocket::recv) waits for the next message without holding a thread;
/// [`send`](WebSocket::send) and its shortcuts send one. Pings are answered with pongs by
/// erlen, and also shown to the handler. `recv` gives `None` once the socket is closed:
/// by the client, by [`close`](WebSocket::close), or because the server shuts down (erlen
/// then sends the close code 1001 first).
///
/// ```
/// use erlen::prelude::*;
/// use erlen::Message;
///
/// #[websocket("/rooms/<room>")]
/// async fn room(mut ws: WebSocket, room: String) -> Result<(), erlen::WebSocketError> {
///     ws.send_text(format!("welcome to {room}")).await?;
///     while let Some(msg) = ws.recv().await {
///         match msg {
///             Message::Text(text) if text == "bye" => return ws.close(4000, "bye").await,
///             Message::Text(text) => ws.send_text(text).await?,
///             Message::Binary(data) => ws.send_binary(data).await?,
///             _ => {} // pings are answered already; a close ends the loop
///         }
///     }
///     Ok(())
/// }
///
/// let client = App::new().register(handlers![room]).test_client();
/// let mut ws = client.websocket("/rooms/rust").connect().unwrap();
/// assert_eq!(ws.receive(), Some(Message::text("welcome to rust")));
/// ws.send_text("bye").unwrap();
/// let Some(Message::Close(Some(frame))) = ws.receive() else { panic!("expected a close frame") };
/// assert_eq!(frame.code, 4000);
/// ```
pub struct WebSocket {
    /// `None` once given back.
    stream: Option<Stream>,
    /// Turns `true` when the server shuts down; absent in the test client.
    shutdown: Option<Shutdown>,
    closing: Closing,
    back: Option<oneshot::Sender<Returned>>,
}

/// A socket given back by its handler, to be closed.
pub(crate) struct Returned {
    stream: Stream,
    closing: Closing,
}

/// What a receive saw.
enum Next {
    Read(Option<Result<tungstenite::Message, tungstenite::Error>>),
    ShuttingDown,
}

impl WebSocket {
    pub(crate) fn new(
        stream: Stream,
        shutdown: Option<Shutdown>,
        back: oneshot::Sender<Returned>,
    ) -> WebSocket {
        WebSocket { stream: Some(stream), shutdown, closing: Closing::default(), back: Some(back) }
    }

    /// The next message, waiting for it; `None` once the socket is closed. The client's
    /// close frame is given once, as [`Message::Close`] (erlen has answered it), and `None`
    /// after it. When the server shuts down, the socket is closed with 1001 and this gives
    /// `None`.
    ///
    /// It may be raced in `tokio::select!` with other work: when another branch wins, no
    /// text or binary message is lost.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            if self.closing.sent || self.closing.received {
                return None;
            }
            let stream = self.stream.as_mut()?;
            let next = match self.shutdown.as_mut() {
                Some(shutdown) => tokio::select! {
                    next = stream.next() => Next::Read(next),
                    () = shutdown.wait() => Next::ShuttingDown,
                },
                None => Next::Read(stream.next().await),
            };
            let msg = match next {
                Next::ShuttingDown => {
                    self.going_away().await;
                    return None;
                }
                Next::Read(Some(Ok(msg))) => msg,
                Next::Read(Some(Err(e))) => {
                    tracing::debug!(error = %e, "a WebSocket connection ended with an error");
                    self.closing = Closing { sent: true, received: true };
                    return None;
                }
                Next::Read(None) => {
                    self.closing = Closing { sent: true, received: true };
                    return None;
                }
            };
            if matches!(msg, tungstenite::Message::Close(_)) {
                self.closing = Closing { sent: true, received: true };
            }
            if matches!(msg, tungstenite::Message::Ping(_) | tungstenite::Message::Close(_)) {
                // The pong or the close answer is queued: send it now, not at the next call.
                let _ = tokio::time::timeout(CLOSE_WAIT, stream.flush()).await;
            }
            if let Some(msg) = Message::from_tungstenite(msg) {
                return Some(msg);
            }
        }
    }

    /// Sends a message (text, binary, a ping or pong; a [`Message::Close`] closes).
    ///
    /// # Errors
    ///
    /// When the socket is closed (by either side, or because the server shuts down) or
    /// the connection broke; [`WebSocketError::is_closed`] tells.
    pub async fn send(&mut self, msg: impl Into<Message>) -> Result<(), WebSocketError> {
        if self.shutdown.as_ref().is_some_and(Shutdown::started) {
            self.going_away().await;
        }
        if self.closing.sent {
            return Err(WebSocketError::closed("no more messages can be sent"));
        }
        let msg = msg.into().into_tungstenite()?;
        if let tungstenite::Message::Close(frame) = msg {
            return self.send_close(frame).await;
        }
        let stream = self.stream.as_mut().ok_or_else(|| WebSocketError::closed("it was given back"))?;
        let sent = stream.send(msg).await.map_err(WebSocketError::from_tungstenite);
        if sent.as_ref().is_err_and(WebSocketError::is_closed) {
            self.closing = Closing { sent: true, received: true };
        }
        sent
    }

    /// Sends a text message.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`].
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.send(Message::Text(text.into())).await
    }

    /// Sends a binary message.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`].
    pub async fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send(Message::Binary(data.into())).await
    }

    /// Closes the socket with `code` and `reason`: 1000 for a normal close, 1008 for a
    /// policy violation, 4000..=4999 for the application's own codes. Nothing more can be
    /// sent, and [`recv`](WebSocket::recv) gives `None`. Closing twice does nothing.
    ///
    /// # Errors
    ///
    /// A code that may not be sent (such as 1005 or 1006, which only describe a close), a
    /// reason over 123 bytes, or a broken connection.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), WebSocketError> {
        let frame = close_frame(code, reason)?;
        self.send_close(Some(frame)).await
    }

    /// Whether the socket is closed, by either side.
    pub fn is_closed(&self) -> bool {
        self.closing.sent || self.closing.received
    }

    async fn send_close(
        &mut self,
        frame: Option<tungstenite::protocol::CloseFrame>,
    ) -> Result<(), WebSocketError> {
        if self.closing.sent {
            return Ok(());
        }
        self.closing.sent = true;
        let Some(stream) = self.stream.as_mut() else { return Ok(()) };
        match tokio::time::timeout(CLOSE_WAIT, stream.close(frame)).await {
            Ok(sent) => sent.map_err(WebSocketError::from_tungstenite),
            Err(_) => Err(WebSocketError::closed("the peer did not take the close frame in time")),
        }
    }

    /// The server shuts down: close with 1001.
    async fn going_away(&mut self) {
        if let Ok(frame) = close_frame(1001, "the server is shutting down") {
            let _ = self.send_close(Some(frame)).await;
        }
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        if let (Some(stream), Some(back)) = (self.stream.take(), self.back.take()) {
            let _ = back.send(Returned { stream, closing: self.closing });
        }
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").field("closed", &self.is_closed()).finish()
    }
}

impl Returned {
    /// Closes a socket its handler is done with: sends the close frame with `code`
    /// unless one was sent, and waits (briefly) for the peer's answer, as the protocol
    /// asks, before the connection is dropped.
    pub(crate) async fn close(mut self, code: u16) {
        let reason = if code == 1011 { "the server's handler failed" } else { "" };
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            if !self.closing.sent {
                if let Ok(frame) = close_frame(code, reason) {
                    let _ = self.stream.close(Some(frame)).await;
                }
            }
            if !self.closing.received {
                while let Some(Ok(msg)) = self.stream.next().await {
                    if msg.is_close() {
                        break;
                    }
                }
            }
        })
        .await;
    }
}

/// A WebSocket in a plain `fn` handler marked `#[websocket("/path")]`, as flask-sock's
/// `ws`: [`receive`](BlockingWebSocket::receive) blocks until the next message.
///
/// The handler runs on a blocking thread of its own for the socket's whole life (tokio's
/// blocking pool, on both backends; it never holds a worker of the threaded backend nor a
/// thread of the async runtime). Use an `async fn` with [`WebSocket`] for many long-lived
/// sockets: those hold no thread while they wait.
///
/// ```
/// use erlen::prelude::*;
/// use erlen::Message;
///
/// #[websocket("/shout")]
/// fn shout(mut ws: BlockingWebSocket) {
///     while let Some(msg) = ws.receive() {
///         if let Message::Text(text) = msg {
///             if ws.send_text(text.to_uppercase()).is_err() {
///                 break;
///             }
///         }
///     }
/// }
///
/// let client = App::new().register(handlers![shout]).test_client();
/// let mut ws = client.websocket("/shout").connect().unwrap();
/// ws.send_text("hi").unwrap();
/// assert_eq!(ws.receive(), Some(Message::text("HI")));
/// ```
#[derive(Debug)]
pub struct BlockingWebSocket {
    inner: WebSocket,
}

impl BlockingWebSocket {
    pub(crate) fn new(inner: WebSocket) -> BlockingWebSocket {
        BlockingWebSocket { inner }
    }

    /// The next message, blocking until it comes; `None` once the socket is closed (see
    /// [`WebSocket::recv`]), also when the server shuts down.
    pub fn receive(&mut self) -> Option<Message> {
        crate::bridge::park_on(self.inner.recv())
    }

    /// Sends a message.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`].
    pub fn send(&mut self, msg: impl Into<Message>) -> Result<(), WebSocketError> {
        crate::bridge::park_on(self.inner.send(msg))
    }

    /// Sends a text message.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`].
    pub fn send_text(&mut self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`].
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send(Message::Binary(data.into()))
    }

    /// Closes the socket with `code` and `reason` (see [`WebSocket::close`]).
    ///
    /// # Errors
    ///
    /// As [`WebSocket::close`].
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), WebSocketError> {
        crate::bridge::park_on(self.inner.close(code, reason))
    }

    /// Whether the socket is closed, by either side.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}
