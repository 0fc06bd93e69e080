use erlen::prelude::*;

#[websocket("/ws")]
async fn echo(ws: WebSocket) -> String {
    drop(ws);
    "a WebSocket handler sends its messages".to_string()
}

fn main() {}
