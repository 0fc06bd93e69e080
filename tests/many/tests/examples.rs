//! The examples that speak on channels, run as two instances (one per backend) sharing a
//! real `redis-server`: the chat example's room and the live example's log span them.
//! `#[ignore]`d as the other tests that need redis-server; `.ci/run` runs them.

#![cfg(unix)]

use std::time::Duration;

use erlen::prelude::*;
use erlen_tests::next_text;
use erlen_tests::outside::{RedisServer, TempDir};
use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(20);

fn two_instances(app: impl Fn() -> App) -> [erlen::ServerHandle; 2] {
    [Backend::Async, Backend::Threaded { workers: 4 }]
        .map(|backend| Server::bind("127.0.0.1:0").backend(backend).spawn(app()).expect("the server starts"))
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
fn the_chat_example_spans_instances() {
    let redis = RedisServer::start();
    let [a, b] = two_instances(|| erlen_examples::chat::app().redis(redis.url()));
    erlen::block_on(async {
        let open = |server: &erlen::ServerHandle, name: &str| {
            let url = format!("ws://{}/chat/{name}?token=letmein", server.addr());
            async move { tokio_tungstenite::connect_async(url).await.expect("the chat opens").0 }
        };
        let mut alice = open(&a, "alice").await;
        let mut bob = open(&b, "bob").await;
        assert_eq!(next_text(&mut alice).await, "welcome, alice");
        assert_eq!(next_text(&mut bob).await, "welcome, bob");
        alice.send(Message::text("hi bob")).await.unwrap();
        assert_eq!(next_text(&mut bob).await, "alice: hi bob", "from the async instance to the threaded one");
        bob.send(Message::text("hi alice")).await.unwrap();
        assert_eq!(next_text(&mut alice).await, "alice: hi bob");
        assert_eq!(next_text(&mut alice).await, "bob: hi alice", "and back");
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
fn the_live_examples_log_spans_instances() {
    let redis = RedisServer::start();
    let uploads = TempDir::new("live-many");
    let n = std::sync::atomic::AtomicUsize::new(0);
    let [a, b] = two_instances(|| {
        let dir = uploads.path().join(n.fetch_add(1, std::sync::atomic::Ordering::SeqCst).to_string());
        erlen_examples::live::app(dir).expect("the live app").redis(redis.url())
    });
    erlen::block_on(async {
        let client = reqwest::Client::new();
        let mut log = client.get(format!("http://{}/events", b.addr())).send().await.expect("the log opens");
        assert_eq!(log.status(), 200);
        let boundary = "many";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
        );
        let uploaded = client
            .post(format!("http://{}/upload", a.addr()))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .expect("the upload is answered");
        assert_eq!(uploaded.status(), 200, "{:?}", uploaded.text().await);
        let mut seen = String::new();
        let found = tokio::time::timeout(PATIENCE, async {
            while !seen.contains("uploaded notes.txt (5 bytes)") {
                let chunk = log.chunk().await.expect("the log reads").expect("the log goes on");
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        assert!(found.is_ok(), "the upload on the async instance is in the threaded one's log: {seen}");
    });
}
