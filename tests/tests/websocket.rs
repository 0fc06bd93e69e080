//! WebSockets over real sockets on both backends, with a real client (tokio-tungstenite):
//! echo of text, binary, ping/pong and close codes for sync and async handlers; route
//! parameters, state and an auth hook on the upgrade request; 1011 for failing handlers;
//! 1001 at shutdown; 1,000 idle sockets held by the async backend; and the test client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen::{Message, WebSocketError};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

#[websocket("/async/echo")]
async fn async_echo(mut ws: WebSocket) -> Result<(), WebSocketError> {
    while let Some(msg) = ws.recv().await {
        match msg {
            Message::Text(text) if text == "close" => return ws.close(4000, "bye").await,
            Message::Text(_) | Message::Binary(_) => ws.send(msg).await?,
            _ => {}
        }
    }
    Ok(())
}

#[websocket("/sync/echo")]
fn sync_echo(mut ws: BlockingWebSocket) -> Result<(), WebSocketError> {
    while let Some(msg) = ws.receive() {
        match msg {
            Message::Text(text) if text == "close" => return ws.close(4000, "bye"),
            Message::Text(_) | Message::Binary(_) => ws.send(msg)?,
            _ => {}
        }
    }
    Ok(())
}

#[websocket("/async/fail")]
async fn async_fail(mut ws: WebSocket) -> Result<(), std::io::Error> {
    let _ = ws.recv().await;
    Err(std::io::Error::other("the database is down"))
}

#[websocket("/sync/panic")]
fn sync_panic(mut ws: BlockingWebSocket) {
    let _ = ws.receive();
    panic!("a bug in the handler");
}

#[derive(Clone)]
struct Greeting(&'static str);

#[websocket("/rooms/<int:room>")]
async fn room(mut ws: WebSocket, room: i64, State(greeting): State<Greeting>) {
    let _ = ws.send_text(format!("{} {room}", greeting.0)).await;
    while ws.recv().await.is_some() {}
}

#[websocket("/sync/rooms/<name>")]
fn sync_room(mut ws: BlockingWebSocket, name: String) {
    let _ = ws.send_text(format!("room {name}"));
    while ws.receive().is_some() {}
}

#[get("/link")]
fn room_link() -> String {
    url_for!(room, room = 7)
}

#[get("/ping")]
fn ping() -> &'static str {
    "pong"
}

#[before_request]
fn auth(req: &Request) -> Option<Response> {
    let guarded = req.path().starts_with("/rooms") || req.path().starts_with("/sync/rooms");
    let allowed = req.header("authorization") == Some("Bearer secret");
    (guarded && !allowed).then(|| (StatusCode::UNAUTHORIZED, "log in first").into_response())
}

fn app() -> App {
    App::new().state(Greeting("welcome to room")).register(handlers![
        async_echo, sync_echo, async_fail, sync_panic, room, sync_room, room_link, ping, auth
    ])
}

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 2 }];

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: SocketAddr, path: &str, auth: Option<&str>) -> Result<Client, tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    if let Some(auth) = auth {
        request.headers_mut().insert("authorization", auth.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(ws, _)| ws)
}

/// The next message, within five seconds.
async fn next(ws: &mut Client) -> Option<WsMessage> {
    tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("a message within 5 s")
        .map(|m| m.expect("a valid message"))
}

