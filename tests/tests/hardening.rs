//! Hostile and careless clients over real sockets, on both backends: connections that send
//! nothing, bodies that trickle, floods past the connection cap, clients that leave
//! before their answer, redirect abuse, missing or doubled `Host`, and a shutdown under
//! load. Servers here use short timeouts so the suite stays quick; bounds are generous,
//! as these machines are noisy.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen::{Backend, Server, ServerHandle};
use erlen_tests::raw::{self, Load};

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 4 }];

/// The 24 bytes every HTTP/2 connection starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[get("/ping")]
async fn ping() -> &'static str {
    "pong"
}

#[post("/echo")]
async fn echo(body: Bytes) -> String {
    format!("{} bytes", body.len())
}

fn app() -> App {
    App::new().register(handlers![ping, echo])
}

/// A server with short timeouts, for tests that wait for them.
fn quick(backend: Backend) -> Server {
    Server::bind("127.0.0.1:0")
        .backend(backend)
        .header_read_timeout(Duration::from_millis(300))
        .body_read_timeout(Duration::from_millis(300))
}

fn serve(server: Server, app: App) -> ServerHandle {
    server.spawn(app).expect("the test server starts")
}

/// An HTTP/2 client connection (prior knowledge) and the task driving it, which ends
/// when the server closes the connection.
async fn h2_client(addr: SocketAddr) -> (h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<()>) {
    let tcp = within(tokio::net::TcpStream::connect(addr)).await.expect("connects");
    let (client, conn) = within(h2::client::handshake(tcp)).await.expect("an HTTP/2 handshake");
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    (client, driver)
}

/// Awaits `future` for at most 5 s: a test fails rather than hangs.
async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(5), future).await.expect("an answer within 5 s")
}

fn h2_get(addr: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::get(format!("http://{addr}{path}")).body(()).expect("a valid request")
}

#[test]
fn connections_that_never_start_a_request_are_closed_after_the_header_timeout() {
    let mut settings_frame = H2_PREFACE.to_vec();
    settings_frame.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // an empty SETTINGS frame
    let openings: [(&str, &[u8]); 4] = [
        ("nothing", b""),
        ("23 of the 24 preface bytes", &H2_PREFACE[..23]),
        ("the HTTP/2 preface and SETTINGS, then nothing", &settings_frame),
        ("half an HTTP/1.1 request", b"GET /ping HTTP/1.1\r\nHost: x\r\n"),
    ];
    for backend in BACKENDS {
        let server = serve(quick(backend), app());
        for (what, bytes) in openings {
            let mut stream = raw::connect(server.addr(), Duration::from_secs(5));
            let start = Instant::now();
            stream.write_all(bytes).unwrap();
            let closed = raw::wait_closed(&mut stream, start, Duration::from_secs(5));
            let took = closed.unwrap_or_else(|| panic!("{backend:?}, {what}: still open after 5 s"));
            assert!(took >= Duration::from_millis(150), "{backend:?}, {what}: closed early, after {took:?}");
            assert!(took < Duration::from_secs(3), "{backend:?}, {what}: closed after {took:?}");
        }
        // Meanwhile the server serves.
        let pong = raw::exchange(server.addr(), b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(pong.body, b"pong", "{backend:?}");
    }
}

#[test]
fn idle_keep_alive_connections_close_on_http1_and_http2() {
    for backend in BACKENDS {
        let server = serve(quick(backend), app());
        let addr = server.addr();

        let mut h1 = raw::connect(addr, Duration::from_secs(5));
        h1.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(raw::read_response(&mut h1).unwrap().body, b"pong");
        let closed = raw::wait_closed(&mut h1, Instant::now(), Duration::from_secs(5));
        assert!(closed.is_some_and(|t| t < Duration::from_secs(3)), "{backend:?} HTTP/1.1: {closed:?}");

        erlen::block_on(async {
            let (mut client, driver) = h2_client(addr).await;
            let (resp, _) = client.send_request(h2_get(addr, "/ping"), true).unwrap();
            assert_eq!(within(resp).await.unwrap().status(), 200, "{backend:?}");
            let start = Instant::now();
            let closed = tokio::time::timeout(Duration::from_secs(5), driver).await;
            assert!(closed.is_ok(), "{backend:?}: the idle HTTP/2 connection is still open after 5 s");
            assert!(start.elapsed() >= Duration::from_millis(150), "{backend:?}: closed early");
        });
    }
}

#[get("/download")]
fn download() -> Vec<u8> {
    vec![b'x'; 32 << 20]
}

#[test]
fn a_slow_download_is_not_taken_for_an_idle_connection() {
    // Both backends at once: each download takes seconds.
    let downloads = BACKENDS.map(|backend| {
        std::thread::spawn(move || {
            let server = serve(quick(backend), App::new().register(handlers![download]));
            let mut stream = raw::connect(server.addr(), Duration::from_secs(5));
            stream.write_all(b"GET /download HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            // 32 MiB, far more than the socket buffers hold, read 1 MiB every 100 ms: the
            // response takes seconds, many times the 300 ms idle deadline.
            let start = Instant::now();
            let mut received = 0usize;
            let mut chunk = vec![0u8; 1 << 20];
            while received <= 32 << 20 && start.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(100));
                match std::io::Read::read(&mut stream, &mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received += n,
                }
            }
            (backend, received)
        })
    });
    for download in downloads {
        let (backend, received) = download.join().unwrap();
        assert!(received > 32 << 20, "{backend:?}: the download was cut after {received} bytes");
    }
}

