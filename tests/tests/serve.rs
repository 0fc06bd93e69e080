//! Serving over real sockets: concurrency, the sync/async split, the blocking bridge,
//! graceful shutdown, and the limits that protect the server, tested with real malformed
//! and slow clients. Time bounds are generous: these machines are noisy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen::{Backend, Server};
use erlen_tests::Http;

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 8 }];

#[get("/ping")]
async fn ping() -> &'static str {
    "pong"
}

#[get("/fan_out")]
async fn fan_out() -> String {
    let calls = (0..10).map(|i| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        i
    });
    let sum: u32 = futures::future::join_all(calls).await.into_iter().sum();
    format!("sum {sum}")
}

#[get("/bridge")]
fn bridge() -> String {
    erlen::block_on(async {
        let calls = (0..10).map(|_| tokio::time::sleep(Duration::from_millis(100)));
        futures::future::join_all(calls).await;
        "bridged".to_string()
    })
}

#[get("/sleep_async")]
async fn sleep_async() -> &'static str {
    tokio::time::sleep(Duration::from_millis(200)).await;
    "slept"
}

#[get("/sleep_sync/<int:ms>")]
fn sleep_sync(ms: u64) -> &'static str {
    std::thread::sleep(Duration::from_millis(ms));
    "slept"
}

#[post("/echo")]
async fn echo(body: Bytes) -> String {
    format!("{} bytes", body.len())
}

/// Meets a thousand ready tokio operations in one poll, which spends its task's coop
/// budget: the connection's watchdog must still keep its timer.
#[get("/busy")]
async fn busy() -> String {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..1000u64 {
        let _ = tx.send(i);
    }
    let mut sum = 0;
    for _ in 0..1000 {
        sum += rx.recv().await.unwrap_or(0);
    }
    sum.to_string()
}

fn app() -> App {
    App::new().register(handlers![ping, fan_out, bridge, sleep_async, sleep_sync, echo, busy])
}

async fn get(http: &Http, path: &str) -> (u16, String) {
    let resp = http.client.get(http.url(path)).send().await.expect("the server answers");
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

#[test]
fn concurrency_inside_one_request() {
    for backend in BACKENDS {
        let http = Http::start(app(), backend);
        for path in ["/fan_out", "/bridge"] {
            erlen::block_on(get(&http, path)); // warm the connection
            let start = Instant::now();
            let (status, _) = erlen::block_on(get(&http, path));
            let took = start.elapsed();
            assert_eq!(status, 200);
            // Ten 100 ms waits in sequence take 1 s; concurrently about 100 ms.
            assert!(took < Duration::from_millis(700), "{backend:?} {path} took {took:?}");
        }
    }
}

#[test]
fn concurrency_across_requests_on_the_async_backend() {
    let http = Http::start(app(), Backend::Async);
    let start = Instant::now();
    let statuses = erlen::block_on(futures::future::join_all((0..64).map(|_| get(&http, "/sleep_async"))));
    let took = start.elapsed();
    assert!(statuses.iter().all(|(s, _)| *s == 200));
    // 64 x 200 ms is 12.8 s one after another.
    assert!(took < Duration::from_secs(3), "64 concurrent requests took {took:?}");
}

#[test]
fn a_sleeping_sync_handler_does_not_delay_async_handlers() {
    let http = Http::start(app(), Backend::Async);
    erlen::block_on(async {
        // More sleeping sync requests than the machine has cores (and runtime workers).
        let sleepers = futures::future::join_all((0..8).map(|_| get(&http, "/sleep_sync/1500")));
        let pinger = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let start = Instant::now();
            let (status, body) = get(&http, "/ping").await;
            (status, body, start.elapsed())
        };
        let (slept, (status, body, took)) = tokio::join!(sleepers, pinger);
        assert!(slept.iter().all(|(s, _)| *s == 200));
        assert_eq!((status, body.as_str()), (200, "pong"));
        assert!(took < Duration::from_millis(500), "/ping waited {took:?} behind sync handlers");
    });
}

#[test]
fn block_on_works_in_sync_handlers_on_both_backends() {
    for backend in BACKENDS {
        let http = Http::start(app(), backend);
        assert_eq!(erlen::block_on(get(&http, "/bridge")), (200, "bridged".to_string()), "{backend:?}");
    }
}

