//! The load generator of the live-connection benchmark, on one thread.
//!
//! ```sh
//! load check ADDR                      # a real client checks both endpoints once
//! load ws ADDR CONNS SECS [SERVER_PID]  # WebSocket echo round trips per second
//! load sse ADDR CONNS SECS [SERVER_PID] # SSE events received per second
//! ```
//!
//! `ws`: each connection sends a 32-byte text message and waits for its echo, again and
//! again. `sse`: each connection reads `/sse?n=<endless>` and counts the events. Both
//! warm up for a second, then count for `SECS` seconds, and print one line:
//!
//! ```text
//! ws rate=123456 conns=32 secs=4.00 server_cpu=99 load_cpu=41
//! ```
//!
//! `server_cpu` and `load_cpu` are the percentages of one core that the server (when its
//! pid is given) and the load generator used while counting: a server well under 100
//! means the load generator, not the server, was the limit.
//!
//! The measuring clients speak the protocols directly on the socket, with frames and
//! requests prepared once, so that they cost far less than the servers they measure; the
//! `check` step uses tokio-tungstenite to confirm the servers answer a real client.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// The text each WebSocket connection sends, 32 bytes.
const TEXT: &[u8; 32] = b"erlen live bench: echo this back";
/// The client's masking key; any key will do, and a fixed one keeps the client cheap.
const MASK: [u8; 4] = [0x1f, 0x2e, 0x3d, 0x4c];
/// Events asked of each SSE stream: more than any run reads.
const ENDLESS: u64 = 1 << 40;
/// The data of each event, as the server sends it.
const PAYLOAD: &str = "0123456789abcdef0123456789abcdef";
const WARM_UP: Duration = Duration::from_secs(1);

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let usage =
        || io::Error::new(io::ErrorKind::InvalidInput, "usage: load check|ws|sse ADDR [CONNS SECS [PID]]");
    let (Some(mode), Some(addr)) = (arg(0), arg(1)) else { return Err(usage()) };
    let conns: usize = arg(2).map_or(Ok(32), str::parse).map_err(|_| usage())?;
    let secs: f64 = arg(3).map_or(Ok(4.0), str::parse).map_err(|_| usage())?;
    let server: Option<u32> = arg(4).map(str::parse).transpose().map_err(|_| usage())?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let addr = addr.to_string();
    rt.block_on(async move {
        match mode {
            "check" => check(&addr).await,
            "ws" | "sse" => {
                let counts = Arc::new(Counts::new(conns));
                for i in 0..conns {
                    let stream = TcpStream::connect(&addr).await?;
                    stream.set_nodelay(true)?;
                    let counts = counts.clone();
                    let addr = addr.clone();
                    if mode == "ws" {
                        let stream = ws_handshake(stream, &addr).await?;
                        tokio::spawn(async move { report(ws_echo_loop(stream, &counts.0[i]).await) });
                    } else {
                        tokio::spawn(async move { report(sse_loop(stream, &addr, &counts.0[i]).await) });
                    }
                }
                let rate = measure(&counts, Duration::from_secs_f64(secs), server).await;
                println!(
                    "{mode} rate={:.0} conns={conns} secs={secs:.2} server_cpu={} load_cpu={:.0}",
                    rate.per_second,
                    rate.server_cpu.map_or("?".to_string(), |c| format!("{c:.0}")),
                    rate.load_cpu
                );
                Ok(())
            }
            _ => Err(usage()),
        }
    })
}

/// One counter per connection, so that connections do not share a cache line's writes
/// more than they must.
struct Counts(Vec<AtomicU64>);

impl Counts {
    fn new(n: usize) -> Counts {
        Counts((0..n).map(|_| AtomicU64::new(0)).collect())
    }

