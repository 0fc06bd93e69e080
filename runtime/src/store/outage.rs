//! An outage is logged once, when it starts, and once when it ends: a store that is down
//! under load would otherwise log a line per request. A store reaches its server over more
//! than one connection (commands, and pub/sub for channels), each of which finds out on
//! its own that the server is gone and that it is back; the outage starts when the first
//! finds it gone and ends when every one that found it gone has seen it back.
//!
//! Only a call that began after its connection last failed can say the connection is back:
//! under load, calls sent before the server went away still complete after another call
//! has failed, and would otherwise end the outage at once and start it again.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

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

    fn index(self) -> usize {
        match self {
            Link::Commands => 0,
            Link::PubSub => 1,
        }
    }
}

/// When a call began, as far as its store's outages go: taken with [`Outage::begin`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Began(u64);

/// Which of a store's connections are down, for its log lines.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    down: AtomicU8,
    /// Failures so far, on any connection.
    failures: AtomicU64,
    /// Each connection's last failure, as a count of `failures`.
    last_failure: [AtomicU64; 2],
}

impl Outage {
    /// Marks the start of a call, to report its outcome with.
    pub(crate) fn begin(&self) -> Began {
        Began(self.failures.load(Ordering::SeqCst))
    }

    /// A call on `link` failed: logs the outage if no connection of the store was down.
    pub(crate) fn failed(&self, link: Link, store: &str, error: &dyn std::fmt::Display) {
        let failure = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
        self.last_failure[link.index()].fetch_max(failure, Ordering::SeqCst);
        if self.down.fetch_or(link.bit(), Ordering::SeqCst) == 0 {
            tracing::error!(store, %error, "a shared store is unavailable; its calls fail until it is back");
        }
    }

    /// A call on `link`, begun at `began`, succeeded: logs the end of the outage if `link`
    /// was the last of the store's connections still down, and the call began after the
    /// link's last failure.
    pub(crate) fn succeeded(&self, link: Link, store: &str, began: Began) {
        if self.down.load(Ordering::Relaxed) & link.bit() == 0 {
            return;
        }
        if began.0 < self.last_failure[link.index()].load(Ordering::SeqCst) {
            return; // sent before the link last failed: it says nothing of now
        }
        if self.down.fetch_and(!link.bit(), Ordering::SeqCst) == link.bit() {
            tracing::warn!(store, "a shared store is back");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(outage: &Outage) -> u8 {
        outage.down.load(Ordering::SeqCst)
    }

    #[test]
    fn an_outage_ends_when_every_connection_that_saw_it_is_back() {
        let outage = Outage::default();
        outage.failed(Link::PubSub, "s", &"refused");
        outage.failed(Link::Commands, "s", &"refused");
        assert_eq!(down(&outage), 3);
        outage.succeeded(Link::PubSub, "s", outage.begin());
        assert_eq!(down(&outage), 1, "still down for commands");
        outage.succeeded(Link::Commands, "s", outage.begin());
        assert_eq!(down(&outage), 0, "over");
        outage.succeeded(Link::Commands, "s", outage.begin());
        assert_eq!(down(&outage), 0);
    }

    #[test]
    fn a_call_sent_before_the_failure_does_not_end_the_outage() {
        let outage = Outage::default();
        let early = outage.begin();
        outage.failed(Link::Commands, "s", &"broken pipe");
        outage.succeeded(Link::Commands, "s", early);
        assert_eq!(down(&outage), 1, "the early call's answer says nothing of now");
        let later = outage.begin();
        outage.succeeded(Link::Commands, "s", later);
        assert_eq!(down(&outage), 0);
    }
}
