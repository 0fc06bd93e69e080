//! A small app deployed as two processes behind nginx by `tests/nginx.rs`. It reads
//! `ERLEN_ADDR`, `ERLEN_BACKEND`, `ERLEN_SECRET_KEY` and `ERLEN_TRUST_PROXY` like any erlen
//! app; `FIXTURE_INSTANCE` names the instance in its answers. With `FIXTURE_JSON_LOGS` set
//! it logs as JSON lines, as the guide's deployment chapter shows.

use erlen::prelude::*;
use serde_json::{Value, json};

fn instance() -> String {
    std::env::var("FIXTURE_INSTANCE").unwrap_or_else(|_| "?".to_string())
}

/// For the balancer's health checks.
#[get("/health")]
fn health() -> &'static str {
    "ok"
}

/// Which instance answered, and what it knows of the client.
#[get("/whoami")]
fn whoami(req: &Request) -> Json<Value> {
    Json(json!({
        "instance": instance(),
        "remote": req.remote_addr().map(|a| a.ip().to_string()),
        "scheme": req.scheme(),
        "host": req.host(),
        "external": url_for!(whoami, _external = true),
    }))
}

#[post("/login")]
fn login(session: Session) -> String {
    session.insert("user", "ada");
    instance()
}

#[get("/me")]
fn me(session: Session) -> Json<Value> {
    Json(json!({ "instance": instance(), "user": session.get::<String>("user") }))
}

/// Answers with the body's length and the instance, after a little work.
#[post("/echo")]
async fn echo(body: Bytes) -> String {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    format!("{} {}", body.len(), instance())
}

fn main() -> std::io::Result<()> {
    if std::env::var_os("FIXTURE_JSON_LOGS").is_some() {
        // One JSON object a line on stderr; App::run keeps a subscriber the app installed.
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(std::io::stderr)
            .init();
    }
    App::new().register(handlers![health, whoami, login, me, echo]).run()
}
