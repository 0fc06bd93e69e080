//! WebSockets, as flask-sock and Quart offer them: `#[websocket("/ws")]` on an `async fn`
//! taking a [`WebSocket`], or on a plain `fn` taking a [`BlockingWebSocket`].
//!
//! The upgrade request is a GET request like any other: route parameters, extractors and
//! `before_request` hooks apply to it, and a hook that answers (a 401, say) refuses the
//! upgrade. Once the handshake is checked, erlen answers `101 Switching Protocols` and
//! hands the connection to the handler:
//!
//! * an `async fn` runs as a task on the shared runtime and holds no thread while it
//!   waits, so thousands of idle sockets cost a few kilobytes each;
//! * a plain `fn` runs on a blocking thread of its own (tokio's blocking pool) and holds
//!   that thread for the socket's whole life, on both backends. On the threaded backend
//!   it does not hold a worker: the worker answers the 101 and goes back to serving
//!   requests. Prefer `async fn` for many long-lived sockets.
//!
//! When the server shuts down gracefully, every open socket is closed with code 1001
//! ("going away"): a handler waiting in [`WebSocket::recv`] or
//! [`BlockingWebSocket::receive`] gets `None`, and a send fails. When the handler returns,
//! the socket is closed with 1000; when it returns an `Err` or panics, the error is
//! logged and the socket is closed with 1011.
//!
//! ```
//! use erlen::prelude::*;
//!
//! #[websocket("/echo")]
//! async fn echo(mut ws: WebSocket) {
//!     while let Some(msg) = ws.recv().await {
//!         if let Message::Text(text) = msg {
//!             if ws.send_text(format!("echo: {text}")).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }
//! }
//!
//! let client = App::new().register(handlers![echo]).test_client();
//! let mut ws = client.websocket("/echo").connect().unwrap();
//! ws.send_text("hi").unwrap();
//! assert_eq!(ws.receive(), Some(Message::text("echo: hi")));
//! ```
//!
//! Not supported: WebSockets over HTTP/2 (RFC 8441), subprotocol negotiation
//! (`Sec-WebSocket-Protocol`) and compression (`permessage-deflate`).

mod message;
mod socket;
mod upgrade;

pub(crate) use message::close_frame;
pub use message::{CloseFrame, Message, WebSocketError};
pub use socket::{BlockingWebSocket, WebSocket};
pub(crate) use upgrade::TestUpgrade;
#[doc(hidden)]
pub use upgrade::{WebSocketOutcome, websocket_async, websocket_blocking};
