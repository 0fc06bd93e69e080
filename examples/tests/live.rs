//! The live example: uploads (small and spooled), the files served back, the log over
//! Server-Sent Events (read event by event, resumed with `Last-Event-ID`), and the chat,
//! through the test client and over real sockets on both backends.

use std::time::Duration;

use erlen::Message;
use erlen::prelude::*;
use erlen_examples::live::Stored;

const BOUNDARY: &str = "live-test";

/// A temporary uploads folder, removed at the end.
struct Uploads(std::path::PathBuf);

impl Uploads {
    fn new(name: &str) -> Uploads {
        let dir = std::env::temp_dir().join(format!("erlen-live-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Uploads(dir)
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A multipart body with the files `(filename, bytes)` in the field `file`, as the page's
/// form sends them.
fn form(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, data) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// Reads events off an SSE body until one's data contains `needle`; returns the
/// events' (id, data) so far.
fn events_until(body: &mut erlen::TestBodyStream, needle: &str) -> Vec<(u64, String)> {
    let mut text = String::new();
    loop {
        let piece = body.next_blocking().expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&piece));
        let events = parse(&text);
        if events.iter().any(|(_, data)| data.contains(needle)) {
            return events;
        }
    }
}

/// The complete events in `text`, as (id, data).
fn parse(text: &str) -> Vec<(u64, String)> {
    let complete = &text[..text.rfind("\n\n").map_or(0, |end| end + 2)];
    complete
        .split("\n\n")
        .filter_map(|event| {
            let id = event.lines().find_map(|l| l.strip_prefix("id: "))?.parse().ok()?;
            let data = event.lines().filter_map(|l| l.strip_prefix("data: ")).collect::<Vec<_>>().join("\n");
            Some((id, data))
        })
        .collect()
}

#[test]
fn uploads_are_kept_listed_served_and_logged() {
    let uploads = Uploads::new("client");
    let client = erlen_examples::live::app(&uploads.0).expect("the app").test_client();
    let mut log = client.get("/events").send().into_stream();
    let started = events_until(&mut log, "the server started");
    assert_eq!(started.len(), 1);

    let small = b"hello".to_vec();
    let large: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 253) as u8).collect();
    let resp = client
        .post("/upload")
        .header("content-type", &content_type())
        .body(form(&[("../notes.txt", &small), ("big photo.raw", &large)]))
        .send();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let stored: Vec<Stored> = resp.json();
    assert_eq!(
        stored,
        [
            Stored { name: "notes.txt".into(), size: 5 },
            Stored { name: "big_photo.raw".into(), size: 3 << 20 }
        ]
    );
    assert_eq!(client.get("/files/notes.txt").send().bytes(), &small[..]);
    assert_eq!(client.get("/files/big_photo.raw").send().bytes(), &large[..]);
    let page = client.get("/").send().text();
    assert!(page.contains(r#"<a href="/files/big_photo.raw">big_photo.raw</a> (3145728 bytes)"#), "{page}");

    let events = events_until(&mut log, "uploaded big_photo.raw");
    let lines: Vec<_> = events.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(lines, ["uploaded notes.txt (5 bytes)", "uploaded big_photo.raw (3145728 bytes)"]);

    // A browser that reconnects after the first upload gets only what it missed.
    let seen = events[0].0;
    let mut resumed = client.get("/events").header("last-event-id", &seen.to_string()).send().into_stream();
    let missed = events_until(&mut resumed, "uploaded big_photo.raw");
    assert_eq!(
        missed.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>(),
        ["uploaded big_photo.raw (3145728 bytes)"]
    );

    let empty =
        client.post("/upload").header("content-type", &content_type()).body(form(&[("", b"")])).send();
    assert_eq!(empty.status(), 400);
    let not_a_form = client.post("/upload").body("hello").send();
    assert_eq!(not_a_form.status(), 415);
}

#[test]
fn the_chat_is_heard_by_everyone_and_logged() {
    let uploads = Uploads::new("chat");
    let client = erlen_examples::live::app(&uploads.0).expect("the app").test_client();
    let mut log = client.get("/events").send().into_stream();
    let mut ada = client.websocket("/chat?name=ada").connect().expect("ada joins");
    let mut bob = client.websocket("/chat?name=bob").connect().expect("bob joins");
    events_until(&mut log, "bob joined the chat");
    ada.send_text("hi bob").expect("ada speaks");
    assert_eq!(bob.receive(), Some(Message::text("ada: hi bob")));
    assert_eq!(ada.receive(), Some(Message::text("ada: hi bob")));
    drop(ada);
    events_until(&mut log, "ada left the chat");
    assert_eq!(client.websocket("/chat").connect().unwrap_err().status(), 400, "a name is required");
}

#[tokio::test]
async fn over_real_sockets_on_both_backends() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let uploads = Uploads::new(&format!("{backend:?}").replace([' ', '{', '}', ':'], ""));
        let app = erlen_examples::live::app(&uploads.0).expect("the app");
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app).expect("the server starts");
        let base = format!("http://{}", server.addr());
        let http = reqwest::Client::new();

        let log = http.get(format!("{base}/events")).send().await.expect("the log opens");
        assert_eq!(log.headers()["content-type"], "text/event-stream");
        let mut log = log;

        let data: Vec<u8> = (0..2 << 20).map(|i: u32| (i % 241) as u8).collect();
        let resp = http
            .post(format!("{base}/upload"))
            .header("content-type", content_type())
            .body(form(&[("data.bin", &data)]))
            .send()
            .await
            .expect("the upload is answered");
        assert_eq!(resp.status(), 200, "{backend:?}");
        let served = http.get(format!("{base}/files/data.bin")).send().await.expect("served").bytes().await;
        assert_eq!(served.expect("the file").as_ref(), &data[..], "{backend:?}");

        let mut text = String::new();
        let heard = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(piece) = log.chunk().await.expect("a piece of the log") {
                text.push_str(&String::from_utf8_lossy(&piece));
                if text.contains("uploaded data.bin (2097152 bytes)") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(heard, Ok(true), "{backend:?}: the log tells of the upload: {text:?}");
        drop(log);
        server.shutdown();
    }
}
