//! `#[before_serving]` and `#[after_serving]` over real sockets, on both backends: they
//! run once, in registration order, before the first connection and after the last
//! request has drained; a failing before_serving hook stops the start-up with its error.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen::{Backend, Server};

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 4 }];

/// What happened, in order, with when: each test's app has its own.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(&'static str, Instant)>>>);

impl Events {
    fn push(&self, what: &'static str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((what, Instant::now()));
    }

    fn names(&self) -> Vec<&'static str> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(n, _)| *n).collect()
    }

    fn at(&self, what: &str) -> Instant {
        let events = self.0.lock().unwrap_or_else(|p| p.into_inner());
        events
            .iter()
            .find(|(n, _)| *n == what)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("no `{what}` event"))
    }
}

#[before_serving]
fn warm_sync(State(events): State<Events>) {
    events.push("before_serving sync");
}

#[before_serving]
async fn warm_async(State(events): State<Events>) -> Result<(), std::io::Error> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    events.push("before_serving async");
    Ok(())
}

#[before_serving]
async fn warm_fails(State(events): State<Events>) -> Result<(), std::io::Error> {
    events.push("before_serving fails");
    Err(std::io::Error::other("the database is unreachable"))
}

#[before_serving]
fn warm_panics() {
    panic!("the cache could not be primed");
}

#[after_serving]
fn flush_panics() {
    panic!("flush failed");
}

#[after_serving]
async fn flush_fails() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("disk full"))
}

#[after_serving]
fn flush_sync(State(events): State<Events>) {
    events.push("after_serving sync");
}

#[after_serving]
async fn flush_async(State(events): State<Events>) {
    tokio::time::sleep(Duration::from_millis(5)).await;
    events.push("after_serving async");
}

#[get("/events")]
fn list_events(State(events): State<Events>) -> String {
    events.push("request");
    events.names().join(", ")
}

#[get("/slow")]
async fn slow_async(State(events): State<Events>) -> &'static str {
    events.push("slow started");
    tokio::time::sleep(Duration::from_millis(600)).await;
    events.push("slow done");
    "slow"
}

#[get("/slow_sync")]
fn slow_sync(State(events): State<Events>) -> &'static str {
    events.push("slow started");
    std::thread::sleep(Duration::from_millis(600));
    events.push("slow done");
    "slow"
}

/// A GET over a plain socket; the whole response as text.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the server accepts the connection");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a read timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("the request is sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("the response arrives");
    response
}

/// A free port on loopback, to find out afterwards whether anything listens on it.
fn free_addr() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().expect("its address")
}

fn wait_for(events: &Events, what: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    while !events.names().contains(&what) {
        assert!(Instant::now() < until, "`{what}` never happened: {:?}", events.names());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn before_serving_hooks_run_once_in_order_before_the_first_request() {
    for backend in BACKENDS {
        let log = Events::default();
        let app = App::new().state(log.clone()).register(handlers![warm_sync, warm_async, list_events]);
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app).expect("the server starts");
        assert_eq!(log.names(), ["before_serving sync", "before_serving async"], "{backend:?}");
        let first = get(server.addr(), "/events");
        assert!(first.starts_with("HTTP/1.1 200"), "{backend:?}: {first}");
        assert!(
            first.ends_with("before_serving sync, before_serving async, request"),
            "{backend:?}: {first}"
        );
        get(server.addr(), "/events");
        server.shutdown();
        assert_eq!(log.names().iter().filter(|n| n.starts_with("before_serving")).count(), 2, "{backend:?}");
    }
}

#[test]
fn a_before_serving_error_stops_the_start_up_and_nothing_listens() {
    for backend in BACKENDS {
        let log = Events::default();
        let addr = free_addr();
        let app =
            App::new().state(log.clone()).register(handlers![warm_sync, warm_fails, warm_async, list_events]);
        let err = Server::bind(addr).backend(backend).spawn(app).expect_err("the start-up fails");
        let message = err.to_string();
        assert!(message.contains("`warm_fails`"), "{backend:?}: {message}");
        assert!(message.contains("the database is unreachable"), "{backend:?}: {message}");
        assert!(message.contains("before_serving"), "{backend:?}: {message}");
        // The hooks after the failing one did not run.
        assert_eq!(log.names(), ["before_serving sync", "before_serving fails"], "{backend:?}");
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
            "{backend:?}: {addr} listens"
        );
    }
}

