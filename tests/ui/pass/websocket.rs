//! Every accepted form of `#[websocket]`: async and sync, with route parameters and
//! extractors, returning `()` or `Result`, reached with `url_for!`.

use erlen::prelude::*;
use erlen::WebSocketError;

#[derive(Clone)]
struct Config;

#[websocket("/ws")]
async fn echo(mut ws: WebSocket) {
    while let Some(msg) = ws.recv().await {
        let _ = ws.send(msg).await;
    }
}

#[websocket("/rooms/<int:id>/<name>", allow_blocking)]
async fn room(id: i64, mut ws: WebSocket, State(config): State<Config>, name: String) -> Result<(), WebSocketError> {
    let _ = (config, id, name);
    ws.send_text("hi").await?;
    ws.close(1000, "").await
}

#[erlen::websocket("/sync/<path:rest>")]
fn blocking(mut ws: BlockingWebSocket, rest: String) -> Result<(), std::io::Error> {
    let _ = (ws.receive(), rest);
    Ok(())
}

#[get("/")]
fn index() -> String {
    format!("{} {} {}", url_for!(echo), url_for!(room, id = 1, name = "a"), url_for!(blocking, rest = "x/y"))
}

fn main() {
    let _ = App::new().state(Config).register(handlers![echo, room, blocking, index]).test_client();
}
