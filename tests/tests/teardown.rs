//! Teardown always: when the client leaves or a route's timeout cancels the view, the
//! request's `teardown_request` hooks still run, on the same request (what a
//! `before_request` hook put in it is there), with an error that says the request was
//! abandoned: for async views cancelled at their next `.await`, and for sync views once
//! the function returns. In-process and on both backends.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen_tests::{Http, Transport};

/// What each request's teardown saw, by `x-id`.
static SEEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

#[derive(Clone)]
struct Connection(&'static str);

#[before_request]
fn open(req: &mut Request) {
    req.extensions_mut().insert(Connection("db connection"));
}

#[teardown_request]
fn close(req: &mut Request, err: Option<&HttpError>) {
    let id = req.header("x-id").unwrap_or("untagged").to_string();
    let conn = req.extensions().get::<Connection>().map_or("no connection", |c| c.0);
    let err = err.map_or("no error".to_string(), |e| e.to_string());
    SEEN.lock().unwrap().push((id, format!("{conn} closed; {err}")));
}

#[get("/async", timeout = "200 ms")]
async fn slow_async() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3)).await;
    "too late"
}

#[get("/sync", timeout = "200 ms")]
fn slow_sync() -> &'static str {
    std::thread::sleep(Duration::from_millis(700));
    "too late"
}

/// No timeout: only the client's leaving ends it.
#[get("/long")]
async fn long() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late"
}

#[get("/quick")]
fn quick() -> &'static str {
    "quick"
}

fn app() -> App {
    App::new().register(handlers![open, close, slow_async, slow_sync, long, quick])
}

/// Waits up to 3 s for the teardown of request `id`.
fn teardown_of(id: &str) -> Option<String> {
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if let Some((_, seen)) = SEEN.lock().unwrap().iter().find(|(i, _)| i == id) {
            return Some(seen.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn transports() -> Vec<(&'static str, Box<dyn Transport>)> {
    vec![
        ("test client", Box::new(app().test_client())),
        ("async backend", Box::new(Http::start(app(), Backend::Async))),
        ("threaded backend", Box::new(Http::start(app(), Backend::Threaded { workers: 4 }))),
    ]
}

#[test]
fn a_route_timeout_still_runs_the_teardown_hooks() {
    for (name, t) in transports() {
        for path in ["/async", "/sync"] {
            let id = format!("{name} {path}");
            let reply = t.send(erlen::http::Method::GET, path, &[("x-id", &id)], Vec::new());
            assert_eq!(reply.status, 503, "{id}");
            let seen = teardown_of(&id).unwrap_or_else(|| panic!("{id}: no teardown"));
            assert!(seen.starts_with("db connection closed"), "{id}: {seen}");
            assert!(seen.contains("abandoned"), "{id}: {seen}");
        }
        // A request that is not abandoned gets no error.
        let id = format!("{name} /quick");
        assert_eq!(t.send(erlen::http::Method::GET, "/quick", &[("x-id", &id)], Vec::new()).text(), "quick");
        assert_eq!(teardown_of(&id).as_deref(), Some("db connection closed; no error"), "{id}");
    }
}

#[test]
fn a_client_that_leaves_still_runs_the_teardown_hooks() {
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).expect("the server starts");
        let id = format!("{backend:?} gone");
        let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
        write!(stream, "GET /long HTTP/1.1\r\nhost: x\r\nx-id: {id}\r\n\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(stream);
        let seen = teardown_of(&id).unwrap_or_else(|| panic!("{id}: no teardown"));
        assert!(seen.starts_with("db connection closed"), "{id}: {seen}");
        assert!(seen.contains("abandoned"), "{id}: {seen}");
    }
}
