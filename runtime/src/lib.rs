//! # erlen
//!
//! A Flask-style web framework for Rust. Write plain functions, `fn` or `async fn`, and
//! mark them with attributes; erlen sees at compile time which is which and runs each the
//! right way on the backend you choose.
//!
//! ```
//! use erlen::prelude::*;
//!
//! #[route("/data")]
//! async fn get_data() -> &'static str {
//!     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
//!     "Done!"
//! }
//!
//! #[get("/users/<int:id>")]
//! fn user(id: i64) -> Result<Json<serde_json::Value>, HttpError> {
//!     if id == 0 {
//!         return Err(abort(404));
//!     }
//!     Ok(Json(serde_json::json!({ "id": id })))
//! }
//!
//! #[after_request]
//! async fn tag(mut resp: Response) -> Response {
//!     resp.headers_mut().insert("x-served-by", HeaderValue::from_static("erlen"));
//!     resp
//! }
//!
//! let client = App::new().register(handlers![get_data, user, tag]).test_client();
//! assert_eq!(client.get("/data").send().text(), "Done!");
//! assert_eq!(client.get("/users/7").send().json::<serde_json::Value>()["id"], 7);
//! assert_eq!(client.get("/users/0").send().status(), 404);
//! assert_eq!(client.get("/users/0").send().header("x-served-by"), Some("erlen"));
//! ```
//!
//! ## The lifecycle
//!
//! Every request goes through Flask's lifecycle, written once and shared by every backend
//! and the [`TestClient`]:
//!
//! 1. Routing: no match is a 404; a path served with other methods only is a 405 with an
//!    `Allow` header; a route that ends in `/`, requested without it, redirects (308) there;
//!    HEAD is answered for every GET route, OPTIONS with `Allow`.
//! 2. `before_request` hooks: the app's, then the matched blueprint's, each in registration
//!    order. The first to return a response (`Some(response)`, or an `Err`) ends this step
//!    and the view is skipped. As in Flask, the app's hooks run for a 404 or 405 too: the
//!    routing error is raised after them.
//! 3. The view.
//! 4. An error from 2 or 3 (an `Err`, an [`abort`], a panic) goes to an error handler: one
//!    for its type (the blueprint's, then the app's), else one for its status code (the
//!    blueprint's, then the app's), else the default page for that status. Unknown errors
//!    and panics are 500s; an error inside an error handler is a plain 500.
//! 5. `after_request` hooks, for every response (short-circuits and errors too): the
//!    blueprint's, then the app's, each in reverse registration order.
//! 6. `teardown_request` hooks, always, in that same order, with the error that no handler
//!    took (or `None`); their own errors are logged and ignored.
//!
//! A blueprint's hooks and error handlers apply to its own routes only; the app's apply to
//! all. A panic anywhere is a 500 and the server keeps serving.
//!
//! ## Sync and async
//!
//! The macros see at compile time whether a function is `async`. On the default async
//! backend, async handlers are awaited on the tokio runtime and sync handlers run on
//! erlen's sync pool, never on the runtime's worker threads. On the threaded backend (a
//! worker pool, like a WSGI server), sync handlers run on the worker thread and async
//! handlers go through the blocking bridge onto one shared runtime. Use [`block_on`] to
//! await a future from sync code, and [`run_on_runtime`] for one woken many times (a
//! batch of pipelined queries).
//!
//! ## Serving
//!
//! [`App::run`] serves on 127.0.0.1:5000 like Flask's `app.run()`; [`Server`] chooses the
//! address, the [`Backend`] and the limits, and [`Server::spawn`] returns a
//! [`ServerHandle`] for tests and embedding:
//!
//! ```
//! use erlen::prelude::*;
//! use erlen::{Backend, Server};
//!
//! #[get("/ping")]
//! fn ping() -> &'static str { "pong" }
//!
//! let server = Server::bind("127.0.0.1:0")
//!     .backend(Backend::Threaded { workers: 4 })
//!     .body_limit(64 * 1024)
//!     .spawn(App::new().register(handlers![ping]))?;
//! println!("listening on {}", server.addr());
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## WebSockets
//!
//! `#[websocket("/ws")]` marks a socket's handler, as flask-sock does: an `async fn`
//! taking a [`WebSocket`] runs as a task and holds no thread while it waits; a plain `fn`
//! taking a [`BlockingWebSocket`] runs on a blocking thread of its own for the socket's
//! life. The upgrade request goes through routing, extractors and `before_request` hooks
//! like any GET request (a hook that answers, a 401 say, refuses the upgrade), and the
//! [`TestClient`] opens sockets in-process. Once the handshake is checked, erlen answers `101 Switching Protocols` and
//! hands the connection to the handler:
//!
//! * an `async fn` runs as a task on the shared runtime and holds no thread while it
//!   waits, so thousands of idle sockets cost a few kilobytes each;
//! * a plain `fn` runs on a blocking thread of its own (tokio's blocking pool) and holds
//!   that thread for the socket's whole life, on both backends. On the threaded backend
//!   it does not hold a worker: the worker answers the 101 and goes back to serving
//!   requests. Prefer `async fn` for many long-lived sockets.
//!
//! When the server shuts down gracefully, every open socket is closed with code 1001
//! ("going away"): a handler waiting in [`WebSocket::recv`] or
//! [`BlockingWebSocket::receive`] gets `None`, and a send fails. When the handler returns,
//! the socket is closed with 1000; when it returns an `Err` or panics, the error is
//! logged and the socket is closed with 1011.
//!
//! ```
//! use erlen::prelude::*;
//! use erlen::Message;
//!
//! #[websocket("/echo")]
//! async fn echo(mut ws: WebSocket) {
//!     while let Some(msg) = ws.recv().await {
//!         if let Message::Text(text) = msg {
//!             if ws.send_text(format!("echo: {text}")).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }
//! }
//!
//! let client = App::new().register(handlers![echo]).test_client();
//! let mut ws = client.websocket("/echo").connect().unwrap();
//! ws.send_text("hi").unwrap();
//! assert_eq!(ws.receive(), Some(Message::text("echo: hi")));
//! ```
//!
//! Not supported: WebSockets over HTTP/2 (RFC 8441), subprotocol negotiation
//! (`Sec-WebSocket-Protocol`) and compression (`permessage-deflate`).
//!
//! ## The app's start and stop
//!
//! `#[before_serving]` hooks run once when a server starts, before its first connection;
//! `#[after_serving]` hooks run once when it stops, after the last request has drained
//! (Quart's names). They take application state as `State<T>`, may be `fn` or `async fn`,
//! and are registered on the app with `handlers![]`. An `Err` or a panic in a
//! `before_serving` hook stops the start-up: [`Server::spawn`] (and so [`Server::run`] and
//! [`App::run`]) returns an error that names the hook. An `after_serving` hook's failure
//! is logged. The [`TestClient`] runs neither, as Flask's test client does not.
//!
//! ```
//! use std::sync::{Arc, atomic::{AtomicBool, Ordering}};
//! use erlen::prelude::*;
//! use erlen::Server;
//!
//! #[derive(Clone, Default)]
//! struct Cache(Arc<AtomicBool>);
//!
//! #[before_serving]
//! async fn warm_up(State(cache): State<Cache>) -> Result<(), std::io::Error> {
//!     cache.0.store(true, Ordering::SeqCst); // load what every request needs
//!     Ok(())
//! }
//!
//! #[after_serving]
//! fn flush(State(cache): State<Cache>) {
//!     cache.0.store(false, Ordering::SeqCst);
//! }
//!
//! let cache = Cache::default();
//! let app = App::new().state(cache.clone()).register(handlers![warm_up, flush]);
//! let server = Server::bind("127.0.0.1:0").spawn(app)?;
//! assert!(cache.0.load(Ordering::SeqCst));
//! server.shutdown();
//! assert!(!cache.0.load(Ordering::SeqCst));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## The command line
//!
//! [`App::cli`] makes the app's binary its command line, as Flask's `flask` command:
//! `run` (the default) serves, with `--host`, `--port`, `--backend` and `--debug`;
//! `routes` lists the routes; and each `#[command]` function is a command of its own,
//! tested in-process with [`App::test_cli_runner`]. `run --debug` turns on the debug
//! page and reloads the app when its code changes, never refusing a connection.
//!
//! ```
//! use erlen::prelude::*;
//!
//! /// Count to N.
//! #[command]
//! fn count(n: u32) -> String {
//!     (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(" ")
//! }
//!
//! let runner = App::new().register(handlers![count]).test_cli_runner();
//! let result = runner.invoke(["count", "3"]);
//! assert!(result.success());
//! assert_eq!(result.output(), "1 2 3\n");
//! assert_eq!(runner.invoke(["count", "three"]).exit_code(), 2);
//! ```
//!
//! ## Configuration
//!
//! [`App::config_from_env`] reads a serde struct of yours from `PREFIX_*` environment
//! variables and [`App::config_from_file`] from a TOML file; either stores it as state,
//! for `State<T>`. A missing or malformed value is a [`ConfigError`] at start-up that
//! names the variable or the key.

