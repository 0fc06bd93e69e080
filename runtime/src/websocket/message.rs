//! The messages a WebSocket carries, and its errors.

use std::fmt;

use bytes::Bytes;
use tokio_tungstenite::tungstenite;

/// One WebSocket message: text, binary, a ping or pong (answered and shown as they come),
/// or the close frame the peer sent.
///
/// ```
/// use erlen::prelude::*;
/// use erlen::Message;
///
/// assert_eq!(Message::text("hi").as_text(), Some("hi"));
/// assert_eq!(Message::from(vec![1u8, 2]), Message::Binary(vec![1u8, 2].into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping; erlen answers it with a pong by itself.
    Ping(Bytes),
    /// A pong, the answer to a ping.
    Pong(Bytes),
    /// The peer closes the socket, with a code and a reason if it gave them; erlen answers
    /// it, and the next receive gives `None`.
    Close(Option<CloseFrame>),
}

/// The code and reason of a close frame. Codes: 1000 normal, 1001 going away (the
/// server shuts down), 1008 policy violation, 1011 an error in the handler, 4000..=4999
/// for the application's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code.
    pub code: u16,
    /// Why, in a few words (at most 123 bytes).
    pub reason: String,
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(bytes: impl Into<Bytes>) -> Message {
        Message::Binary(bytes.into())
    }

    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The payload of any message but a close: the text's bytes, the binary data, the
    /// ping's or pong's payload.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(_) => &[],
        }
    }

    /// Whether this is the peer's close frame.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
    }

    pub(crate) fn from_tungstenite(msg: tungstenite::Message) -> Option<Message> {
        Some(match msg {
            tungstenite::Message::Text(text) => Message::Text(text.as_str().to_owned()),
            tungstenite::Message::Binary(bytes) => Message::Binary(bytes),
            tungstenite::Message::Ping(bytes) => Message::Ping(bytes),
            tungstenite::Message::Pong(bytes) => Message::Pong(bytes),
            tungstenite::Message::Close(frame) => Message::Close(
                frame.map(|f| CloseFrame { code: u16::from(f.code), reason: f.reason.as_str().to_owned() }),
            ),
            // Raw frames are never read, only written.
            tungstenite::Message::Frame(_) => return None,
        })
    }

    pub(crate) fn into_tungstenite(self) -> Result<tungstenite::Message, WebSocketError> {
        Ok(match self {
            Message::Text(text) => tungstenite::Message::Text(text.into()),
            Message::Binary(bytes) => tungstenite::Message::Binary(bytes),
            Message::Ping(bytes) => tungstenite::Message::Ping(bytes),
            Message::Pong(bytes) => tungstenite::Message::Pong(bytes),
            Message::Close(frame) => tungstenite::Message::Close(match frame {
                Some(frame) => Some(close_frame(frame.code, &frame.reason)?),
                None => None,
            }),
        })
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Message {
        Message::Binary(bytes.into())
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Message {
        Message::Binary(bytes)
    }
}

/// A close frame with a code that may be sent, and a reason that fits the frame.
pub(crate) fn close_frame(
    code: u16,
    reason: &str,
) -> Result<tungstenite::protocol::CloseFrame, WebSocketError> {
    let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
    if !sendable {
        return Err(WebSocketError::new(format!(
            "close code {code} cannot be sent: use 1000 (normal), 1001 (going away), 1008 (policy violation), \
             1011 (server error) or an application code in 4000..=4999"
        )));
    }
    if reason.len() > 123 {
        return Err(WebSocketError::new(format!(
            "a close reason is at most 123 bytes (a close frame holds 125 with the code); this one has {}",
            reason.len()
        )));
    }
    Ok(tungstenite::protocol::CloseFrame { code: code.into(), reason: reason.to_owned().into() })
}

/// Why a WebSocket operation failed: the socket is closed (by the peer, by the handler,
/// or because the server shuts down), the connection broke, or the message or close code
/// cannot be sent.
#[derive(Debug)]
pub struct WebSocketError {
    message: String,
    closed: bool,
}

impl WebSocketError {
    pub(crate) fn new(message: impl Into<String>) -> WebSocketError {
        WebSocketError { message: message.into(), closed: false }
    }

    pub(crate) fn closed(why: &str) -> WebSocketError {
        WebSocketError { message: format!("the WebSocket is closed: {why}"), closed: true }
    }

    pub(crate) fn from_tungstenite(error: tungstenite::Error) -> WebSocketError {
        match error {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                WebSocketError::closed("the close handshake is done")
            }
            tungstenite::Error::Io(e) => {
                WebSocketError { message: format!("the WebSocket connection broke: {e}"), closed: true }
            }
            other => WebSocketError::new(format!("WebSocket error: {other}")),
        }
    }

    /// Whether the socket is closed (so that nothing more can be sent on it).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WebSocketError {}