fn close_code(msg: Option<WsMessage>) -> u16 {
    match msg {
        Some(WsMessage::Close(Some(frame))) => u16::from(frame.code),
        other => panic!("expected a close frame with a code, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_of_text_binary_ping_and_close_codes_for_sync_and_async_handlers() {
    for backend in BACKENDS {
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).unwrap();
        for path in ["/async/echo", "/sync/echo"] {
            let what = format!("{backend:?} {path}");
            let mut ws = connect(server.addr(), path, None).await.unwrap();
            ws.send(WsMessage::text("hello")).await.unwrap();
            assert_eq!(next(&mut ws).await, Some(WsMessage::text("hello")), "{what}");
            ws.send(WsMessage::binary(vec![0u8, 1, 255])).await.unwrap();
            assert_eq!(next(&mut ws).await, Some(WsMessage::binary(vec![0u8, 1, 255])), "{what}");
            ws.send(WsMessage::Ping("are you there".into())).await.unwrap();
            assert_eq!(next(&mut ws).await, Some(WsMessage::Pong("are you there".into())), "{what}");
            // The handler closes with its own code.
            ws.send(WsMessage::text("close")).await.unwrap();
            assert_eq!(close_code(next(&mut ws).await), 4000, "{what}");

            // The client closes with its code; the server answers with the same.
            let mut ws = connect(server.addr(), path, None).await.unwrap();
            let frame = CloseFrame { code: 4321.into(), reason: "done".into() };
            ws.send(WsMessage::Close(Some(frame))).await.unwrap();
            assert_eq!(close_code(next(&mut ws).await), 4321, "{what}");
            assert!(next(&mut ws).await.is_none(), "{what}: the connection ends after the close");
        }
        server.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_panicking_handler_closes_with_1011() {
    for backend in BACKENDS {
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).unwrap();
        for path in ["/async/fail", "/sync/panic"] {
            let mut ws = connect(server.addr(), path, None).await.unwrap();
            ws.send(WsMessage::text("go")).await.unwrap();
            assert_eq!(close_code(next(&mut ws).await), 1011, "{backend:?} {path}");
        }
        // The server goes on serving.
        let mut ws = connect(server.addr(), "/async/echo", None).await.unwrap();
        ws.send(WsMessage::text("still here")).await.unwrap();
        assert_eq!(next(&mut ws).await, Some(WsMessage::text("still here")));
        server.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_params_state_and_an_auth_hook_apply_to_the_upgrade() {
    for backend in BACKENDS {
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).unwrap();
        for (path, greeting) in [("/rooms/7", "welcome to room 7"), ("/sync/rooms/rust", "room rust")] {
            let refused = connect(server.addr(), path, None).await.unwrap_err();
            match refused {
                tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 401, "{backend:?} {path}"),
                other => panic!("expected a refused upgrade, got {other}"),
            }
            let mut ws = connect(server.addr(), path, Some("Bearer secret")).await.unwrap();
            assert_eq!(next(&mut ws).await, Some(WsMessage::text(greeting)), "{backend:?}");
        }
        match connect(server.addr(), "/nowhere", None).await.unwrap_err() {
            tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 404),
            other => panic!("expected a 404, got {other}"),
        }
        // A plain GET to a WebSocket URL is told what to do.
        let resp = reqwest::get(format!("http://{}/async/echo", server.addr())).await.unwrap();
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("connect with a WebSocket client"));
        server.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_open_sockets_with_1001() {
    for backend in BACKENDS {
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).unwrap();
        let mut sockets = Vec::new();
        for path in ["/async/echo", "/sync/echo"] {
            let mut ws = connect(server.addr(), path, None).await.unwrap();
            ws.send(WsMessage::text("hi")).await.unwrap();
            assert_eq!(next(&mut ws).await, Some(WsMessage::text("hi")));
            sockets.push(ws);
        }
        let started = Instant::now();
        tokio::task::spawn_blocking(move || server.shutdown()).await.unwrap();
        for ws in &mut sockets {
            let msg = next(ws).await;
            let Some(WsMessage::Close(Some(frame))) = &msg else { panic!("{backend:?}: got {msg:?}") };
            assert_eq!(u16::from(frame.code), 1001, "{backend:?}");
            assert_eq!(frame.reason.as_str(), "the server is shutting down");
        }
        assert!(started.elapsed() < Duration::from_secs(3), "{backend:?}: took {:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_sockets_hold_no_worker_of_the_threaded_backend() {
    let server = Server::bind("127.0.0.1:0").backend(Backend::Threaded { workers: 1 }).spawn(app()).unwrap();
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(server.addr(), "/sync/echo", None).await.unwrap();
        ws.send(WsMessage::text("hi")).await.unwrap();
        assert_eq!(next(&mut ws).await, Some(WsMessage::text("hi")));
        sockets.push(ws);
    }
    let resp = reqwest::get(format!("http://{}/ping", server.addr())).await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "pong", "the one worker is free while three sockets are open");
    tokio::task::spawn_blocking(move || server.shutdown()).await.unwrap();
}

/// The resident set size of this process (server and clients), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A bare client: a TCP stream that did the handshake by hand, so that the clients add
/// next to nothing to the process's memory.
fn open_raw(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET /async/echo HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream
}

#[test]
fn a_thousand_idle_sockets_on_the_async_backend() {
    const SOCKETS: usize = 1000;
    let server = Server::bind("127.0.0.1:0").spawn(app()).unwrap();
    let addr = server.addr();
    drop(open_raw(addr)); // warm up the runtime and the allocator
    std::thread::sleep(Duration::from_millis(100));
    let before = rss_kib();
    let started = Instant::now();
    let mut sockets: Vec<TcpStream> = (0..SOCKETS).map(|_| open_raw(addr)).collect();
    let opened = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let after = rss_kib();
    // Every one is alive: a masked text frame "x" comes back as an unmasked one.
    for stream in &mut sockets {
        stream.write_all(&[0x81, 0x81, 1, 2, 3, 4, b'x' ^ 1]).unwrap();
        let mut echo = [0u8; 3];
        stream.read_exact(&mut echo).unwrap();
        assert_eq!(echo, [0x81, 1, b'x']);
    }
    let total = started.elapsed();
    let per_socket = after.saturating_sub(before) as f64 / SOCKETS as f64;
    println!(
        "{SOCKETS} idle WebSockets: RSS {before} KiB before, {after} KiB after (+{per_socket:.1} KiB a socket); \
         opened in {opened:?}, all echoed within {total:?}"
    );
    assert!(total < Duration::from_secs(60), "took {total:?}");
    assert!(per_socket < 256.0, "{per_socket:.1} KiB a socket");
    drop(sockets);
    server.shutdown();
}

// The test client, blocking and async.

#[test]
fn the_test_client_opens_sockets_and_sees_refusals() {
    let client = app().test_client();
    for path in ["/async/echo", "/sync/echo"] {
        let mut ws = client.websocket(path).connect().unwrap();
        ws.send_text("hello").unwrap();
        assert_eq!(ws.receive(), Some(Message::text("hello")), "{path}");
        ws.send_binary(vec![1u8, 2]).unwrap();
        assert_eq!(ws.receive(), Some(Message::binary(vec![1u8, 2])), "{path}");
        ws.send(Message::Ping("p".into())).unwrap();
        assert_eq!(ws.receive(), Some(Message::Pong("p".into())), "{path}");
        ws.send_text("close").unwrap();
        let Some(Message::Close(Some(frame))) = ws.receive() else { panic!("{path}: expected a close") };
        assert_eq!((frame.code, frame.reason.as_str()), (4000, "bye"));
        assert_eq!(ws.receive(), None);
        assert!(ws.send_text("late").unwrap_err().is_closed());
    }
    let refused = client.websocket("/rooms/1").connect().unwrap_err();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.text(), "log in first");
    assert_eq!(client.websocket("/nowhere").connect().unwrap_err().status(), 404);
    let old = client.websocket("/async/echo").header("sec-websocket-version", "8").connect().unwrap_err();
    assert_eq!((old.status().as_u16(), old.header("sec-websocket-version")), (426, Some("13")));
    let mut ws = client.websocket("/rooms/3").header("authorization", "Bearer secret").connect().unwrap();
    assert_eq!(ws.receive(), Some(Message::text("welcome to room 3")));
    assert_eq!(client.get("/link").send().text(), "/rooms/7");
    let mut failing = client.websocket("/sync/panic").connect().unwrap();
    failing.send_text("go").unwrap();
    let Some(Message::Close(Some(frame))) = failing.receive() else { panic!("expected a close") };
    assert_eq!(frame.code, 1011);
}

