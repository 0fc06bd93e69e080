//! A tiny app served with `App::run`, for the tests that start a real process and stop it
//! with a signal (`tests/signals.rs`). It reads `ERLEN_ADDR`, `ERLEN_BACKEND` and
//! `ERLEN_WORKERS` like any erlen app.

use std::time::Duration;

use erlen::prelude::*;

#[get("/ping")]
async fn ping() -> &'static str {
    "pong"
}

#[get("/slow")]
fn slow() -> &'static str {
    std::thread::sleep(Duration::from_millis(700));
    "finished"
}

fn main() -> std::io::Result<()> {
    App::new().register(handlers![ping, slow]).run()
}
