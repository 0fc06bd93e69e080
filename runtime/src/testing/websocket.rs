//! The test client's WebSocket: the upgrade request goes through the app's lifecycle like
//! any other, and the socket runs over an in-memory pipe in place of a TCP connection.

use std::future::IntoFuture;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::header::{CONNECTION, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use tokio::io::DuplexStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::client::{TestClient, TestRequest};
use super::response::TestResponse;
use crate::body::BoxFuture;
use crate::websocket::TestUpgrade;
use crate::websocket::{Message, WebSocketError, close_frame};

/// The key the test client sends: any 16 bytes in base64 will do; these are RFC 6455's.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// How much the in-memory pipe holds in each direction.
const PIPE: usize = 64 * 1024;

impl TestClient {
    /// Opens a WebSocket to `path` in-process (the app's `#[websocket]` route), through the
    /// same lifecycle as a request: hooks may refuse it. See [`TestWebSocket`].
    ///
    /// ```
    /// use erlen::prelude::*;
    /// use erlen::Message;
    ///
    /// #[websocket("/ws")]
    /// async fn ws(mut ws: WebSocket) {
    ///     let _ = ws.send_text("hello").await;
    /// }
    ///
    /// #[before_request]
    /// fn auth(req: &Request) -> Option<Response> {
    ///     req.header("authorization").is_none().then(|| (StatusCode::UNAUTHORIZED, "log in").into_response())
    /// }
    ///
    /// let client = App::new().register(handlers![ws, auth]).test_client();
    /// let refused = client.websocket("/ws").connect().unwrap_err();
    /// assert_eq!(refused.status(), 401);
    /// let mut ws = client.websocket("/ws").header("authorization", "Bearer t").connect().unwrap();
    /// assert_eq!(ws.receive(), Some(Message::text("hello")));
    /// ```
    ///
    /// [`TestWebSocket`]: crate::TestWebSocket
    pub fn websocket(&self, path: &str) -> TestWebSocketRequest {
        TestWebSocketRequest::new(self.get(path))
    }
}

/// A WebSocket being opened by a [`TestClient`](crate::TestClient): add headers, then
/// [`connect`](TestWebSocketRequest::connect) (blocking) or `.await` it.
#[must_use = "the WebSocket opens with `.connect()` or `.await`"]
#[derive(Debug)]
pub struct TestWebSocketRequest {
    request: TestRequest,
}

impl TestWebSocketRequest {
    pub(crate) fn new(request: TestRequest) -> TestWebSocketRequest {
        TestWebSocketRequest { request }
    }

    /// Adds a header to the upgrade request (an `Authorization`, a cookie, or a handshake
    /// header of your own to test a refusal: the client's are added only when absent).
    ///
    /// # Panics
    ///
    /// If the name or value is not a valid header (a mistake in the test).
    pub fn header(mut self, name: &str, value: &str) -> TestWebSocketRequest {
        self.request = self.request.header(name, value);
        self
    }

    /// Opens the socket, blocking the thread. For `#[test]`; inside a runtime, prefer
    /// `.await`.
    ///
    /// # Errors
    ///
    /// The response, when the app did not answer `101 Switching Protocols`: a hook
    /// refused the upgrade (a 401), no route matched (a 404), the handshake was wrong.
    #[allow(clippy::result_large_err)] // a test helper: the refused response is the point
    pub fn connect(self) -> Result<TestWebSocket, TestResponse> {
        crate::bridge::block_on(self.into_future())
    }
}

impl IntoFuture for TestWebSocketRequest {
    type Output = Result<TestWebSocket, TestResponse>;
    type IntoFuture = BoxFuture<'static, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (client, server) = tokio::io::duplex(PIPE);
            let request = self
                .request
                .default_header(UPGRADE, "websocket")
                .default_header(CONNECTION, "upgrade")
                .default_header(SEC_WEBSOCKET_VERSION, "13")
                .default_header(SEC_WEBSOCKET_KEY, KEY)
                .upgrade(TestUpgrade::new(server));
            let resp = request.send_once().await;
            if resp.status() != 101 {
                return Err(resp);
            }
            let expected = derive_accept_key(KEY.as_bytes());
            let accept = resp.header("sec-websocket-accept");
            assert!(
                accept == Some(expected.as_str()),
                "the 101 response's Sec-WebSocket-Accept is {accept:?}, expected {expected:?}: \
                 did an after_request hook change it?"
            );
            let stream = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
            Ok(TestWebSocket { stream, closed: false })
        })
    }
}

