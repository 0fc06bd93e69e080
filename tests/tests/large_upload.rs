//! A 200 MiB upload, over a real socket on both backends, streamed by an async view
//! (`BodyStream`), a sync view (`BodyReader` copied to a file) and a multipart form
//! (spooled to disk), while the process's resident memory stays under 64 MiB.
//!
//! Its own test binary with one test, so that nothing else runs in the process: the
//! peak resident set (`VmHWM`) then measures the server (the client streams from a
//! 64 KiB buffer). The figures are printed; run with `--nocapture` to see them.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen::{Backend, FormLimits};
use futures::StreamExt;

const SIZE: u64 = 200 << 20;
const CEILING_MIB: u64 = 64;
const BOUNDARY: &str = "large-upload-boundary";

/// The bytes every upload carries: byte `i` is `i % 251`, so that a piece lost,
/// repeated or out of order is seen. Checked piece by piece with `memcmp`.
struct Pattern {
    table: Vec<u8>,
    pos: u64,
}

impl Pattern {
    const PERIOD: usize = 251;
    const SPAN: usize = 64 * 1024;

    fn new() -> Pattern {
        let table = (0..Self::PERIOD + Self::SPAN).map(|i| (i % Self::PERIOD) as u8).collect();
        Pattern { table, pos: 0 }
    }

    /// The next `n` (at most 64 KiB) bytes.
    fn next(&mut self, n: usize) -> &[u8] {
        let off = (self.pos % Self::PERIOD as u64) as usize;
        self.pos += n as u64;
        &self.table[off..off + n]
    }

    /// Whether `piece` is what comes next.
    fn check(&mut self, piece: &[u8]) -> bool {
        piece.chunks(Self::SPAN).all(|seg| {
            let off = (self.pos % Self::PERIOD as u64) as usize;
            self.pos += seg.len() as u64;
            seg == &self.table[off..off + seg.len()]
        })
    }
}

#[post("/stream", body_limit = "256 MiB", timeout = "5 min")]
async fn stream(mut body: BodyStream) -> Result<String, HttpError> {
    let mut pattern = Pattern::new();
    while let Some(piece) = body.next().await {
        if !pattern.check(&piece?) {
            return Err(abort(422).with_message(format!("wrong bytes near {}", pattern.pos)));
        }
    }
    Ok(pattern.pos.to_string())
}

#[post("/read", body_limit = "256 MiB", timeout = "5 min")]
fn read(mut body: BodyReader) -> Result<String, HttpError> {
    let mut file = tempfile_in_target()?;
    let n = std::io::copy(&mut body, &mut file.0)?;
    file.0.flush()?;
    let ok = verify(std::fs::File::open(&file.1)?)?;
    Ok(format!("{n} {ok}"))
}

#[post("/form", body_limit = "256 MiB", timeout = "5 min")]
fn form(mut form: Multipart) -> Result<String, HttpError> {
    let file = form.take_file("upload").ok_or_else(|| abort(400).with_message("no file"))?;
    let ok = verify(file.reader()?)?;
    Ok(format!("{} {ok} {}", file.len(), if file.is_in_memory() { "memory" } else { "disk" }))
}

/// A file to copy an upload to, removed when dropped.
struct Temp(std::fs::File, std::path::PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.1);
    }
}

fn tempfile_in_target() -> std::io::Result<Temp> {
    let path = std::env::temp_dir().join(format!("erlen-large-upload-{}", std::process::id()));
    Ok(Temp(std::fs::File::create(&path)?, path))
}

/// Reads `file` in 64 KiB pieces and checks it against the pattern.
fn verify(mut file: impl Read) -> std::io::Result<bool> {
    let mut pattern = Pattern::new();
    let mut buf = vec![0u8; Pattern::SPAN];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(pattern.pos == SIZE);
        }
        if !pattern.check(&buf[..n]) {
            return Ok(false);
        }
    }
}

/// A kernel figure of this process from /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or(0)
}

/// Posts `SIZE` bytes of the pattern (inside a multipart form when `multipart`) to
/// `path`, 64 KiB at a time, and returns the response's status and body.
fn upload(addr: SocketAddr, path: &str, multipart: bool) -> (u16, String) {
    let (prefix, suffix, content_type) = if multipart {
        (
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"big.bin\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            ),
            format!("\r\n--{BOUNDARY}--\r\n"),
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
    } else {
        (String::new(), String::new(), "application/octet-stream".to_string())
    };
    let len = prefix.len() as u64 + SIZE + suffix.len() as u64;
    let mut stream = std::net::TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(120))).expect("a read timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{prefix}"
    );
    stream.write_all(head.as_bytes()).expect("writes the head");
    let mut pattern = Pattern::new();
    let mut sent = 0;
    while sent < SIZE {
        let n = (SIZE - sent).min(Pattern::SPAN as u64) as usize;
        stream.write_all(pattern.next(n)).expect("the server reads the whole upload");
        sent += n as u64;
    }
    stream.write_all(suffix.as_bytes()).expect("writes the end");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn a_200_mib_upload_streams_in_bounded_memory_on_both_backends() {
    let before = status_kib("VmRSS:");
    let mut report = Vec::new();
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let app = App::new()
            .form_limits(FormLimits::default().spool_after(1 << 20))
            .register(handlers![stream, read, form]);
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app).expect("the server starts");
        for (path, multipart, expected) in [
            ("/stream", false, SIZE.to_string()),
            ("/read", false, format!("{SIZE} true")),
            ("/form", true, format!("{SIZE} true disk")),
        ] {
            let started = Instant::now();
            let (status, body) = upload(server.addr(), path, multipart);
            let took = started.elapsed();
            assert_eq!((status, body.as_str()), (200, expected.as_str()), "{backend:?} {path}");
            let line = format!(
                "{backend:?} {path}: 200 MiB in {:.1} s, process peak RSS so far {} MiB",
                took.as_secs_f64(),
                status_kib("VmHWM:") / 1024
            );
            println!("{line}");
            report.push(line);
        }
        server.shutdown();
    }
    let peak = status_kib("VmHWM:") / 1024;
    println!("RSS before the uploads {} MiB, peak {peak} MiB (ceiling {CEILING_MIB} MiB)", before / 1024);
    assert!(peak > 0, "VmHWM is readable on Linux");
    assert!(peak < CEILING_MIB, "peak RSS {peak} MiB >= {CEILING_MIB} MiB:\n{}", report.join("\n"));
}
