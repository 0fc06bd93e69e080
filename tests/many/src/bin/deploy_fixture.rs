//! A small app deployed as two processes behind nginx by `tests/many/tests/deploy.rs`. It
//! reads `ERLEN_ADDR`, `ERLEN_BACKEND`, `ERLEN_SECRET_KEY`, `ERLEN_TRUST_PROXY` and
//! `ERLEN_REDIS_URL` like any erlen app; with a Redis server its sessions are kept there
//! (`SessionStore::Redis`) and its channels and rate limits span the instances.
//! `FIXTURE_INSTANCE` names the instance in its answers. With `FIXTURE_JSON_LOGS` set it
//! logs as JSON lines, as the guide's deployment chapter shows.

use erlen::prelude::*;
use erlen::{Lagged, Message, SessionStore};
use futures::StreamExt;
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
    session.regenerate();
    session.insert("user", "ada");
    instance()
}

#[post("/logout")]
async fn logout(session: Session) -> String {
    session.clear();
    instance()
}

#[get("/me")]
fn me(session: Session) -> Json<Value> {
    Json(json!({ "instance": instance(), "user": session.get::<String>("user") }))
}

/// A session read and written, as most pages of an app with logins do.
#[post("/visit")]
async fn visit(session: Session) -> String {
    let visits = session.get::<u64>("visits").unwrap_or(0) + 1;
    session.insert("visits", visits);
    format!("{visits} {}", instance())
}

/// Answers with the body's length and the instance, after a little work.
#[post("/echo")]
async fn echo(body: Bytes) -> String {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    format!("{} {}", body.len(), instance())
}

/// Five a client per hour, counted across the instances.
#[get("/limited", rate_limit = "5/hour")]
fn limited() -> String {
    instance()
}

/// Publishes the body on the `events` channel, from a plain `fn`.
#[post("/publish")]
fn publish(channels: Channels, body: String) -> Result<String, HttpError> {
    channels.publish_blocking("events", body)?;
    Ok(instance())
}

/// The `events` channel as Server-Sent Events: first a `ready` event naming the instance.
#[get("/events")]
async fn events(channels: Channels) -> Result<Sse, HttpError> {
    let heard = channels.subscribe("events").await?;
    let ready = futures::stream::once(async { Event::default().event("ready").data(instance()) });
    let heard = heard.map(|message| match message {
        Ok(message) => Event::default().data(String::from_utf8_lossy(&message)),
        Err(Lagged(missed)) => Event::default().event("lagged").data(missed.to_string()),
    });
    Ok(Sse::new(ready.chain(heard)))
}

/// A chat member: "welcome to <instance>", then what anyone says on any instance.
#[websocket("/chat/<name>")]
async fn chat(
    mut ws: WebSocket,
    name: String,
    channels: Channels,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut heard = channels.subscribe("chat").await?;
    ws.send_text(format!("welcome to {}", instance())).await?;
    loop {
        tokio::select! {
            said = ws.recv() => match said {
                Some(Message::Text(text)) => channels.publish("chat", format!("{name}: {text}")).await?,
                Some(_) => {}
                None => return Ok(()),
            },
            line = heard.next() => match line {
                Some(Ok(line)) => ws.send_text(String::from_utf8_lossy(&line)).await?,
                Some(Err(Lagged(missed))) => ws.send_text(format!("({missed} missed)")).await?,
                None => return Ok(()),
            },
        }
    }
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
    let mut app = App::new()
        .register(handlers![health, whoami, login, logout, me, visit, echo, limited, publish, events, chat]);
    if std::env::var_os("ERLEN_REDIS_URL").is_some() {
        app = app.session_store(SessionStore::Redis).redis_timeout(std::time::Duration::from_millis(500));
    }
    app.run()
}
