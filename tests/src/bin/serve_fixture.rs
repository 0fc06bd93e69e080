//! A tiny app served with `App::run`, for the tests that start a real process and stop it
//! with a signal (`tests/signals.rs`). It reads `ERLEN_ADDR`, `ERLEN_BACKEND` and
//! `ERLEN_WORKERS` like any erlen app; with `FIXTURE_BROKEN` set, it registers `/ping`
//! twice, so that the app cannot be built.

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

/// A second view for `/ping`: with `FIXTURE_BROKEN` set, the app cannot be built.
#[get("/ping")]
fn ping_again() -> &'static str {
    "pong"
}

fn main() -> std::io::Result<()> {
    let app = App::new().register(handlers![ping, slow]);
    let app = match std::env::var_os("FIXTURE_BROKEN") {
        Some(_) => app.register(handlers![ping_again]),
        None => app,
    };
    app.run()
}