    fn total(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

fn report(outcome: io::Result<()>) {
    if let Err(e) = outcome {
        eprintln!("load: a connection ended: {e}");
    }
}

struct Rate {
    per_second: f64,
    server_cpu: Option<f64>,
    load_cpu: f64,
}

/// Warms up, then counts for `span`.
async fn measure(counts: &Counts, span: Duration, server: Option<u32>) -> Rate {
    tokio::time::sleep(WARM_UP).await;
    let (start, before) = (Instant::now(), counts.total());
    let (server_before, load_before) = (server.and_then(cpu_ticks), cpu_ticks_of("self"));
    tokio::time::sleep(span).await;
    let (elapsed, after) = (start.elapsed().as_secs_f64(), counts.total());
    let (server_after, load_after) = (server.and_then(cpu_ticks), cpu_ticks_of("self"));
    // Ticks are USER_HZ, 100 a second on Linux: ticks / seconds is a percentage.
    let percent = |before: Option<u64>, after: Option<u64>| Some((after? - before?) as f64 / elapsed);
    Rate {
        per_second: (after - before) as f64 / elapsed,
        server_cpu: percent(server_before, server_after),
        load_cpu: percent(load_before, load_after).unwrap_or(f64::NAN),
    }
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    cpu_ticks_of(&pid.to_string())
}

/// User and system time of a process, in ticks, from `/proc/PID/stat`.
fn cpu_ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, field 2, is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11); // field 14 is utime; `rest` starts at field 3
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads a response head, and gives what came after it.
async fn read_head(stream: &mut TcpStream, expect_status: &str) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(invalid("the server closed before answering".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !head.starts_with(&format!("HTTP/1.1 {expect_status}")) {
                return Err(invalid(format!("expected {expect_status}, got: {head}")));
            }
            return Ok((head, buf[end + 4..].to_vec()));
        }
    }
}

async fn ws_handshake(mut stream: TcpStream, addr: &str) -> io::Result<TcpStream> {
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let (_, rest) = read_head(&mut stream, "101").await?;
    if !rest.is_empty() {
        return Err(invalid("the server spoke before the client".into()));
    }
    Ok(stream)
}

/// Sends the text message and reads its echo, until the process ends.
async fn ws_echo_loop(mut stream: TcpStream, count: &AtomicU64) -> io::Result<()> {
    // A final text frame, masked as a client's must be; the echo comes back unmasked.
    let mut frame = vec![0x81, 0x80 | TEXT.len() as u8];
    frame.extend_from_slice(&MASK);
    frame.extend(TEXT.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    let mut expected = vec![0x81, TEXT.len() as u8];
    expected.extend_from_slice(TEXT);
    // Reading into a larger buffer than the echo lets tokio see the short read and wait
    // for readiness at once, rather than try a read that finds nothing first.
    let mut echo = vec![0u8; 4 * expected.len()];
    loop {
        stream.write_all(&frame).await?;
        let mut got = 0;
        while got < expected.len() {
            let n = stream.read(&mut echo[got..]).await?;
            if n == 0 {
                return Err(invalid("the server closed the WebSocket".into()));
            }
            got += n;
        }
        if echo[..got] != expected[..] {
            return Err(invalid(format!("unexpected echo {:?}", &echo[..got])));
        }
        count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads an endless event stream and counts its events.
async fn sse_loop(mut stream: TcpStream, addr: &str, count: &AtomicU64) -> io::Result<()> {
    let request =
        format!("GET /sse?n={ENDLESS} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let (head, rest) = read_head(&mut stream, "200").await?;
    let mut body = Body::new(&head);
    let mut events = EventCounter::default();
    body.feed(&rest, &mut |data| events.feed(data));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(invalid("the event stream ended early".into()));
        }
        body.feed(&buf[..n], &mut |data| events.feed(data));
        count.store(events.events, Ordering::Relaxed);
    }
}

/// Counts events: each ends with an empty line, and the servers end lines with `\n`.
#[derive(Default)]
struct EventCounter {
    events: u64,
    last: u8,
}

impl EventCounter {
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' && self.last == b'\n' {
                self.events += 1;
                self.last = 0;
            } else {
                self.last = b;
            }
        }
    }
}