#[test]
fn a_before_serving_panic_stops_the_start_up_with_its_message() {
    for backend in BACKENDS {
        let addr = free_addr();
        let app = App::new().state(Events::default()).register(handlers![warm_panics, list_events]);
        let err = Server::bind(addr).backend(backend).spawn(app).expect_err("the start-up fails");
        let message = err.to_string();
        assert!(message.contains("`warm_panics`"), "{backend:?}: {message}");
        assert!(message.contains("the cache could not be primed"), "{backend:?}: {message}");
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
            "{backend:?}: {addr} listens"
        );
    }
}

#[test]
fn a_missing_state_is_a_start_up_error_that_says_what_to_add() {
    let err =
        Server::bind("127.0.0.1:0").spawn(App::new().register(handlers![warm_sync])).expect_err("fails");
    let message = err.to_string();
    assert!(message.contains("`warm_sync`") && message.contains("App::new().state(value)"), "{message}");
}

#[test]
fn after_serving_runs_once_after_an_in_flight_request_has_drained() {
    for (backend, path) in [
        (Backend::Async, "/slow"),
        (Backend::Async, "/slow_sync"),
        (Backend::Threaded { workers: 4 }, "/slow"),
        (Backend::Threaded { workers: 4 }, "/slow_sync"),
    ] {
        let log = Events::default();
        let app = App::new().state(log.clone()).register(handlers![
            flush_panics,
            flush_sync,
            flush_fails,
            flush_async,
            slow_async,
            slow_sync
        ]);
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app).expect("the server starts");
        let addr = server.addr();
        let client = std::thread::spawn(move || get(addr, path));
        wait_for(&log, "slow started");
        let shutdown_called = Instant::now();
        server.shutdown();
        let response = client.join().expect("the client thread");
        assert!(
            response.starts_with("HTTP/1.1 200") && response.ends_with("slow"),
            "{backend:?}: {response}"
        );
        // The failing hooks were logged, not propagated, and the others ran after them.
        assert_eq!(
            log.names(),
            ["slow started", "slow done", "after_serving sync", "after_serving async"],
            "{backend:?} {path}"
        );
        assert!(
            log.at("slow done") > shutdown_called,
            "{backend:?} {path}: the request finished before shutdown"
        );
        assert!(log.at("after_serving sync") >= log.at("slow done"), "{backend:?} {path}");
    }
}

#[test]
fn dropping_the_handle_runs_after_serving_once() {
    for backend in BACKENDS {
        let log = Events::default();
        let app = App::new().state(log.clone()).register(handlers![flush_sync]);
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app).expect("the server starts");
        drop(server);
        assert_eq!(log.names(), ["after_serving sync"], "{backend:?}");
    }
}

#[tokio::test]
async fn serving_hooks_run_when_the_server_is_spawned_inside_a_runtime() {
    let log = Events::default();
    let app = App::new().state(log.clone()).register(handlers![warm_sync, warm_async, flush_async]);
    let server = Server::bind("127.0.0.1:0").spawn(app).expect("the server starts");
    server.shutdown();
    assert_eq!(log.names(), ["before_serving sync", "before_serving async", "after_serving async"]);
}

#[test]
fn serving_hooks_on_a_blueprint_are_a_build_error() {
    let bp = Blueprint::new("admin").register(handlers![warm_sync, flush_sync]);
    let err = App::new().register_blueprint(bp).try_test_client().expect_err("the build fails");
    assert_eq!(err.problems().len(), 2, "{err}");
    assert!(err.problems()[0].contains("`warm_sync`"), "{err}");
    assert!(err.problems()[0].contains("blueprint `admin`"), "{err}");
    assert!(err.problems()[0].contains("App::new().register(handlers![warm_sync])"), "{err}");
}

#[test]
fn the_test_client_does_not_run_serving_hooks() {
    let log = Events::default();
    let client =
        App::new().state(log.clone()).register(handlers![warm_sync, flush_sync, list_events]).test_client();
    assert_eq!(client.get("/events").send().text(), "request");
    drop(client);
    assert_eq!(log.names(), ["request"]);
}
