#![deny(deprecated)]

use erlen::prelude::*;
use std::sync::Mutex;
use std::time::Duration;

mod reqwest {
    pub mod blocking {
        pub fn get(_url: &str) {}
    }
}

#[get("/sleep")]
async fn sleepy() -> &'static str {
    std::thread::sleep(Duration::from_millis(10));
    "slept"
}

#[get("/file")]
async fn file() -> String {
    std::fs::read_to_string("Cargo.toml").unwrap_or_default()
}

#[before_request]
async fn connect() {
    let _ = std::net::TcpStream::connect("127.0.0.1:1");
    reqwest::blocking::get("http://localhost/");
}

#[get("/count")]
async fn count(State(counter): State<std::sync::Arc<Mutex<u32>>>) -> String {
    let mut guard = counter.lock().unwrap();
    *guard += 1;
    tokio::task::yield_now().await;
    guard.to_string()
}

fn main() {
    let _ = App::new().register(handlers![sleepy, file, connect, count]);
}
