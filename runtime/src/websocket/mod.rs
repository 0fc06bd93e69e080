//! WebSockets, as flask-sock and Quart offer them: `#[websocket("/ws")]` on an `async fn`
//! taking a [`WebSocket`], or on a plain `fn` taking a [`BlockingWebSocket`].
//!
//! The guide to WebSockets is in the crate's documentation.

mod message;
mod socket;
mod upgrade;

pub(crate) use message::close_frame;
pub use message::{CloseFrame, Message, WebSocketError};
pub use socket::{BlockingWebSocket, WebSocket};
pub(crate) use upgrade::TestUpgrade;
#[doc(hidden)]
pub use upgrade::{websocket_async, websocket_blocking};