mod upstream {
    use super::*;

    #[get("/upstream/<int:n>")]
    pub async fn upstream(n: u32) -> String {
        tokio::time::sleep(Duration::from_millis(50)).await;
        format!("upstream {n}")
    }

    #[derive(Clone)]
    pub struct Upstream(pub String);

    #[get("/proxy/<int:n>")]
    pub async fn proxy(
        n: u32,
        State(client): State<reqwest::Client>,
        State(up): State<Upstream>,
    ) -> Result<String, HttpError> {
        let resp = client.get(format!("{}/upstream/{n}", up.0)).send().await?;
        Ok(resp.text().await?)
    }
}

#[test]
fn a_shared_reqwest_client_works_on_the_threaded_backend_under_concurrency() {
    let upstream = Http::start(App::new().register(handlers![upstream::upstream]), Backend::Async);
    let app = App::new()
        .state(reqwest::Client::new())
        .state(upstream::Upstream(upstream.base.clone()))
        .register(handlers![upstream::proxy]);
    let http = Http::start(app, Backend::Threaded { workers: 8 });
    for round in 0..2 {
        let start = Instant::now();
        let replies = erlen::block_on(futures::future::join_all((0..32).map(|n| {
            let http = &http;
            async move { (n, get(http, &format!("/proxy/{n}")).await) }
        })));
        for (n, (status, body)) in replies {
            assert_eq!((status, body), (200, format!("upstream {n}")), "round {round}");
        }
        // 32 requests on 8 workers, 50 ms each: 4 waves, about 200 ms; a hang would be seconds.
        assert!(start.elapsed() < Duration::from_secs(5), "round {round} took {:?}", start.elapsed());
    }
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests_then_refuses() {
    for backend in BACKENDS {
        let http = Http::start(app(), backend);
        let addr = http.server.addr();
        let url = http.url("/sleep_sync/500");
        let client = http.client.clone();
        let in_flight = std::thread::spawn(move || {
            erlen::block_on(async { client.get(url).send().await.map(|r| r.status().as_u16()) })
        });
        std::thread::sleep(Duration::from_millis(150));
        http.server.shutdown();
        assert_eq!(in_flight.join().unwrap().expect("the in-flight request completes"), 200, "{backend:?}");
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
            "{backend:?} still accepts"
        );
    }
}

#[test]
fn shutdown_has_a_deadline() {
    let http =
        Http::start_with(Server::bind("127.0.0.1:0").shutdown_timeout(Duration::from_millis(200)), app());
    let url = http.url("/sleep_async");
    let long = http.client.get(url.replace("sleep_async", "sleep_sync/3000"));
    let pending = std::thread::spawn(move || erlen::block_on(long.send()));
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    http.server.shutdown();
    assert!(start.elapsed() < Duration::from_millis(2500), "shutdown waited {:?}", start.elapsed());
    assert!(pending.join().unwrap().is_err(), "the connection was closed past the deadline");
}