/// A response body: chunked (as both servers send a stream) or up to the close.
enum Body {
    Raw,
    /// Reading a chunk's size, in hex.
    Size(u64),
    /// Skipping the rest of a size line (extensions, `\r\n`).
    SizeLine(u64),
    /// Inside a chunk, with this many bytes to go.
    Data(u64),
    /// Skipping the `\r\n` after a chunk.
    DataEnd,
    Done,
}

impl Body {
    fn new(head: &str) -> Body {
        let chunked = head.lines().any(|line| {
            let line = line.to_ascii_lowercase();
            line.starts_with("transfer-encoding:") && line.contains("chunked")
        });
        if chunked { Body::Size(0) } else { Body::Raw }
    }

    /// Decodes `input`, giving the body's bytes to `out`.
    fn feed(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) {
        while !input.is_empty() {
            match *self {
                Body::Raw => {
                    out(input);
                    return;
                }
                Body::Size(size) => {
                    match (input[0] as char).to_digit(16) {
                        Some(digit) => {
                            *self = Body::Size(size.saturating_mul(16).saturating_add(u64::from(digit)));
                            input = &input[1..];
                        }
                        None => *self = Body::SizeLine(size),
                    };
                }
                Body::SizeLine(size) => match after_line(input) {
                    Some(rest) => {
                        input = rest;
                        *self = if size == 0 { Body::Done } else { Body::Data(size) };
                    }
                    None => return,
                },
                Body::Data(left) => {
                    let take = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out(&input[..take]);
                    input = &input[take..];
                    let left = left - take as u64;
                    *self = if left == 0 { Body::DataEnd } else { Body::Data(left) };
                }
                Body::DataEnd => match after_line(input) {
                    Some(rest) => {
                        input = rest;
                        *self = Body::Size(0);
                    }
                    None => return,
                },
                Body::Done => return,
            }
        }
    }
}

/// What follows the next `\n`, if there is one.
fn after_line(input: &[u8]) -> Option<&[u8]> {
    input.iter().position(|&b| b == b'\n').map(|i| &input[i + 1..])
}

/// Confirms with a real WebSocket client and a whole SSE response that the server at
/// `addr` answers as the benchmark expects.
async fn check(addr: &str) -> io::Result<()> {
    let fail = |what: String| io::Error::other(format!("check of {addr}: {what}"));
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .map_err(|e| fail(format!("WebSocket handshake: {e}")))?;
    for msg in [Message::text("hello"), Message::binary(vec![0u8, 1, 2, 255])] {
        ws.send(msg.clone()).await.map_err(|e| fail(e.to_string()))?;
        match ws.next().await {
            Some(Ok(echo)) if echo == msg => {}
            other => return Err(fail(format!("sent {msg:?}, got {other:?}"))),
        }
    }
    ws.close(None).await.map_err(|e| fail(e.to_string()))?;

    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET /sse?n=3 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let (head, rest) = read_head(&mut stream, "200").await?;
    if !head.to_ascii_lowercase().contains("content-type: text/event-stream") {
        return Err(fail(format!("not an event stream: {head}")));
    }
    let mut raw = rest;
    stream.read_to_end(&mut raw).await?;
    let mut body = Vec::new();
    Body::new(&head).feed(&raw, &mut |data| body.extend_from_slice(data));
    let expected = format!("data: {PAYLOAD}\n\n").repeat(3);
    if body != expected.as_bytes() {
        return Err(fail(format!("SSE body {:?}, expected {expected:?}", String::from_utf8_lossy(&body))));
    }
    let mut events = EventCounter::default();
    events.feed(&body);
    println!("check {addr}: WebSocket echo (text, binary) and SSE ({} events) as expected", events.events);
    Ok(())
}
