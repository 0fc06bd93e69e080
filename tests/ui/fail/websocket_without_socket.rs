use erlen::prelude::*;

#[websocket("/ws/<room>")]
fn chat(room: String) {
    let _ = room;
}

#[websocket("/post", methods = ["POST"])]
async fn post(ws: WebSocket) {
    drop(ws);
}

#[get("/other")]
fn other(ws: WebSocket) -> &'static str {
    drop(ws);
    ""
}

fn main() {}
