//! Raw-socket clients for the hardening tests: exact bytes on the wire, a timeout on every
//! read, and a keep-alive load that counts what it sent and what was answered.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A connection to `addr` whose reads give up after `wait`.
pub fn connect(addr: SocketAddr, wait: Duration) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("the server accepts");
    stream.set_read_timeout(Some(wait)).expect("a read timeout");
    stream
}

/// One response as read off the wire.
#[derive(Debug, Default)]
pub struct RawResponse {
    /// The status line and headers, as text.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn status(&self) -> u16 {
        self.head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response (head and a `Content-Length` body) from `stream`. `None` if the
/// connection closed or the read timed out first.
pub fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut resp = RawResponse { head, body: buf[head_end..].to_vec() };
    let len: usize = resp.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while resp.body.len() < len {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => resp.body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(resp)
}

/// Writes `bytes` on a fresh connection and reads one response, waiting up to 5 s.
pub fn exchange(addr: SocketAddr, bytes: &[u8]) -> Option<RawResponse> {
    let mut stream = connect(addr, Duration::from_secs(5));
    stream.write_all(bytes).ok()?;
    read_response(&mut stream)
}

/// Waits for the server to close `stream`, discarding what it sends. Returns how long
/// that took from `since`, or `None` if it was still open after `within`.
pub fn wait_closed(stream: &mut TcpStream, since: Instant, within: Duration) -> Option<Duration> {
    let mut chunk = [0u8; 4096];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    while since.elapsed() < within {
        match stream.read(&mut chunk) {
            Ok(0) => return Some(since.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(since.elapsed()),
        }
    }
    None
}

/// What a [`Load`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Requests written.
    pub sent: usize,
    /// Requests answered in full.
    pub answered: usize,
    /// Connections that ended on a response saying `Connection: close`.
    pub told_to_close: usize,
    /// Connections closed by the server with a request unanswered.
    pub lost: usize,
    /// Connections still going when the load's time ran out.
    pub unfinished: usize,
}

/// Keep-alive connections, each sending `GET path` one after another, as a load balancer
/// or a browser does, until the server says `Connection: close` (then it stops, as a
/// client must) or closes the connection.
pub struct Load {
    threads: Vec<JoinHandle<Outcome>>,
    sent: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
}

enum Outcome {
    ToldToClose,
    Lost,
    Unfinished,
}

impl Load {
    /// Starts `connections` clients; each gives up after `max`.
    pub fn start(addr: SocketAddr, path: &str, connections: usize, max: Duration) -> Load {
        let sent = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let request = format!("GET {path} HTTP/1.1\r\nHost: loopback\r\n\r\n").into_bytes();
        let threads = (0..connections)
            .map(|_| {
                let (sent, answered, request) = (sent.clone(), answered.clone(), request.clone());
                std::thread::spawn(move || {
                    let start = Instant::now();
                    let mut stream = connect(addr, Duration::from_secs(5));
                    while start.elapsed() < max {
                        sent.fetch_add(1, Ordering::SeqCst);
                        if stream.write_all(&request).is_err() {
                            return Outcome::Lost;
                        }
                        let Some(resp) = read_response(&mut stream) else { return Outcome::Lost };
                        answered.fetch_add(1, Ordering::SeqCst);
                        if resp.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                            return Outcome::ToldToClose;
                        }
                    }
                    Outcome::Unfinished
                })
            })
            .collect();
        Load { threads, sent, answered }
    }

    /// Requests answered so far.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Waits until `n` requests have been answered, or `within` has passed.
    pub fn wait_for(&self, n: usize, within: Duration) {
        let start = Instant::now();
        while self.answered() < n && start.elapsed() < within {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for every client to end and reports.
    pub fn finish(self) -> LoadReport {
        let mut report = LoadReport::default();
        for thread in self.threads {
            match thread.join().unwrap_or(Outcome::Lost) {
                Outcome::ToldToClose => report.told_to_close += 1,
                Outcome::Lost => report.lost += 1,
                Outcome::Unfinished => report.unfinished += 1,
            }
        }
        report.sent = self.sent.load(Ordering::SeqCst);
        report.answered = self.answered.load(Ordering::SeqCst);
        report
    }
}
