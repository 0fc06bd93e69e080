//! WebSockets the flask-sock way: an echo on a blocking socket, and a chat room whose
//! members are async handlers sharing a broadcast channel, behind a hook that refuses the
//! upgrade to strangers.

use erlen::prelude::*;
use erlen::{Message, WebSocketError};
use tokio::sync::broadcast;

/// The chat room: every member's handler listens to it and speaks into it.
#[derive(Clone)]
pub struct Room(broadcast::Sender<String>);

impl Default for Room {
    fn default() -> Room {
        Room(broadcast::channel(64).0)
    }
}

/// flask-sock's echo: a plain `fn` with a blocking socket, on a thread of its own.
#[websocket("/echo")]
fn echo(mut ws: BlockingWebSocket) {
    while let Some(msg) = ws.receive() {
        let Message::Text(text) = msg else { continue };
        if ws.send_text(text).is_err() {
            break;
        }
    }
}

/// A member of the room: what they say goes to everyone, what anyone says comes to them.
/// An `async fn`, so a thousand idle members hold no thread.
#[websocket("/chat/<name>")]
async fn chat(mut ws: WebSocket, name: String, State(room): State<Room>) -> Result<(), WebSocketError> {
    let mut heard = room.0.subscribe();
    ws.send_text(format!("welcome, {name}")).await?;
    loop {
        tokio::select! {
            said = ws.recv() => match said {
                Some(Message::Text(text)) => {
                    let _ = room.0.send(format!("{name}: {text}"));
                }
                Some(_) => {}
                None => return Ok(()), // the member left, or the server shuts down
            },
            line = heard.recv() => match line {
                Ok(line) => ws.send_text(line).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// The upgrade request goes through the hooks like any request: no token, no chat.
#[before_request]
fn require_token(req: &Request) -> Option<Response> {
    let chat = req.path().starts_with("/chat/");
    let signed_in = req.query("token") == Some("letmein");
    (chat && !signed_in).then(|| (StatusCode::UNAUTHORIZED, "sign in to chat").into_response())
}

/// The app: the echo, the room and its door.
pub fn app() -> App {
    App::new().state(Room::default()).register(handlers![echo, chat, require_token])
}