#[tokio::test]
async fn the_test_client_works_in_async_tests() {
    let client = app().test_client();
    let mut ws = client.websocket("/sync/echo").await.unwrap();
    ws.send_text_async("hi").await.unwrap();
    assert_eq!(ws.receive_async().await, Some(Message::text("hi")));
    ws.close_async(1000, "").await.unwrap();
    assert_eq!(ws.receive_async().await, None);
    let refused = client.websocket("/sync/rooms/x").await.unwrap_err();
    assert_eq!(refused.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_connection_watchdog_leaves_open_sockets_alone() {
    for backend in BACKENDS {
        let server = Server::bind("127.0.0.1:0")
            .backend(backend)
            .header_read_timeout(Duration::from_millis(200))
            .spawn(app())
            .unwrap();
        let mut ws = connect(server.addr(), "/async/echo", None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(800)).await;
        ws.send(WsMessage::text("still open")).await.unwrap();
        assert_eq!(next(&mut ws).await, Some(WsMessage::text("still open")), "{backend:?}");
        tokio::task::spawn_blocking(move || server.shutdown()).await.unwrap();
    }
}

/// What the slow handler did, in order, for the shutdown test.
static SLOW_DONE: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

#[websocket("/slow/close")]
async fn slow_close(mut ws: WebSocket) {
    while ws.recv().await.is_some() {}
    // The server is going away (or the client left): some cleanup that takes a while.
    tokio::time::sleep(Duration::from_millis(400)).await;
    SLOW_DONE.lock().unwrap().push("cleaned up");
}

/// An upgraded WebSocket is a connection: it counts toward `max_connections` until it
/// closes, and a graceful shutdown sends it 1001 and waits for its handler to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_count_as_connections_and_shutdown_waits_for_their_handlers() {
    for backend in BACKENDS {
        let app = || App::new().register(handlers![async_echo, slow_close, ping]);
        let server = Server::bind("127.0.0.1:0").backend(backend).max_connections(1).spawn(app()).unwrap();
        let addr = server.addr();
        let mut ws = connect(addr, "/async/echo", None).await.unwrap();
        ws.send(WsMessage::text("hi")).await.unwrap();
        assert_eq!(next(&mut ws).await, Some(WsMessage::text("hi")));
        // The socket holds the one place: a request on a new connection waits.
        let waiting = tokio::spawn(async move { reqwest::get(format!("http://{addr}/ping")).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !waiting.is_finished(),
            "{backend:?}: a second connection was served while the socket is open"
        );
        ws.close(None).await.unwrap();
        let served = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        let pong = served.expect("served once the socket closed").unwrap().unwrap().text().await.unwrap();
        assert_eq!(pong, "pong", "{backend:?}");
        drop(server);

        SLOW_DONE.lock().unwrap().clear();
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).unwrap();
        let mut ws = connect(server.addr(), "/slow/close", None).await.unwrap();
        ws.send(WsMessage::text("hi")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The client answers the close frame while the server shuts down.
        let client = tokio::spawn(async move { next(&mut ws).await });
        let started = Instant::now();
        tokio::task::spawn_blocking(move || server.shutdown()).await.unwrap();
        assert_eq!(
            *SLOW_DONE.lock().unwrap(),
            ["cleaned up"],
            "{backend:?}: shutdown returned before the handler ended"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{backend:?}: took {:?}", started.elapsed());
        assert_eq!(close_code(client.await.unwrap()), 1001, "{backend:?}");
    }
}
