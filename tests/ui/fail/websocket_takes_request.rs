use erlen::prelude::*;

#[websocket("/ws")]
async fn echo(ws: WebSocket, req: &Request) {
    let _ = (ws, req);
}

fn main() {}
