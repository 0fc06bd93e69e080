//! The write timeout's probe: 500 clients each ask for a 64 MiB response and never read
//! it. The server's memory stays bounded while they hang on (what each holds is the
//! server's buffers, not the response), and is given back once the write timeout has
//! closed them. Prints the process's RSS over time, on each backend.
//!
//! ```sh
//! cargo run --release -p erlen-tests --bin write_probe            # 500 clients, 5 s timeout
//! PROBE_CLIENTS=200 PROBE_TIMEOUT_S=10 cargo run --release -p erlen-tests --bin write_probe
//! ```
//!
//! Server and clients share the process; a client holds only its socket (the kernel's
//! buffers, which RSS does not count), so the RSS is the server's.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use erlen::prelude::*;

const BIG: usize = 64 << 20;
const CHUNK: usize = 64 << 10;

#[get("/big")]
fn big() -> Body {
    Body::from_iter((0..BIG / CHUNK).map(|_| vec![b'x'; CHUNK]))
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let clients = env("PROBE_CLIENTS", 500) as usize;
    let timeout = Duration::from_secs(env("PROBE_TIMEOUT_S", 5));
    println!(
        "{clients} clients, each asking for {} MiB and reading nothing; write timeout {timeout:?}",
        BIG >> 20
    );
    println!();
    println!(
        "| backend | RSS before MiB | RSS while they hang on MiB (peak) | per client KiB | closed by the timeout | RSS after MiB |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for backend in [Backend::Async, Backend::Threaded { workers: 16 }] {
        let server = Server::bind("127.0.0.1:0")
            .backend(backend)
            .write_timeout(timeout)
            .max_connections(clients + 64)
            .spawn(App::new().register(handlers![big]))?;
        std::thread::sleep(Duration::from_millis(200));
        let before = rss_mib();
        let mut streams = Vec::with_capacity(clients);
        for _ in 0..clients {
            let mut stream = TcpStream::connect(server.addr())?;
            write!(stream, "GET /big HTTP/1.1\r\nhost: x\r\n\r\n")?;
            streams.push(stream);
        }
        // While they hang on: sample until the timeout has passed.
        let started = Instant::now();
        let mut peak = before;
        while started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(250));
            peak = peak.max(rss_mib());
        }
        // Then count the connections the server closed. A response whose generator had to
        // wait for a blocking thread (tokio's pool has 512) starts to wait for its
        // client later, and is closed a timeout later.
        std::thread::sleep(Duration::from_secs(1));
        let closed = streams.iter().filter(|s| closed_by_server(s, timeout * 2)).count();
        let after = rss_mib();
        let per = (peak - before) * 1024.0 / clients as f64;
        println!("| {backend:?} | {before:.1} | {peak:.1} | {per:.0} | {closed}/{clients} | {after:.1} |");
        drop(streams);
        server.shutdown();
    }
    Ok(())
}

/// Whether the server closed `stream` (within `wait` of silence): its data read to the
/// end, then EOF or a reset.
fn closed_by_server(stream: &TcpStream, wait: Duration) -> bool {
    use std::io::Read;
    let mut stream = stream;
    let _ = stream.set_read_timeout(Some(wait));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}