#![warn(missing_docs)]

// The macros name `::erlen`; this lets the crate's own tests use them too.
extern crate self as erlen;

mod admit;
mod apidoc;
mod app;
mod body;
mod bridge;
mod channels;
mod cli;
mod command;
mod config;
mod context;
mod cookies;
pub mod csrf;
mod debug_page;
mod dispatch;
mod env;
mod error;
mod exec;
mod extract;
mod files;
mod handler;
pub mod hooks;
mod incoming;
mod multipart;
#[cfg(feature = "openapi")]
mod openapi;
mod panics;
mod proxy;
mod ratelimit;
mod request;
mod response;
mod routing;
mod sched;
mod serve;
mod serving;
mod session;
mod shutdown;
pub mod sse;
mod store;
mod sync;
mod templates;
mod testing;
mod urls;
#[cfg(feature = "validate")]
mod validate;
mod websocket;

pub use app::{App, Blueprint, BuildError};
pub use body::{Body, BoxError, Chunk};
pub use bridge::{block_on, run_on_runtime};
pub use channels::{BlockingSubscription, Channels, Lagged, Subscription};
pub use config::ConfigError;
pub use context::{spawn, spawn_blocking};
pub use cookies::ResponseExt;
pub use error::{HttpError, abort, escape_html};
pub use extract::{BodyReader, BodyStream, Form, FromRequest, Query, State};
pub use files::{SendFile, send_file, send_from_directory};
pub use handler::Handlers;
pub use multipart::{FormLimits, Multipart, UploadedFile, secure_filename};
pub use request::Request;
pub use response::{Html, IntoResponse, Json, Redirect, Response, redirect};
pub use serve::{AppService, Backend, Server, ServerHandle};
pub use session::{Session, SessionConfig, SessionStore, flash, flash_category, get_flashed_messages};
pub use sse::{Event, Sse};
pub use store::StoreError;
pub use templates::{Template, render_template};
pub use testing::{
    CliResult, CliRunner, TestBodyStream, TestClient, TestRequest, TestResponse, TestWebSocket,
    TestWebSocketRequest,
};
pub use websocket::{BlockingWebSocket, CloseFrame, Message, WebSocket, WebSocketError};

