//! Server-side sessions, as Flask-Session keeps them: the cookie holds a signed random id,
//! and the values live in a store under it, with the session's lifetime as their time to
//! live, renewed by every request that uses the session. One [`Backend`] trait stands
//! between the session and the store, and each store is tested by one suite.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::body::BoxFuture;
use crate::store::StoreError;

/// Where a server-side session's record is kept: this process's memory, or Redis.
pub(crate) trait Backend: Send + Sync {
    /// The record under `id`, if there is one that has not expired.
    fn load(&self, id: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>>;

    /// Keeps `record` under `id` for `ttl`.
    fn save(&self, id: String, record: Vec<u8>, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Keeps the record under `id` for another `ttl`.
    fn touch(&self, id: String, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Deletes the record under `id`.
    fn delete(&self, id: String) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// A new session id: 128 bits from the operating system's random source, in base64url.
pub(crate) fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::new(format!("the OS random source failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `text` can be an id [`new_id`] made: 22 base64url characters.
pub(crate) fn is_id(text: &str) -> bool {
    text.len() == 22 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Records in this process's memory: [`SessionStore::Memory`](crate::SessionStore::Memory),
/// one store for the process, as a Redis server is one for every instance.
#[derive(Default)]
pub(crate) struct Memory {
    records: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

impl Memory {
    /// The process's memory store.
    pub(crate) fn process() -> std::sync::Arc<Memory> {
        static PROCESS: std::sync::OnceLock<std::sync::Arc<Memory>> = std::sync::OnceLock::new();
        PROCESS.get_or_init(Default::default).clone()
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, Instant)>> {
        crate::sync::lock(&self.records)
    }
}

impl Backend for Memory {
    fn load(&self, id: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        let now = Instant::now();
        let mut records = self.records();
        let found = match records.get(&id) {
            Some((record, until)) if *until > now => Some(record.clone()),
            Some(_) => {
                records.remove(&id);
                None
            }
            None => None,
        };
        Box::pin(std::future::ready(Ok(found)))
    }

    fn save(&self, id: String, record: Vec<u8>, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>> {
        let now = Instant::now();
        let mut records = self.records();
        // Expired records go as new ones come, a few at a time.
        if records.len() % 64 == 0 {
            records.retain(|_, (_, until)| *until > now);
        }
        records.insert(id, (record, now + ttl));
        Box::pin(std::future::ready(Ok(())))
    }

    fn touch(&self, id: String, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>> {
        if let Some((_, until)) = self.records().get_mut(&id) {
            *until = Instant::now() + ttl;
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn delete(&self, id: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.records().remove(&id);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Records in Redis, under `erlen:session:<id>`, with Redis's own expiry:
/// [`SessionStore::Redis`](crate::SessionStore::Redis).
#[cfg(feature = "redis")]
pub(crate) struct OnRedis(pub(crate) std::sync::Arc<crate::store::Redis>);

#[cfg(feature = "redis")]
impl OnRedis {
    fn key(id: &str) -> String {
        format!("erlen:session:{id}")
    }
}

#[cfg(feature = "redis")]
impl Backend for OnRedis {
    fn load(&self, id: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(self.0.run(move |mut c| async move {
            redis::AsyncCommands::get::<_, Option<Vec<u8>>>(&mut c, OnRedis::key(&id)).await
        }))
    }

    fn save(&self, id: String, record: Vec<u8>, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.0.run(move |mut c| async move {
            redis::AsyncCommands::set_ex::<_, _, ()>(&mut c, OnRedis::key(&id), record, ttl.as_secs().max(1))
                .await
        }))
    }

    fn touch(&self, id: String, ttl: Duration) -> BoxFuture<'_, Result<(), StoreError>> {
        let secs = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        Box::pin(self.0.run(move |mut c| async move {
            redis::AsyncCommands::expire::<_, ()>(&mut c, OnRedis::key(&id), secs).await
        }))
    }

    fn delete(&self, id: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.0.run(move |mut c| async move {
            redis::AsyncCommands::del::<_, ()>(&mut c, OnRedis::key(&id)).await
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_128_random_bits_and_never_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| is_id(id)));
        assert!(!is_id("short") && !is_id("has a space in it......"));
    }

    #[test]
    fn memory_records_expire() {
        let memory = Memory::default();
        let run = |f: BoxFuture<'_, Result<(), StoreError>>| futures::executor::block_on(f).unwrap();
        run(memory.save("a".into(), b"1".to_vec(), Duration::from_millis(30)));
        assert_eq!(futures::executor::block_on(memory.load("a".into())).unwrap(), Some(b"1".to_vec()));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(futures::executor::block_on(memory.load("a".into())).unwrap(), None);
    }
}
