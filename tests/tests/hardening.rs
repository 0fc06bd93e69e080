//! Hostile and careless clients over real sockets, on both backends: redirect abuse,
//! missing or doubled `Host`.

use std::net::SocketAddr;

use erlen::prelude::*;
use erlen::{Backend, Server, ServerHandle};
use erlen_tests::raw;

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 4 }];

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

fn serve(server: Server, app: App) -> ServerHandle {
    server.spawn(app).expect("the test server starts")
}

/// An HTTP/2 client connection (prior knowledge) and the task driving it, which ends
/// when the server closes the connection.
async fn h2_client(addr: SocketAddr) -> (h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<()>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let (client, conn) = h2::client::handshake(tcp).await.expect("an HTTP/2 handshake");
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    (client, driver)
}

fn h2_get(addr: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::get(format!("http://{addr}{path}")).body(()).expect("a valid request")
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
            assert_eq!(resp.await.unwrap().status(), 200, "{backend:?}");
        });
    }
}