/// The client's end of a WebSocket opened by the [`TestClient`](crate::TestClient):
/// blocking methods for `#[test]`, and `_async` twins for `#[tokio::test]`.
///
/// ```
/// use erlen::prelude::*;
/// use erlen::Message;
///
/// #[websocket("/echo")]
/// async fn echo(mut ws: WebSocket) {
///     while let Some(msg) = ws.recv().await {
///         if !msg.is_close() && ws.send(msg).await.is_err() {
///             break;
///         }
///     }
/// }
///
/// let client = App::new().register(handlers![echo]).test_client();
/// let mut ws = client.websocket("/echo").connect().unwrap();
/// ws.send_binary(vec![1, 2, 3]).unwrap();
/// assert_eq!(ws.receive(), Some(Message::binary(vec![1, 2, 3])));
/// ws.close(1000, "done").unwrap();
/// assert_eq!(ws.receive(), None);
/// ```
pub struct TestWebSocket {
    stream: WebSocketStream<DuplexStream>,
    closed: bool,
}

impl TestWebSocket {
    /// Sends a message, blocking.
    ///
    /// # Errors
    ///
    /// When the socket is closed or the message cannot be sent.
    pub fn send(&mut self, msg: impl Into<Message>) -> Result<(), WebSocketError> {
        crate::bridge::block_on(self.send_async(msg))
    }

    /// Sends a text message, blocking.
    ///
    /// # Errors
    ///
    /// As [`TestWebSocket::send`].
    pub fn send_text(&mut self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message, blocking.
    ///
    /// # Errors
    ///
    /// As [`TestWebSocket::send`].
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send(Message::Binary(data.into()))
    }

    /// The next message from the app, blocking until it comes; `None` once the socket is
    /// closed. The app's close frame is given once, as [`Message::Close`] (with its code),
    /// and answered.
    pub fn receive(&mut self) -> Option<Message> {
        crate::bridge::block_on(self.receive_async())
    }

    /// Closes the socket with `code` and `reason`, and waits for the app's answer.
    ///
    /// # Errors
    ///
    /// A code that may not be sent, or a socket already broken.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), WebSocketError> {
        crate::bridge::block_on(self.close_async(code, reason))
    }

    /// [`send`](TestWebSocket::send), awaited.
    ///
    /// # Errors
    ///
    /// As [`TestWebSocket::send`].
    pub async fn send_async(&mut self, msg: impl Into<Message>) -> Result<(), WebSocketError> {
        if self.closed {
            return Err(WebSocketError::closed("no more messages can be sent"));
        }
        let msg = msg.into().into_tungstenite()?;
        self.stream.send(msg).await.map_err(WebSocketError::from_tungstenite)
    }

    /// [`send_text`](TestWebSocket::send_text), awaited.
    ///
    /// # Errors
    ///
    /// As [`TestWebSocket::send`].
    pub async fn send_text_async(&mut self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.send_async(Message::Text(text.into())).await
    }

    /// [`send_binary`](TestWebSocket::send_binary), awaited.
    ///
    /// # Errors
    ///
    /// As [`TestWebSocket::send`].
    pub async fn send_binary_async(&mut self, data: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send_async(Message::Binary(data.into())).await
    }

    /// [`receive`](TestWebSocket::receive), awaited.
    pub async fn receive_async(&mut self) -> Option<Message> {
        loop {
            if self.closed {
                return None;
            }
            let msg = match self.stream.next().await {
                Some(Ok(msg)) => msg,
                Some(Err(_)) | None => {
                    self.closed = true;
                    return None;
                }
            };
            if msg.is_close() {
                self.closed = true;
                let _ = self.stream.flush().await;
            }
            if let Some(msg) = Message::from_tungstenite(msg) {
                return Some(msg);
            }
        }
    }

    /// [`close`](TestWebSocket::close), awaited.
    ///
    /// # Errors
    ///
    /// As [`TestWebSocket::close`].
    pub async fn close_async(&mut self, code: u16, reason: &str) -> Result<(), WebSocketError> {
        let frame = close_frame(code, reason)?;
        if self.closed {
            return Ok(());
        }
        self.stream.close(Some(frame)).await.map_err(WebSocketError::from_tungstenite)?;
        // The app answers with its own close frame; wait for it.
        while let Some(Ok(msg)) = self.stream.next().await {
            if msg.is_close() {
                break;
            }
        }
        self.closed = true;
        Ok(())
    }
}

impl std::fmt::Debug for TestWebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestWebSocket").field("closed", &self.closed).finish()
    }
}