/// Validation with `garde` (feature `validate`): [`Valid`] around `Json<T>`, `Form<T>` and
/// `Query<T>`, and the [`ValidationErrors`] an invalid value ends in.
#[cfg(feature = "validate")]
pub use validate::{FieldError, Loc, Valid, Validated, ValidationErrors};

/// The `cookie` crate: [`Cookie`], its builder and `SameSite`.
pub use cookie;
pub use cookie::{Cookie, SameSite};

/// minijinja, the template engine: `erlen::minijinja::Value` and the types template
/// filters and globals use.
pub use minijinja;

pub use bytes::Bytes;
pub use erlen_macros::{
    after_request, after_serving, before_request, before_serving, command, delete, errorhandler, get,
    handlers, patch, post, put, route, teardown_request, template_filter, template_global, url_for,
    websocket,
};
pub use http::{self, HeaderMap, HeaderValue, Method, StatusCode};

/// Route parameters, both ways: the types a `<int:id>`, `<float:x>`, `<uuid:u>` or
/// `<name>` parameter converts into as a view's argument (`IntParam`..`StrParam`), and
/// the values `url_for!` accepts for it (`UrlInt`..`UrlText`). The macros check each
/// parameter against them at compile time; implement `UuidParam` and `UrlUuid` for a
/// UUID type of your own.
pub mod params {
    pub use crate::extract::{FloatParam, IntParam, StrParam, UuidParam};
    pub use crate::urls::{UrlFloat, UrlInt, UrlText, UrlUuid};
}

