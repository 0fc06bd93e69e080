use erlen::prelude::*;

#[websocket("/ws")]
async fn echo(mut ws: BlockingWebSocket) {
    let _ = ws.receive();
}

fn main() {}