/// Writes raw bytes to the server and reads what it answers until it closes or `wait`.
fn raw_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if out.windows(4).any(|w| w == b"\r\n\r\n") && !out.starts_with(b"HTTP/1.1 100") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn protection_defaults_answer_with_http_errors_and_keep_serving() {
    for backend in BACKENDS {
        let http = Http::start_with(Server::bind("127.0.0.1:0").backend(backend).body_limit(1024), app());
        let addr = http.server.addr();

        // Oversized body, declared or streamed.
        let resp =
            erlen::block_on(http.client.post(http.url("/echo")).body(vec![b'x'; 10_000]).send()).unwrap();
        assert_eq!(resp.status(), 413, "{backend:?}");
        let chunked = raw_exchange(
            addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n"
                .iter()
                .chain([b'x'; 0x800].iter())
                .chain(b"\r\n0\r\n\r\n".iter())
                .copied()
                .collect::<Vec<_>>()
                .as_slice(),
            Duration::from_secs(5),
        );
        assert!(chunked.starts_with("HTTP/1.1 413"), "{backend:?}: {chunked}");
        let ok = erlen::block_on(http.client.post(http.url("/echo")).body(vec![b'x'; 1000]).send()).unwrap();
        assert_eq!(ok.status(), 200);

        // Malformed requests.
        let garbage = raw_exchange(addr, b"GARBAGE\r\n\r\n", Duration::from_secs(5));
        assert!(garbage.starts_with("HTTP/1.1 400"), "{backend:?}: {garbage:?}");
        let bad_header =
            raw_exchange(addr, b"GET /ping HTTP/1.1\r\nHo st: x\r\n\r\n", Duration::from_secs(5));
        assert!(bad_header.starts_with("HTTP/1.1 400"), "{backend:?}: {bad_header:?}");

        // Headers larger than the limit.
        let huge = format!("GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
        let too_large = raw_exchange(addr, huge.as_bytes(), Duration::from_secs(5));
        assert!(too_large.starts_with("HTTP/1.1 431"), "{backend:?}: {too_large:?}");

        // A percent-encoded path that is not UTF-8.
        assert_eq!(erlen::block_on(get(&http, "/%FF")).0, 400);

        // And the server still serves.
        assert_eq!(erlen::block_on(get(&http, "/ping")), (200, "pong".to_string()), "{backend:?}");
    }
}

#[test]
fn slow_headers_time_out_while_other_clients_are_served() {
    for backend in BACKENDS {
        let server =
            Server::bind("127.0.0.1:0").backend(backend).header_read_timeout(Duration::from_millis(300));
        let http = Http::start_with(server, app());
        let mut slow = TcpStream::connect(http.server.addr()).unwrap();
        slow.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n").unwrap(); // and never finishes
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(erlen::block_on(get(&http, "/ping")).0, 200);
        }
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let closed = match slow.read(&mut buf) {
            Ok(0) => true,
            Ok(n) => String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        assert!(closed, "{backend:?}: the slow connection was not closed");
        assert!(start.elapsed() < Duration::from_secs(4), "{backend:?}: closed after {:?}", start.elapsed());
    }
}

/// Reads one response (with a Content-Length) from `stream`; returns its status line.
fn read_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).expect("a response");
        assert!(n > 0, "closed before a response");
        out.extend_from_slice(&buf[..n]);
        let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&out[..end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        if out.len() >= end + 4 + len {
            return head.lines().next().unwrap_or_default().to_string();
        }
    }
}

/// Whether the server closes `stream` within `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

#[test]
fn a_slow_head_after_a_request_on_the_same_connection_times_out() {
    for backend in BACKENDS {
        let server = Server::bind("127.0.0.1:0")
            .backend(backend)
            .header_read_timeout(Duration::from_millis(300))
            .shutdown_timeout(Duration::from_millis(500));
        let http = Http::start_with(server, app());
        let addr = http.server.addr();
        let slow_second_head = |first: &[u8]| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(first).unwrap();
            assert_eq!(read_response(&mut stream), "HTTP/1.1 200 OK", "{backend:?}");
            stream.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n").unwrap(); // and never finishes
            closed_within(&mut stream, Duration::from_secs(4))
        };
        // Keep-alive: a request, then a head that never ends.
        assert!(slow_second_head(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), "{backend:?}: keep-alive");
        // After a view that spent its task's coop budget in the connection's poll.
        for _ in 0..3 {
            assert!(slow_second_head(b"GET /busy HTTP/1.1\r\nHost: x\r\n\r\n"), "{backend:?}: after /busy");
        }
        // Pipelined: a request and the start of the next in one write.
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n").unwrap();
        assert_eq!(read_response(&mut stream), "HTTP/1.1 200 OK", "{backend:?}");
        assert!(closed_within(&mut stream, Duration::from_secs(4)), "{backend:?}: pipelined");
    }
}

#[test]
fn a_request_timeout_answers_503() {
    for backend in BACKENDS {
        let server = Server::bind("127.0.0.1:0").backend(backend).request_timeout(Duration::from_millis(100));
        let http = Http::start_with(server, app());
        assert_eq!(erlen::block_on(get(&http, "/sleep_async")).0, 503, "{backend:?}");
        assert_eq!(erlen::block_on(get(&http, "/ping")).0, 200, "{backend:?}");
    }
}

