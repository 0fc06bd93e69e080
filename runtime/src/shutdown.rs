//! The server's life, as the layers below the server see it: the shutdown signal, a value
//! that turns once when a graceful shutdown starts, and a [`Hold`] on a connection's
//! place. The server makes them; what must end at shutdown (an event stream, a WebSocket)
//! waits on the signal, and what outlives its request on the connection (an upgraded
//! WebSocket) keeps the hold, without knowing the server.

use std::any::Any;
use std::sync::Arc;

use tokio::sync::watch;

/// A connection's place among the server's `max_connections`, shared by the connection
/// and what takes it over (an upgraded WebSocket): the place is free again, and a graceful
/// shutdown has nothing more to wait for, once every hold is dropped.
#[derive(Clone)]
pub(crate) struct Hold(#[allow(dead_code)] Arc<dyn Any + Send + Sync>);

impl Hold {
    pub(crate) fn new(place: Arc<dyn Any + Send + Sync>) -> Hold {
        Hold(place)
    }
}

/// Turns when the server that serves the request starts to shut down gracefully.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// The signal a server's `stop` channel gives: shutting down once it holds `true`.
    pub(crate) fn new(stop: watch::Receiver<bool>) -> Shutdown {
        Shutdown(stop)
    }

    /// Whether the shutdown has started.
    pub(crate) fn started(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until the shutdown starts (for ever if the server is dropped without one).
    pub(crate) async fn wait(&mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            // The server is gone without a graceful shutdown: nothing will turn the signal.
            std::future::pending::<()>().await;
        }
    }
}
