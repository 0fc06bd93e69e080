//! The app's channels: a broadcast channel per name in this process, fed by the publishers
//! here or, with Redis, by the one subscription this process holds for the name.

use std::collections::HashMap;
#[cfg(feature = "redis")]
use std::sync::Arc;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::error::StoreError;

/// How many messages a slow subscriber may leave unread before it is told it lagged.
pub(crate) const KEPT: usize = 1024;

/// The channels of one app, shared by its handles.
#[derive(Default)]
pub(crate) struct Hub {
    local: Mutex<HashMap<String, broadcast::Sender<Bytes>>>,
    /// With Redis: the relay between Redis pub/sub and the local channels, set when the
    /// app is built with a Redis server.
    #[cfg(feature = "redis")]
    relay: OnceLock<Arc<super::relay::Relay>>,
    #[cfg(not(feature = "redis"))]
    relay: OnceLock<std::convert::Infallible>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("channels", &crate::sync::lock(&self.local).len())
            .field("redis", &self.relay.get().is_some())
            .finish()
    }
}

impl Hub {
    /// Relays the channels through Redis from now on.
    #[cfg(feature = "redis")]
    pub(crate) fn use_redis(self: &Arc<Self>, redis: Arc<crate::store::Redis>) {
        let local: Arc<dyn super::relay::Local> = self.clone();
        let _ = self.relay.set(super::relay::Relay::start(redis, Arc::downgrade(&local)));
    }

    /// The local channel `name`, made if it has to be.
    pub(crate) fn sender(&self, name: &str) -> broadcast::Sender<Bytes> {
        let mut local = crate::sync::lock(&self.local);
        if let Some(sender) = local.get(name) {
            return sender.clone();
        }
        // Channels nobody listens to any more go as new ones come.
        local.retain(|_, sender| sender.receiver_count() > 0);
        let (sender, _) = broadcast::channel(KEPT);
        local.insert(name.to_string(), sender.clone());
        sender
    }

    /// Hands a message to the local subscribers of `name`; whether any listens.
    fn deliver_here(&self, name: &str, message: Bytes) -> bool {
        let sender = crate::sync::lock(&self.local).get(name).cloned();
        match sender {
            Some(sender) => sender.send(message).is_ok(),
            None => false,
        }
    }

    pub(crate) async fn publish(&self, name: &str, message: Bytes) -> Result<(), StoreError> {
        #[cfg(feature = "redis")]
        if let Some(relay) = self.relay.get() {
            return relay.publish(name, message).await;
        }
        self.deliver_here(name, message);
        Ok(())
    }

    pub(crate) async fn subscribe(&self, name: &str) -> Result<broadcast::Receiver<Bytes>, StoreError> {
        let receiver = self.sender(name).subscribe();
        #[cfg(feature = "redis")]
        if let Some(relay) = self.relay.get() {
            relay.listen(name).await?;
        }
        Ok(receiver)
    }
}

#[cfg(feature = "redis")]
impl super::relay::Local for Hub {
    fn deliver(&self, name: &str, message: Bytes) -> bool {
        self.deliver_here(name, message)
    }

    fn listened(&self) -> Vec<String> {
        crate::sync::lock(&self.local)
            .iter()
            .filter(|(_, s)| s.receiver_count() > 0)
            .map(|(n, _)| n.clone())
            .collect()
    }
}
