//! The in-process test client, as Flask's `app.test_client()`: requests go through the
//! same admission and lifecycle as on a server, without a socket; WebSockets run over an
//! in-memory pipe. The command line's runner (`cli`) runs its commands in-process.

mod cli;
mod client;
mod response;
mod websocket;

pub use cli::{CliResult, CliRunner};
pub use client::{TestClient, TestRequest};
pub use response::{TestBodyStream, TestResponse};
pub use websocket::{TestWebSocket, TestWebSocketRequest};