#[test]
fn a_body_that_trickles_is_answered_408() {
    for backend in BACKENDS {
        let server = serve(quick(backend), app());
        let addr = server.addr();

        // HTTP/1.1: a byte every 50 ms of a 100-byte body.
        let mut stream = raw::connect(addr, Duration::from_millis(50));
        stream.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n").unwrap();
        let start = Instant::now();
        let resp = loop {
            assert!(start.elapsed() < Duration::from_secs(3), "{backend:?}: no answer to a trickling body");
            let _ = stream.write_all(b"x");
            if let Some(resp) = raw::read_response(&mut stream) {
                break resp;
            }
        };
        assert_eq!(resp.status(), 408, "{backend:?}: {resp:?}");
        assert_eq!(resp.header("connection"), Some("close"), "{backend:?}");

        // HTTP/2: a stream whose body starts and stalls.
        erlen::block_on(async {
            let (mut client, _driver) = h2_client(addr).await;
            let req = http::Request::post(format!("http://{addr}/echo")).body(()).unwrap();
            let (resp, mut body) = client.send_request(req, false).unwrap();
            body.send_data(Bytes::from_static(b"some"), false).unwrap();
            let resp = tokio::time::timeout(Duration::from_secs(3), resp).await;
            assert_eq!(resp.expect("an answer in time").unwrap().status(), 408, "{backend:?}");
        });

        // A body sent at once is read as before.
        let ok =
            raw::exchange(addr, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").unwrap();
        assert_eq!(ok.body, b"3 bytes", "{backend:?}");
    }
}

#[test]
fn at_the_connection_cap_the_server_stops_accepting_then_resumes() {
    for backend in BACKENDS {
        let server = serve(Server::bind("127.0.0.1:0").backend(backend).max_connections(2), app());
        let addr = server.addr();
        let request = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut held: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut stream = raw::connect(addr, Duration::from_secs(5));
                stream.write_all(request).unwrap();
                assert_eq!(raw::read_response(&mut stream).unwrap().body, b"pong");
                stream
            })
            .collect();

        // The third connects (the kernel holds it in the backlog) but is not served yet.
        let mut third = raw::connect(addr, Duration::from_millis(400));
        third.write_all(request).unwrap();
        assert!(raw::read_response(&mut third).is_none(), "{backend:?}: served past the cap");

        // One closes: the third is accepted and answered.
        held.remove(0);
        third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let resp = raw::read_response(&mut third);
        assert_eq!(resp.map(|r| r.body), Some(b"pong".to_vec()), "{backend:?}");
    }
}

