//! The app's connection to Redis: the redis crate's tokio connection manager, one
//! multiplexed connection per process, made on first use and remade by itself when it
//! breaks; every call bounded by the app's wait (`App::redis_timeout`, 2 s by default).

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::{Link, Outage, StoreError};

/// A Redis server the app shares state through.
pub(crate) struct Redis {
    client: redis::Client,
    /// The address, for messages (without a password).
    shown: String,
    manager: OnceCell<ConnectionManager>,
    timeout: Duration,
    outage: Outage,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("url", &self.shown).field("timeout", &self.timeout).finish()
    }
}

impl Redis {
    /// The server at `url` (`redis://host:port/db`); nothing is connected yet.
    ///
    /// # Errors
    ///
    /// A URL redis cannot use, with the reason.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Redis, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("`{}` is not a Redis URL: {e}", shown(url)))?;
        Ok(Redis { client, shown: shown(url), manager: OnceCell::new(), timeout, outage: Outage::default() })
    }

    /// How long a call may wait.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The client, for connections of their own (pub/sub).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The outage state, shared by every use of this server.
    pub(crate) fn outage(&self) -> &Outage {
        &self.outage
    }

    /// The address, for messages.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// Runs `call` on the shared connection within the wait; a failure is a
    /// [`StoreError`], logged once per outage.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let began = self.outage.begin();
        let attempt = async {
            let manager = self.manager().await.map_err(|e| e.to_string())?;
            call(manager).await.map_err(|e| e.to_string())
        };
        let outcome = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        };
        match outcome {
            Ok(value) => {
                self.outage.succeeded(Link::Commands, &self.shown, began);
                Ok(value)
            }
            Err(reason) => {
                let error = StoreError::new(format!("{}: {reason}", self.shown));
                self.outage.failed(Link::Commands, &self.shown, &error);
                Err(error)
            }
        }
    }

    /// The connection manager, made on first use; a failure to make it is tried again on
    /// the next call.
    async fn manager(&self) -> redis::RedisResult<ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(2)
            .set_max_delay(self.timeout.as_millis().try_into().unwrap_or(u64::MAX));
        self.manager
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config))
            .await
            .cloned()
    }
}

/// A Redis URL without its password, for messages and logs.
fn shown(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(super::shown("redis://:secret@127.0.0.1:6379/0"), "redis://***@127.0.0.1:6379/0");
        assert_eq!(super::shown("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
    }
}