/// The tower traits an erlen app meets: [`Service`](tower::Service), which
/// [`App::into_service`] implements, and [`Layer`](tower::Layer), which [`App::layer`]
/// takes (tower-http's layers implement it); [`Stack`](tower::Stack) is the service a
/// layer wraps.
pub mod tower {
    pub use crate::app::Stack;
    pub use tower_layer::Layer;
    pub use tower_service::Service;
}

/// The shared runtime the async backend serves on and the bridge runs futures on.
///
/// ```
/// // Spawn background work next to the servers, on the same runtime.
/// let task = erlen::runtime::handle().spawn(async { 1 + 1 });
/// assert_eq!(erlen::block_on(task).unwrap(), 2);
/// ```
pub mod runtime {
    pub use crate::bridge::handle;
}

/// Everything a handler module needs: `use erlen::prelude::*;`.
///
/// WebSocket messages are [`erlen::Message`](crate::Message), left out of the prelude
/// so that an app's own `Message` type never meets it: import it where a socket is used.
pub mod prelude {
    pub use crate::{
        App, Backend, BlockingWebSocket, Blueprint, Body, BodyReader, BodyStream, Bytes, Channels, CliRunner,
        Cookie, Event, Form, FromRequest, HeaderMap, HeaderValue, Html, HttpError, IntoResponse, Json,
        Method, Multipart, Query, Redirect, Request, Response, ResponseExt, SameSite, SendFile, Server,
        ServerHandle, Session, Sse, State, StatusCode, Template, TestClient, UploadedFile, WebSocket, abort,
        after_request, after_serving, before_request, before_serving, command, context, delete, echo,
        errorhandler, flash, flash_category, get, get_flashed_messages, handlers, patch, post, put, redirect,
        render_template, route, secure_filename, send_file, send_from_directory, teardown_request,
        template_filter, template_global, url_for, websocket,
    };
    #[cfg(feature = "validate")]
    pub use crate::{Valid, ValidationErrors};
}

/// What the macros' generated code calls. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    use std::future::Future;

    pub use crate::body::BoxFuture;
    pub use crate::command::{
        ArgSpec, CommandContext, CommandPrint, CommandResult, CommandReturn, CommandSpec, CommandValue,
        Invocation, echo,
    };

    /// What the macros record of a route's view, for an OpenAPI document.
    pub mod api {
        pub use crate::apidoc::{Describe, Operation, Probe, Schema, ViaJsonSchema, ViaOpen};
    }
    pub use crate::extract::{BodyUse, Prepare};
    pub use crate::handler::{
        After, Before, Callable, Command as CommandFn, Entry, ErrorHandler, Handlers, Item, Serving,
        Teardown, View,
    };
    pub use crate::hooks::{AfterOutcome, BeforeOutcome, ServingOutcome, TeardownOutcome, WebSocketOutcome};
    pub use crate::serving::ServingArg;
    pub use crate::urls::{for_item as url_for, url_float, url_int, url_text, url_uuid};
    pub use crate::websocket::{websocket_async, websocket_blocking};
    pub use crate::{HttpError, IntoResponse, Request, Response};
    pub use erlen_macros::__url_for_checked as url_for_checked;
    pub use minijinja::Environment;
    pub use std::any::TypeId;

    pub use crate::extract::{FloatParam, FromRequest, IntParam, StrParam, UuidParam};

    /// The typed error an `errorhandler(Type)` handler was registered for.
    pub fn downcast<E: std::error::Error + 'static>(error: &HttpError) -> Result<&E, HttpError> {
        error
            .downcast_ref::<E>()
            .ok_or_else(|| HttpError::internal("an error handler was called with an error of another type"))
    }
    /// Requires an async handler's future to be `Send`, so that it can run on the
    /// multi-thread runtime; the compiler then points at the `.await` that holds a
    /// non-`Send` value.
    pub fn assert_send<F: Future + Send>(future: F) -> F {
        future
    }
}
