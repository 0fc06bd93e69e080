//! The in-process test client, as Flask's `app.test_client()`: requests go through the
//! same admission and lifecycle as on a server, without a socket; WebSockets run over an
//! in-memory pipe.

mod client;
mod response;
mod websocket;

pub use client::{TestClient, TestRequest};
pub use response::{TestBodyStream, TestResponse};
pub use websocket::{TestWebSocket, TestWebSocketRequest};
