//! The benchmark server: erlen on either backend, or raw hyper as the baseline, serving
//! the same endpoints. `scripts/bench.sh` runs them under `wrk` and prints the table.
//!
//! ```sh
//! cargo run --release --example bench -- erlen async 127.0.0.1:8080
//! cargo run --release --example bench -- erlen threaded 127.0.0.1:8080 16
//! cargo run --release --example bench -- hyper - 127.0.0.1:8080
//! ```
//!
//! erlen serves `/plaintext`, `/json` and `/sleep` (50 ms) from async handlers and the
//! same under `/sync/...` from sync handlers. Runtime threads follow `ERLEN_THREADS`
//! (erlen) and `BENCH_THREADS` (hyper); the script sets both to 1 when it pins the server
//! to one core.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use erlen::prelude::*;
use erlen::{Backend, Server};
use http_body_util::Full;
use serde::Serialize;

const HELLO: &str = "Hello, World!";

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[get("/plaintext")]
async fn plaintext() -> &'static str {
    HELLO
}

#[get("/json")]
async fn json() -> Json<Message> {
    Json(Message { message: HELLO })
}

#[get("/sleep")]
async fn sleep() -> &'static str {
    tokio::time::sleep(Duration::from_millis(50)).await;
    "slept"
}

#[get("/sync/plaintext")]
fn sync_plaintext() -> &'static str {
    HELLO
}

#[get("/sync/json")]
fn sync_json() -> Json<Message> {
    Json(Message { message: HELLO })
}

#[get("/sync/sleep")]
fn sync_sleep() -> &'static str {
    std::thread::sleep(Duration::from_millis(50));
    "slept"
}

fn app() -> App {
    App::new().register(handlers![plaintext, json, sleep, sync_plaintext, sync_json, sync_sleep])
}

async fn hyper_service(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (content_type, body) = match req.uri().path() {
        "/plaintext" => ("text/plain; charset=utf-8", Bytes::from_static(HELLO.as_bytes())),
        "/json" => match serde_json::to_vec(&Message { message: HELLO }) {
            Ok(body) => ("application/json", Bytes::from(body)),
            Err(_) => ("text/plain", Bytes::new()),
        },
        "/sleep" => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            ("text/plain; charset=utf-8", Bytes::from_static(b"slept"))
        }
        _ => {
            let mut resp = hyper::Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = hyper::StatusCode::NOT_FOUND;
            return Ok(resp);
        }
    };
    let mut resp = hyper::Response::new(Full::new(body));
    resp.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    Ok(resp)
}

fn run_hyper(addr: &str) -> std::io::Result<()> {
    let threads = std::env::var("BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!("raw hyper listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let service = hyper::service::service_fn(hyper_service);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    })
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let addr = arg(2, "127.0.0.1:8080");
    match arg(0, "erlen").as_str() {
        "hyper" => run_hyper(&addr),
        "erlen" => {
            let backend = match arg(1, "async").as_str() {
                "threaded" => Backend::Threaded { workers: arg(3, "16").parse().unwrap_or(16) },
                _ => Backend::Async,
            };
            eprintln!("erlen ({backend:?}) listening on http://{addr}");
            // Idle keep-alive connections stay open for the idle-connection measurement
            // (raw hyper keeps them forever); nothing else depends on this timeout.
            Server::bind(addr.as_str())
                .backend(backend)
                .header_read_timeout(Duration::from_secs(120))
                .run(app())
        }
        other => {
            eprintln!("unknown server {other:?}: expected `erlen` or `hyper`");
            std::process::exit(2);
        }
    }
}