/// Opens up to `n` connections that nobody accepts (the server is at its cap); returns how
/// many the kernel completed at once.
fn connects_held_in_the_backlog(addr: SocketAddr, n: usize) -> usize {
    let mut open = Vec::new();
    while open.len() < n {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(250)) {
            Ok(stream) => open.push(stream),
            Err(_) => break,
        }
    }
    open.len()
}

#[test]
fn the_listen_backlog_holds_a_burst_of_connects() {
    for backend in BACKENDS {
        let server = serve(Server::bind("127.0.0.1:0").backend(backend).max_connections(1), app());
        let _held = raw::connect(server.addr(), Duration::from_secs(5));
        // 128, the standard library's backlog, left the rest waiting for a SYN retransmit.
        let held = connects_held_in_the_backlog(server.addr(), 400);
        assert_eq!(held, 400, "{backend:?}");

        let server =
            serve(Server::bind("127.0.0.1:0").backend(backend).max_connections(1).listen_backlog(8), app());
        let _held = raw::connect(server.addr(), Duration::from_secs(5));
        let held = connects_held_in_the_backlog(server.addr(), 400);
        assert!(held < 100, "{backend:?}: a backlog of 8 held {held} connections");
    }
}

static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);
static SLOW_FINISHED: AtomicUsize = AtomicUsize::new(0);
static SLOW_DROPPED: AtomicUsize = AtomicUsize::new(0);

struct DropCount(&'static AtomicUsize);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[get("/slow_async")]
async fn slow_async() -> &'static str {
    let _dropped = DropCount(&SLOW_DROPPED);
    SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    SLOW_FINISHED.fetch_add(1, Ordering::SeqCst);
    "finished"
}

static SYNC_STARTED: AtomicUsize = AtomicUsize::new(0);

#[get("/slow_sync")]
fn slow_sync() -> &'static str {
    SYNC_STARTED.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(500));
    "finished"
}

/// Waits until `done` holds, up to `within`.
fn eventually(within: Duration, done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !done() && start.elapsed() < within {
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// `n` clients send `GET path`, and all hang up after 200 ms.
fn send_and_leave(addr: SocketAddr, path: &str, n: usize) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let streams: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut stream = raw::connect(addr, Duration::from_secs(5));
            stream.write_all(request.as_bytes()).unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    drop(streams);
}

/// The time a fresh client waits for `/ping`.
fn ping_wait(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let resp = raw::exchange(addr, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.map(|r| r.body), Some(b"pong".to_vec()));
    start.elapsed()
}

#[test]
fn requests_whose_clients_left_are_cancelled_or_skipped() {
    let app = || App::new().register(handlers![ping, slow_async, slow_sync]);
    for backend in BACKENDS {
        // Async views awaiting on a worker (or the runtime) are cancelled when their
        // client goes; queued requests never start.
        let server = serve(Server::bind("127.0.0.1:0").backend(backend), app());
        SLOW_STARTED.store(0, Ordering::SeqCst);
        SLOW_FINISHED.store(0, Ordering::SeqCst);
        SLOW_DROPPED.store(0, Ordering::SeqCst);
        send_and_leave(server.addr(), "/slow_async", 12);
        let waited = ping_wait(server.addr());
        assert!(waited < Duration::from_millis(1500), "{backend:?}: /ping waited {waited:?}");
        let all_dropped = eventually(Duration::from_secs(2), || {
            SLOW_DROPPED.load(Ordering::SeqCst) == SLOW_STARTED.load(Ordering::SeqCst)
        });
        let started = SLOW_STARTED.load(Ordering::SeqCst);
        assert!(all_dropped, "{backend:?}: {started} started, {SLOW_DROPPED:?} cancelled");
        assert_eq!(SLOW_FINISHED.load(Ordering::SeqCst), 0, "{backend:?}: views ran to the end for nobody");
        drop(server);

        // Sync views cannot be interrupted, but on the threaded backend the queued ones
        // are skipped: 2 workers, 10 requests, only the 2 running ones run.
        if let Backend::Threaded { .. } = backend {
            let server = serve(Server::bind("127.0.0.1:0").backend(Backend::Threaded { workers: 2 }), app());
            SYNC_STARTED.store(0, Ordering::SeqCst);
            send_and_leave(server.addr(), "/slow_sync", 10);
            let waited = ping_wait(server.addr());
            assert!(
                waited < Duration::from_millis(1500),
                "/ping waited {waited:?} behind abandoned requests"
            );
            std::thread::sleep(Duration::from_millis(300));
            let started = SYNC_STARTED.load(Ordering::SeqCst);
            assert!(started <= 4, "{started} of 10 abandoned sync requests were run");
        }
    }
}

static RESET_STARTED: AtomicUsize = AtomicUsize::new(0);
static RESET_FINISHED: AtomicUsize = AtomicUsize::new(0);
static RESET_DROPPED: AtomicUsize = AtomicUsize::new(0);

#[get("/reset_me")]
async fn reset_me() -> &'static str {
    let _dropped = DropCount(&RESET_DROPPED);
    RESET_STARTED.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    RESET_FINISHED.fetch_add(1, Ordering::SeqCst);
    "finished"
}

