//! The server side of the live-connection benchmark: erlen or axum, each with one runtime
//! thread, serving the same two endpoints.
//!
//! ```sh
//! ERLEN_THREADS=1 server erlen 127.0.0.1:18090
//! server axum 127.0.0.1:18091
//! ```
//!
//! * `/ws`: a WebSocket that echoes every text and binary message back;
//! * `/sse?n=N`: an event stream of `N` events, each `data: ` and 32 bytes, sent as fast
//!   as the client reads them, after which the response ends.
//!
//! Both are written as each framework's guide writes them, with the defaults a user gets
//! (SSE keep-alive comments on; TCP_NODELAY on, as erlen sets it).

use std::convert::Infallible;

use futures::StreamExt;
use serde::Deserialize;

/// Each event's data.
const PAYLOAD: &str = "0123456789abcdef0123456789abcdef";

#[derive(Deserialize)]
struct Count {
    n: u64,
}

mod on_erlen {
    use erlen::prelude::*;
    use erlen::{Query, Server};
    use futures::StreamExt;

    use super::{Count, PAYLOAD};

    #[websocket("/ws")]
    async fn echo(mut ws: WebSocket) {
        while let Some(msg) = ws.recv().await {
            let sent = match msg {
                Message::Text(text) => ws.send_text(text).await,
                Message::Binary(data) => ws.send_binary(data).await,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
    }

    #[get("/sse")]
    async fn sse(Query(count): Query<Count>) -> Sse {
        Sse::new(futures::stream::iter(0..count.n).map(|_| Event::default().data(PAYLOAD)))
    }

    /// Runtime threads follow `ERLEN_THREADS` (the script sets 1).
    pub fn run(addr: &str) -> std::io::Result<()> {
        eprintln!("erlen listening on http://{addr}");
        Server::bind(addr).run(App::new().register(handlers![echo, sse]))
    }
}

mod on_axum {
    use axum::Router;
    use axum::extract::Query;
    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::serve::ListenerExt;

    use super::{Count, Infallible, PAYLOAD, StreamExt};

    async fn echo(upgrade: WebSocketUpgrade) -> Response {
        upgrade.on_upgrade(|mut ws: WebSocket| async move {
            while let Some(Ok(msg)) = ws.recv().await {
                let sent = match msg {
                    Message::Text(_) | Message::Binary(_) => ws.send(msg).await,
                    _ => Ok(()),
                };
                if sent.is_err() {
                    break;
                }
            }
        })
    }

    async fn sse(Query(count): Query<Count>) -> impl IntoResponse {
        let events =
            futures::stream::iter(0..count.n).map(|_| Ok::<_, Infallible>(Event::default().data(PAYLOAD)));
        Sse::new(events).keep_alive(KeepAlive::default())
    }

    /// One runtime thread, as erlen's with `ERLEN_THREADS=1`.
    pub fn run(addr: &str) -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind(addr).await?.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            eprintln!("axum listening on http://{addr}");
            let app = Router::new().route("/ws", get(echo)).route("/sse", get(sse));
            axum::serve(listener, app).await
        })
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.get(1).map_or("127.0.0.1:8080", String::as_str);
    match args.first().map(String::as_str) {
        Some("erlen") => on_erlen::run(addr),
        Some("axum") => on_axum::run(addr),
        other => {
            eprintln!("usage: server erlen|axum ADDR (got {other:?})");
            std::process::exit(2);
        }
    }
}
