//! The write timeout: a client that stops reading a large response (HTTP/1), or does not
//! open its flow-control window (HTTP/2), has its connection closed once the response has
//! waited `Server::write_timeout` for it, on both backends; a client that reads slowly but
//! steadily is served to the end.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use erlen::prelude::*;

/// 64 MiB, generated as it is sent: what a stalled client holds is bounded by the
/// server's buffers, not the response's size.
const BIG: usize = 64 << 20;
const CHUNK: usize = 64 << 10;

#[get("/big")]
fn big() -> Body {
    Body::from_iter((0..BIG / CHUNK).map(|_| vec![b'x'; CHUNK]))
}

/// 8 MiB held in memory (one allocation shared by every response).
#[get("/full")]
fn full() -> Bytes {
    static BODY: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    BODY.get_or_init(|| Bytes::from(vec![b'y'; 8 << 20])).clone()
}

fn server(backend: Backend, write_timeout: Duration) -> ServerHandle {
    Server::bind("127.0.0.1:0")
        .backend(backend)
        .write_timeout(write_timeout)
        .spawn(App::new().register(handlers![big, full]))
        .expect("the server starts")
}

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 4 }];

/// Sends a GET for `path` and returns the connection, unread.
fn request(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    stream
}

/// Reads until the server closes the connection; the bytes read, or `None` if it was
/// still open after the read timeout.
fn read_to_close(stream: &mut TcpStream) -> Option<usize> {
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(total),
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(total),
            Err(_) => return None,
        }
    }
}

#[test]
fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    for backend in BACKENDS {
        let server = server(backend, Duration::from_millis(1500));
        for path in ["/big", "/full"] {
            let mut stream = request(server.addr(), path);
            // The client reads nothing: the kernel's buffers fill and the response waits.
            std::thread::sleep(Duration::from_millis(4000));
            let read = read_to_close(&mut stream);
            let read = read.unwrap_or_else(|| panic!("{backend:?} {path}: the connection is still open"));
            let whole = if path == "/big" { BIG } else { 8 << 20 };
            assert!(read < whole, "{backend:?} {path}: {read} bytes, the whole response");
        }
        // The server goes on serving.
        let mut ok = request(server.addr(), "/full");
        let mut head = [0u8; 12];
        ok.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200", "{backend:?}");
    }
}

#[test]
fn a_client_that_reads_slowly_but_steadily_is_served_to_the_end() {
    for backend in BACKENDS {
        let server = server(backend, Duration::from_millis(1500));
        let mut stream = request(server.addr(), "/full");
        let started = Instant::now();
        let mut total = 0;
        let mut buf = vec![0u8; 256 << 10];
        // 256 KiB every 100 ms, 3 s for the 8 MiB. The kernel's socket buffers (megabytes
        // on loopback) let the server write only when a good part of them is free, so
        // the server sees progress every few hundred milliseconds, well within 1.5 s.
        while total < 8 << 20 {
            std::thread::sleep(Duration::from_millis(100));
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(e) => panic!("{backend:?}: {e} after {total} bytes"),
            }
        }
        assert!(total >= 8 << 20, "{backend:?}: cut after {total} bytes in {:?}", started.elapsed());
    }
}

/// An HTTP/2 client that never releases flow-control capacity stops the response at its
/// window; the connection is closed after the write timeout.
#[test]
fn an_http2_client_that_keeps_its_window_shut_is_closed() {
    for backend in BACKENDS {
        let server = server(backend, Duration::from_millis(500));
        let addr = server.addr();
        let closed_after = erlen::block_on(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connects");
            let (mut client, conn) = h2::client::handshake(tcp).await.expect("an HTTP/2 handshake");
            let started = Instant::now();
            let driver = tokio::spawn(async move {
                let _ = conn.await;
                started.elapsed()
            });
            let req = http::Request::get(format!("http://{addr}/big")).body(()).unwrap();
            let (response, _) = client.send_request(req, true).expect("a stream");
            let response = response.await.expect("a response head");
            assert_eq!(response.status(), 200);
            // The body is never read, so its capacity is never released.
            let _body = response.into_body();
            tokio::time::timeout(Duration::from_secs(10), driver).await
        });
        let closed_after =
            closed_after.unwrap_or_else(|_| panic!("{backend:?}: still open after 10 s")).unwrap();
        assert!(closed_after < Duration::from_secs(5), "{backend:?}: closed after {closed_after:?}");
    }
}
