//! One admission path: a route's `timeout`, its `body_limit` (declared and streamed) and
//! the Host check give the same answer in-process, through the test client, as over a
//! socket on each backend.

use std::io::Write;
use std::time::{Duration, Instant};

use erlen::http::Method;
use erlen::prelude::*;
use erlen_tests::{Http, Transport, raw};
use futures::StreamExt;

#[get("/slow", timeout = "200 ms")]
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late"
}

#[get("/slow-sync", timeout = "200 ms")]
fn slow_sync() -> &'static str {
    std::thread::sleep(Duration::from_secs(2));
    "too late"
}

#[post("/small", body_limit = "1 KiB")]
fn small(body: Bytes) -> String {
    body.len().to_string()
}

#[post("/stream", body_limit = "1 KiB")]
async fn stream(mut body: BodyStream) -> Result<String, HttpError> {
    let mut n = 0;
    while let Some(piece) = body.next().await {
        n += piece?.len();
    }
    Ok(n.to_string())
}

#[get("/")]
fn index() -> &'static str {
    "ok"
}

fn app() -> App {
    App::new().register(handlers![slow, slow_sync, small, stream, index])
}

/// The answers every transport must agree on: (what was sent, status).
fn answers(t: &dyn Transport) -> Vec<(&'static str, u16)> {
    let started = Instant::now();
    let timed_out = t.get("/slow").status;
    let timed_out_sync = t.get("/slow-sync").status;
    assert!(started.elapsed() < Duration::from_secs(2), "the route timeouts took {:?}", started.elapsed());
    vec![
        ("a view past its route's timeout", timed_out),
        ("a sync view past its route's timeout", timed_out_sync),
        ("a body within the route's limit", t.send(Method::POST, "/small", &[], vec![7; 1000]).status),
        ("a declared body over the route's limit", t.send(Method::POST, "/small", &[], vec![7; 2048]).status),
        (
            "a streamed view's declared body over its limit",
            t.send(Method::POST, "/stream", &[], vec![7; 4096]).status,
        ),
        (
            "a streamed view's body within its limit",
            t.send(Method::POST, "/stream", &[], vec![7; 1000]).status,
        ),
        (
            "two Host headers",
            t.send(Method::GET, "/", &[("host", "a.test"), ("host", "b.test")], Vec::new()).status,
        ),
    ]
}

fn expected() -> Vec<(&'static str, u16)> {
    vec![
        ("a view past its route's timeout", 503),
        ("a sync view past its route's timeout", 503),
        ("a body within the route's limit", 200),
        ("a declared body over the route's limit", 413),
        ("a streamed view's declared body over its limit", 413),
        ("a streamed view's body within its limit", 200),
        ("two Host headers", 400),
    ]
}

#[test]
fn in_process_and_over_sockets_answer_alike() {
    let in_process = answers(&app().test_client());
    assert_eq!(in_process, expected(), "in-process");
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let served = answers(&Http::start(app(), backend));
        assert_eq!(served, in_process, "{backend:?} against the test client");
    }
}

/// A body sent without a length (chunked) is held to the limit while it streams: 413 when
/// it goes over, the same in-process and over a socket.
#[test]
fn an_undeclared_body_over_the_limit_is_refused_while_it_streams() {
    let body = vec![b'x'; 4096];
    let in_process =
        app().test_client().post("/stream").header("transfer-encoding", "chunked").body(body.clone());
    assert_eq!(in_process.send().status(), 413);
    let within =
        app().test_client().post("/stream").header("transfer-encoding", "chunked").body(vec![b'x'; 100]);
    assert_eq!(within.send().text(), "100");
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).expect("the server starts");
        let mut request =
            b"POST /stream HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                .to_vec();
        for piece in body.chunks(512) {
            write!(request, "{:x}\r\n", piece.len()).unwrap();
            request.extend_from_slice(piece);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        let resp = raw::exchange(server.addr(), &request).expect("the server answers");
        assert_eq!(resp.status(), 413, "{backend:?}: {}", resp.head);
    }
}

/// The test client sends `Host: localhost` as a browser would, unless the test sets one;
/// an HTTP/1.1 request without any is refused over a socket, as RFC 9112 asks.
#[test]
fn the_host_is_checked_the_same_way() {
    #[get("/host")]
    fn host(req: &Request) -> String {
        req.host().to_string()
    }
    let client = App::new().register(handlers![host]).test_client();
    assert_eq!(client.get("/host").send().text(), "localhost");
    assert_eq!(client.get("/host").header("host", "example.test").send().text(), "example.test");
    let server =
        Server::bind("127.0.0.1:0").spawn(App::new().register(handlers![host])).expect("the server starts");
    let resp = raw::exchange(server.addr(), b"GET /host HTTP/1.1\r\nconnection: close\r\n\r\n").unwrap();
    assert_eq!(resp.status(), 400);
}
