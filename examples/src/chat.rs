//! WebSockets the flask-sock way: an echo on a blocking socket, and a chat room whose
//! members are async handlers on the app's channels, behind a hook that refuses the
//! upgrade to strangers. With Redis (`App::redis`, or `ERLEN_REDIS_URL` and the `redis`
//! feature) the room spans every instance of the app, as Flask-SocketIO's message queue.

use erlen::prelude::*;
use erlen::{Lagged, Message};
use futures::StreamExt;

/// The channel the room speaks on.
const ROOM: &str = "chat:room";

/// What a member's handler can fail with: the socket, or the channels (Redis down).
type ChatError = Box<dyn std::error::Error + Send + Sync>;

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
async fn chat(mut ws: WebSocket, name: String, channels: Channels) -> Result<(), ChatError> {
    let mut heard = channels.subscribe(ROOM).await?;
    ws.send_text(format!("welcome, {name}")).await?;
    loop {
        tokio::select! {
            said = ws.recv() => match said {
                Some(Message::Text(text)) => channels.publish(ROOM, format!("{name}: {text}")).await?,
                Some(_) => {}
                None => return Ok(()), // the member left, or the server shuts down
            },
            line = heard.next() => match line {
                Some(Ok(line)) => ws.send_text(String::from_utf8_lossy(&line)).await?,
                Some(Err(Lagged(missed))) => ws.send_text(format!("({missed} messages missed)")).await?,
                None => return Ok(()),
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
    App::new().register(handlers![echo, chat, require_token])
}
