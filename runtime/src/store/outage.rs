//! An outage is logged once, when it starts, and once when it ends: a store that is down
//! under load would otherwise log a line per request.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a store is in an outage, for its log lines.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    down: AtomicBool,
}

impl Outage {
    /// A call failed: logs the outage if it is the first failure since the store was last
    /// seen up.
    pub(crate) fn failed(&self, store: &str, error: &dyn std::fmt::Display) {
        if !self.down.swap(true, Ordering::SeqCst) {
            tracing::error!(store, %error, "a shared store is unavailable; its calls fail until it is back");
        }
    }

    /// A call succeeded: logs the end of an outage, if there was one.
    pub(crate) fn succeeded(&self, store: &str) {
        if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::SeqCst) {
            tracing::warn!(store, "a shared store is back");
        }
    }
}
