//! An outage is logged once, when it starts, and once when it ends: a store that is down
//! under load would otherwise log a line per request. A store reaches its server over more
//! than one connection (commands, and pub/sub for channels), each of which finds out on
//! its own that the server is gone and that it is back; the outage starts when the first
//! finds it gone and ends when every one that found it gone has seen it back.

use std::sync::atomic::{AtomicU8, Ordering};

/// A connection of a store, as far as its outages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// The connection that runs commands (sessions, rate limits, publishing).
    Commands,
    /// The connection that listens to channels.
    PubSub,
}

impl Link {
    fn bit(self) -> u8 {
        match self {
            Link::Commands => 1,
            Link::PubSub => 2,
        }
    }
}

/// Which of a store's connections are down, for its log lines.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    down: AtomicU8,
}

impl Outage {
    /// A call on `link` failed: logs the outage if no connection of the store was down.
    pub(crate) fn failed(&self, link: Link, store: &str, error: &dyn std::fmt::Display) {
        if self.down.fetch_or(link.bit(), Ordering::SeqCst) == 0 {
            tracing::error!(store, %error, "a shared store is unavailable; its calls fail until it is back");
        }
    }

    /// A call on `link` succeeded: logs the end of the outage if `link` was the last of
    /// the store's connections still down.
    pub(crate) fn succeeded(&self, link: Link, store: &str) {
        if self.down.load(Ordering::Relaxed) & link.bit() == 0 {
            return;
        }
        if self.down.fetch_and(!link.bit(), Ordering::SeqCst) == link.bit() {
            tracing::warn!(store, "a shared store is back");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_ends_when_every_connection_that_saw_it_is_back() {
        let outage = Outage::default();
        outage.failed(Link::PubSub, "s", &"refused");
        outage.failed(Link::Commands, "s", &"refused");
        assert_eq!(outage.down.load(Ordering::SeqCst), 3);
        outage.succeeded(Link::PubSub, "s");
        assert_eq!(outage.down.load(Ordering::SeqCst), 1, "still down for commands");
        outage.succeeded(Link::Commands, "s");
        assert_eq!(outage.down.load(Ordering::SeqCst), 0, "over");
        outage.succeeded(Link::Commands, "s");
        assert_eq!(outage.down.load(Ordering::SeqCst), 0);
    }
}
