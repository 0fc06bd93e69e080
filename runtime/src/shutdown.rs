//! The server's shutdown signal, as the layers below the server see it: a value that
//! turns once, when a graceful shutdown starts. The server makes it; what must end then
//! (an event stream, a WebSocket) waits on it without knowing the server.

use tokio::sync::watch;

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
