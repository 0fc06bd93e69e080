//! Server-Sent Events over real sockets on both backends: read event by event, resumed
//! with Last-Event-ID, kept alive, and ended on the server when the client leaves.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen_tests::Http;
use futures::StreamExt;

static ENDED: AtomicBool = AtomicBool::new(false);

struct EndOnDrop;
impl Drop for EndOnDrop {
    fn drop(&mut self) {
        ENDED.store(true, Ordering::SeqCst);
    }
}

/// Counts from the id after `Last-Event-ID`, one event every 50 ms, forever.
#[get("/events")]
async fn events(req: &Request) -> Sse {
    let start: u64 = req.last_event_id().and_then(|id| id.parse().ok()).map_or(0, |id: u64| id + 1);
    let guard = Arc::new(EndOnDrop);
    let stream = futures::stream::iter(start..).then(move |n| {
        let _alive = guard.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Event::default().event("count").id(n.to_string()).data(format!("n = {n}\nsecond line"))
        }
    });
    Sse::new(stream).keep_alive(Duration::from_millis(100))
}

#[get("/quiet")]
async fn quiet() -> Sse {
    Sse::new(futures::stream::pending()).keep_alive(Duration::from_millis(100))
}

fn app() -> App {
    App::new().register(handlers![events, quiet])
}

fn open(server: &Http, path: &str, last_id: Option<&str>) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(server.server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let resume = last_id.map(|id| format!("last-event-id: {id}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n{resume}\r\n").unwrap();
    BufReader::new(stream)
}

/// The lines up to the next blank line (one event), skipping chunk-size lines.
fn next_event(reader: &mut BufReader<TcpStream>) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended");
        let line = line.trim_end().to_string();
        let chunk_size =
            !line.is_empty() && line.bytes().all(|b| b.is_ascii_hexdigit()) && !line.contains(':');
        if chunk_size {
            continue;
        }
        if line.is_empty() {
            if lines.iter().any(|l: &String| l.contains(": ") || l.starts_with(':')) {
                return lines;
            }
            continue;
        }
        lines.push(line);
    }
}

#[test]
fn events_arrive_one_by_one_and_resume_after_the_last_id() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let server = Http::start(app(), backend);
        let mut reader = open(&server, "/events", None);
        let head = next_event(&mut reader);
        assert!(head.iter().any(|l| l.eq_ignore_ascii_case("content-type: text/event-stream")), "{head:?}");
        let first = next_event(&mut reader);
        assert_eq!(first, ["event: count", "id: 0", "data: n = 0", "data: second line"], "{backend:?}");
        assert_eq!(next_event(&mut reader)[1], "id: 1", "{backend:?}");
        drop(reader);
        let mut resumed = open(&server, "/events", Some("41"));
        next_event(&mut resumed);
        assert_eq!(next_event(&mut resumed)[1], "id: 42", "{backend:?}: resumed after Last-Event-ID");
    }
}

#[test]
fn a_quiet_stream_sends_keep_alive_comments() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let server = Http::start(app(), backend);
        let mut reader = open(&server, "/quiet", None);
        next_event(&mut reader);
        assert_eq!(next_event(&mut reader), [": keep-alive"], "{backend:?}");
        assert_eq!(next_event(&mut reader), [": keep-alive"], "{backend:?}");
    }
}

#[test]
fn a_client_that_leaves_ends_the_stream_within_a_second() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let server = Http::start(app(), backend);
        ENDED.store(false, Ordering::SeqCst);
        let mut reader = open(&server, "/events", None);
        next_event(&mut reader);
        next_event(&mut reader);
        let left = Instant::now();
        drop(reader);
        while !ENDED.load(Ordering::SeqCst) && left.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(ENDED.load(Ordering::SeqCst), "{backend:?}: the stream outlived its client");
        assert!(left.elapsed() < Duration::from_secs(1), "{backend:?}: ended after {:?}", left.elapsed());
    }
}

#[test]
fn the_test_client_reads_events_piece_by_piece() {
    let client = app().test_client();
    let mut body = client.get("/events").header("last-event-id", "6").send().into_stream();
    let chunk = body.next_blocking().unwrap();
    assert_eq!(&chunk[..], b"event: count\nid: 7\ndata: n = 7\ndata: second line\n\n");
}

static QUIET_ENDED: AtomicBool = AtomicBool::new(false);

struct QuietEnd;
impl Drop for QuietEnd {
    fn drop(&mut self) {
        QUIET_ENDED.store(true, Ordering::SeqCst);
    }
}

/// Sends one event, then nothing (the default keep-alive is 15 s away).
#[get("/one_then_quiet")]
async fn one_then_quiet() -> Sse {
    let guard = QuietEnd;
    let first = futures::stream::once(async { Event::default().data("hello") });
    let rest = futures::stream::pending().map(move |e: Event| {
        let _alive = &guard;
        e
    });
    Sse::new(first.chain(rest))
}

#[test]
fn a_client_that_leaves_a_quiet_stream_ends_it_within_a_second() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let server = Http::start(App::new().register(handlers![one_then_quiet]), backend);
        QUIET_ENDED.store(false, Ordering::SeqCst);
        let mut reader = open(&server, "/one_then_quiet", None);
        next_event(&mut reader);
        assert_eq!(next_event(&mut reader), ["data: hello"]);
        let left = Instant::now();
        drop(reader);
        while !QUIET_ENDED.load(Ordering::SeqCst) && left.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(left.elapsed() < Duration::from_secs(1), "{backend:?}: ended after {:?}", left.elapsed());
    }
}

#[test]
fn shutdown_ends_open_streams_instead_of_waiting_for_them() {
    use std::io::Read;
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let Http { client, server, .. } = Http::start(app(), backend);
        drop(client);
        let addr = server.addr();
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(stream, "GET /quiet HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        next_event(&mut reader); // the head
        assert_eq!(next_event(&mut reader), [": keep-alive"], "{backend:?}");
        let started = Instant::now();
        let stopping = std::thread::spawn(move || server.shutdown());
        // The stream ends cleanly: the last chunk, then the server closes.
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        let rest = String::from_utf8_lossy(&rest);
        assert!(rest.contains("0\r\n\r\n"), "{backend:?}: the chunked body was ended: {rest:?}");
        stopping.join().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{backend:?}: the drain took {:?}, not the shutdown timeout",
            started.elapsed()
        );
    }
}