#[test]
fn a_full_queue_answers_503_not_a_hang() {
    let server = Server::bind("127.0.0.1:0").backend(Backend::Threaded { workers: 1 }).queue_size(1);
    let http = Http::start_with(server, app());
    let start = Instant::now();
    let replies = erlen::block_on(futures::future::join_all((0..6).map(|_| {
        let req = http.client.get(http.url("/sleep_sync/300"));
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.headers().get("retry-after").is_some())
        }
    })));
    let served = replies.iter().filter(|(s, _)| *s == 200).count();
    let refused = replies.iter().filter(|(s, retry)| *s == 503 && *retry).count();
    assert!(served >= 1 && refused >= 1 && served + refused == 6, "{replies:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

static STARTED: AtomicBool = AtomicBool::new(false);
static FINISHED: AtomicBool = AtomicBool::new(false);
static DROPPED: AtomicBool = AtomicBool::new(false);

struct DropFlag;
impl Drop for DropFlag {
    fn drop(&mut self) {
        DROPPED.store(true, Ordering::SeqCst);
    }
}

#[get("/abandoned")]
async fn abandoned() -> &'static str {
    let _flag = DropFlag;
    STARTED.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    FINISHED.store(true, Ordering::SeqCst);
    "finished"
}

#[test]
fn a_client_that_disconnects_cancels_its_async_handler() {
    let http = Http::start(App::new().register(handlers![abandoned]), Backend::Async);
    let mut stream = TcpStream::connect(http.server.addr()).unwrap();
    stream.write_all(b"GET /abandoned HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let start = Instant::now();
    while !STARTED.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(stream);
    while !DROPPED.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(DROPPED.load(Ordering::SeqCst), "the handler's future was not dropped");
    assert!(!FINISHED.load(Ordering::SeqCst), "the handler ran to the end for nobody");
}

#[test]
fn http2_prior_knowledge_on_the_same_port() {
    for backend in BACKENDS {
        let http = Http::start(app(), backend);
        let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
        let resp = erlen::block_on(h2.get(http.url("/ping")).send()).unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2, "{backend:?}");
        assert_eq!(erlen::block_on(resp.text()).unwrap(), "pong");
        let h1 = erlen::block_on(http.client.get(http.url("/ping")).send()).unwrap();
        assert_eq!(h1.version(), reqwest::Version::HTTP_11);
    }
}

#[tokio::test]
async fn servers_start_and_stop_inside_a_runtime() {
    let server = Server::bind("127.0.0.1:0").spawn(app()).unwrap();
    let body = reqwest::get(format!("http://{}/ping", server.addr())).await.unwrap().text().await.unwrap();
    assert_eq!(body, "pong");
    server.shutdown();
    let dropped = Server::bind("127.0.0.1:0").backend(Backend::Threaded { workers: 2 }).spawn(app()).unwrap();
    let addr = dropped.addr();
    drop(dropped);
    assert!(
        reqwest::get(format!("http://{addr}/ping")).await.is_err(),
        "dropping the handle stops the server"
    );
}

#[test]
fn spawn_reports_build_and_bind_errors() {
    let taken = Server::bind("127.0.0.1:0").spawn(app()).unwrap();
    let err = Server::bind(taken.addr()).spawn(app()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    #[get("/x")]
    fn x() {}
    #[get("/x")]
    fn y() {}
    let err = Server::bind("127.0.0.1:0").spawn(App::new().register(handlers![x, y])).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("registered twice"), "{err}");
}

#[test]
fn a_setting_of_the_other_backend_is_refused_not_ignored() {
    let err = Server::bind("127.0.0.1:0").queue_size(8).spawn(app()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("`Server::queue_size`") && err.to_string().contains("async backend"),
        "{err}"
    );
    let threaded = Server::bind("127.0.0.1:0").backend(Backend::Threaded { workers: 2 });
    let err = threaded.blocking_threads(4).spawn(app()).unwrap_err();
    assert!(err.to_string().contains("`Server::blocking_threads`"), "{err}");
    // Each backend's own setting is fine.
    let server = Server::bind("127.0.0.1:0").backend(Backend::Threaded { workers: 2 }).queue_size(8);
    server.spawn(app()).expect("queue_size on the threaded backend").shutdown();
    Server::bind("127.0.0.1:0")
        .blocking_threads(4)
        .spawn(app())
        .expect("blocking_threads on async")
        .shutdown();
}
