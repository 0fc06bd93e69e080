//! The apps behind erlen's examples, kept in a library so that the examples
//! (`examples/*.rs`), their tests (`tests/*.rs`) and the guide's snippets share one copy.
//!
//! `api` and `request` are the guide's first app (`docs/first-app.md`) and its tour of the
//! request (`docs/request.md`), `chat` its WebSockets (`docs/live.md`); the others each
//! follow one part of the article "Async in Flask 2.0" (`docs/from-flask.md`).

pub mod api;
pub mod async_urls;
pub mod chat;
pub mod data;
pub mod flaskr;
pub mod hooks;
pub mod live;
pub mod login;
pub mod notes;
pub mod pages;
pub mod request;
pub mod timing;
pub mod upstream;

/// Logs to stderr through `tracing`: `info` and up, or what `RUST_LOG` says.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