#[test]
fn an_http2_stream_reset_cancels_its_async_view() {
    for backend in BACKENDS {
        let server =
            serve(Server::bind("127.0.0.1:0").backend(backend), App::new().register(handlers![reset_me]));
        let addr = server.addr();
        RESET_STARTED.store(0, Ordering::SeqCst);
        RESET_FINISHED.store(0, Ordering::SeqCst);
        RESET_DROPPED.store(0, Ordering::SeqCst);
        erlen::block_on(async {
            let (mut client, _driver) = h2_client(addr).await;
            let (_resp, mut stream) = client.send_request(h2_get(addr, "/reset_me"), true).unwrap();
            let start = Instant::now();
            while RESET_STARTED.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            stream.send_reset(h2::Reason::CANCEL);
            while RESET_DROPPED.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        assert_eq!(RESET_DROPPED.load(Ordering::SeqCst), 1, "{backend:?}: the view was not cancelled");
        assert_eq!(RESET_FINISHED.load(Ordering::SeqCst), 0, "{backend:?}: the view ran for nobody");
    }
}

#[get("/<user>/")]
fn profile(user: String) -> String {
    user
}

#[get("/files/<name>/")]
fn file(name: String) -> String {
    name
}

#[test]
fn the_trailing_slash_redirect_is_never_a_500_nor_an_open_redirect() {
    for backend in BACKENDS {
        let server = serve(
            Server::bind("127.0.0.1:0").backend(backend),
            App::new().register(handlers![profile, file]),
        );
        let redirect = |target: &str| {
            let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
            let resp = raw::exchange(server.addr(), request.as_bytes()).expect("an answer");
            assert_eq!(resp.status(), 308, "{backend:?} {target}: {resp:?}");
            resp.header("location").map(str::to_string)
        };
        // Browsers read `\` as `/`: `/\evil.example/` would be `//evil.example/`.
        assert_eq!(redirect("/%5Cevil.example").as_deref(), Some("/%5Cevil.example/"), "{backend:?}");
        // A CR LF in the decoded path cannot go into a header: this was a 500.
        assert_eq!(redirect("/files/a%0d%0aX:%20y").as_deref(), Some("/files/a%0d%0aX:%20y/"), "{backend:?}");
        assert_eq!(redirect("/files/caf%C3%A9?x=1").as_deref(), Some("/files/caf%C3%A9/?x=1"), "{backend:?}");
        // Following the redirect reaches the route with the decoded value.
        let resp = raw::exchange(server.addr(), b"GET /files/a%0d%0aX:%20y/ HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(resp.map(|r| r.body), Some(b"a\r\nX: y".to_vec()), "{backend:?}");
    }
}

#[test]
fn http1_requests_carry_at_most_100_headers() {
    let request = |headers: usize| {
        let mut request = String::from("GET /ping HTTP/1.1\r\nHost: x\r\n");
        for i in 1..headers {
            request.push_str(&format!("X-Header-{i}: v\r\n"));
        }
        request + "\r\n"
    };
    for backend in BACKENDS {
        let server = serve(Server::bind("127.0.0.1:0").backend(backend), app());
        let status = |n: usize| raw::exchange(server.addr(), request(n).as_bytes()).map(|r| r.status());
        assert_eq!(status(100), Some(200), "{backend:?}");
        assert_eq!(status(101), Some(431), "{backend:?}: hyper's cap, documented in the README");
    }
}

#[test]
fn http11_requests_need_exactly_one_host() {
    for backend in BACKENDS {
        let server = serve(Server::bind("127.0.0.1:0").backend(backend), app());
        let addr = server.addr();
        let status = |bytes: &[u8]| raw::exchange(addr, bytes).map(|r| r.status());
        assert_eq!(status(b"GET /ping HTTP/1.1\r\n\r\n"), Some(400), "{backend:?}: no Host");
        assert_eq!(
            status(b"GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Some(400),
            "{backend:?}: two"
        );
        assert_eq!(status(b"GET /ping HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), Some(400), "{backend:?}");
        assert_eq!(status(b"GET /ping HTTP/1.1\r\nHost: a\r\n\r\n"), Some(200), "{backend:?}");
        assert_eq!(status(b"GET /ping HTTP/1.0\r\n\r\n"), Some(200), "{backend:?}: HTTP/1.0 may omit it");
        // HTTP/2 names the host in :authority.
        erlen::block_on(async {
            let (mut client, _driver) = h2_client(addr).await;
            let (resp, _) = client.send_request(h2_get(addr, "/ping"), true).unwrap();
            assert_eq!(within(resp).await.unwrap().status(), 200, "{backend:?}");
        });
    }
}

#[get("/half_second")]
fn half_second() -> &'static str {
    std::thread::sleep(Duration::from_millis(500));
    "finished"
}

#[test]
fn a_shutdown_lets_http2_streams_finish_then_closes_the_connection() {
    for backend in BACKENDS {
        let server =
            serve(Server::bind("127.0.0.1:0").backend(backend), App::new().register(handlers![half_second]));
        let addr = server.addr();
        let (mut client, driver) = erlen::block_on(h2_client(addr));
        let (resp, _) = client.send_request(h2_get(addr, "/half_second"), true).unwrap();
        let in_flight = std::thread::spawn(move || {
            erlen::block_on(async {
                let resp = within(resp).await.expect("the stream is answered");
                let body = within(resp.into_body().data()).await.and_then(Result::ok).unwrap_or_default();
                // The driver ends when the server closes the connection.
                let closed = tokio::time::timeout(Duration::from_secs(5), driver).await;
                (body.as_ref() == b"finished", closed.is_ok())
            })
        });
        std::thread::sleep(Duration::from_millis(150));
        let start = Instant::now();
        server.shutdown();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{backend:?}: the shutdown took {:?}",
            start.elapsed()
        );
        let (finished, closed) = in_flight.join().unwrap();
        assert!(finished, "{backend:?}: the in-flight stream did not finish");
        assert!(closed, "{backend:?}: the connection did not close");
    }
}

#[test]
fn a_shutdown_under_keep_alive_load_loses_no_request() {
    for backend in BACKENDS {
        let server = serve(Server::bind("127.0.0.1:0").backend(backend), app());
        let load = Load::start(server.addr(), "/ping", 8, Duration::from_secs(10));
        load.wait_for(400, Duration::from_secs(5));
        assert!(load.answered() >= 400, "{backend:?}: the load did not get going");
        let start = Instant::now();
        server.shutdown();
        let took = start.elapsed();
        let report = load.finish();
        assert_eq!(report.lost, 0, "{backend:?}: {report:?}");
        assert_eq!(report.sent, report.answered, "{backend:?}: {report:?}");
        assert_eq!(report.told_to_close, 8, "{backend:?}: {report:?}");
        assert!(took < Duration::from_secs(4), "{backend:?}: the shutdown took {took:?}");
    }
}
