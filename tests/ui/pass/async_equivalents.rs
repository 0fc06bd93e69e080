//! The async equivalents of blocking calls, and the opt-out, raise no warning.
#![deny(deprecated)]

use erlen::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[get("/sleep")]
async fn sleepy() -> &'static str {
    tokio::time::sleep(Duration::from_millis(1)).await;
    "slept"
}

#[get("/file")]
async fn file() -> String {
    tokio::fs::read_to_string("Cargo.toml").await.unwrap_or_default()
}

#[get("/count")]
async fn count(State(counter): State<Arc<Mutex<u32>>>) -> String {
    let now = {
        let mut guard = counter.lock().unwrap();
        *guard += 1;
        *guard
    };
    tokio::task::yield_now().await;
    now.to_string()
}

#[get("/tokio_lock")]
async fn tokio_lock(State(m): State<Arc<tokio::sync::Mutex<u32>>>) -> String {
    let guard = m.lock().await;
    tokio::task::yield_now().await;
    guard.to_string()
}

#[get("/offloaded")]
async fn offloaded() -> String {
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1))).await.ok();
    "done".to_string()
}

#[get("/sync")]
fn sync_sleep() -> &'static str {
    std::thread::sleep(Duration::from_millis(1));
    "a plain fn may block: erlen runs it off the runtime"
}

#[get("/allowed", allow_blocking)]
async fn allowed() -> &'static str {
    std::thread::sleep(Duration::from_millis(1));
    "allowed"
}

#[before_request(allow_blocking)]
async fn allowed_hook() {
    std::thread::sleep(Duration::from_millis(1));
}

fn main() {
    let client = App::new()
        .state(Arc::new(Mutex::new(0_u32)))
        .state(Arc::new(tokio::sync::Mutex::new(0_u32)))
        .register(handlers![sleepy, file, count, tokio_lock, offloaded, sync_sleep, allowed, allowed_hook])
        .test_client();
    assert_eq!(client.get("/count").send().text(), "1");
    assert_eq!(client.get("/allowed").send().text(), "allowed");
}
