use erlen::prelude::*;

#[websocket("/ws")]
fn echo(mut ws: WebSocket) {
    let _ = &mut ws;
}

fn main() {}
