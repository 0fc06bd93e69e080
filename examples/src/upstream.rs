//! An upstream that answers after a chosen latency, so that the fan-out examples run
//! offline: `GET /delay/<ms>` answers 200 after `ms` milliseconds. It is an erlen app too.

use std::io;
use std::time::Duration;

use erlen::prelude::*;
use erlen::{Server, ServerHandle};

#[get("/delay/<int:ms>")]
async fn delay(ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("answered after {ms} ms")
}

/// A running upstream on loopback; dropping it stops it.
pub struct Upstream {
    server: ServerHandle,
}

impl Upstream {
    /// Starts the upstream on a free port of 127.0.0.1.
    pub fn start() -> io::Result<Upstream> {
        let server = Server::bind("127.0.0.1:0").spawn(App::new().register(handlers![delay]))?;
        Ok(Upstream { server })
    }

    /// The URL that answers after `ms` milliseconds.
    pub fn url(&self, ms: u64) -> String {
        format!("http://{}/delay/{ms}", self.server.addr())
    }

    /// One URL per latency.
    pub fn urls(&self, latencies: &[u64]) -> Vec<String> {
        latencies.iter().map(|ms| self.url(*ms)).collect()
    }
}

/// `calls` latencies spread evenly over 200..=1500 ms, the range the article gives for real
/// APIs: the same every run.
pub fn spread(calls: usize) -> Vec<u64> {
    match calls {
        0 => Vec::new(),
        1 => vec![850],
        n => (0..n).map(|i| 200 + (1300 * i as u64) / (n as u64 - 1)).collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spread_covers_the_range() {
        assert_eq!(super::spread(10), [200, 344, 488, 633, 777, 922, 1066, 1211, 1355, 1500]);
        assert_eq!(super::spread(1), [850]);
    }
}
