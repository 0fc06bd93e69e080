//! Channels across instances: this process's one Redis pub/sub connection, subscribed to
//! each channel that has subscribers here (one Redis subscription per channel however many
//! local subscribers it has), feeding the local channels; and publishing through the app's
//! shared Redis connection. When Redis goes away the connection is made again, every
//! channel still listened to is subscribed again, and subscribers here never notice but
//! for the messages published meanwhile (Redis pub/sub keeps none).

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::store::{Link, Redis};

/// The channels of this process, as the relay feeds them.
pub(crate) trait Local: Send + Sync {
    /// Hands a message to the local subscribers of `name`; whether any listens.
    fn deliver(&self, name: &str, message: Bytes) -> bool;

    /// The names with local subscribers.
    fn listened(&self) -> Vec<String>;
}

/// Asked of the pub/sub task: subscribe to a channel, and say when it is done.
struct Listen(String, oneshot::Sender<()>);

/// The pub/sub side of an app's channels.
pub(crate) struct Relay {
    redis: Arc<Redis>,
    listen: mpsc::UnboundedSender<Listen>,
}

impl Relay {
    /// Starts the pub/sub task for `hub` on the shared runtime (it connects on its first
    /// subscription).
    pub(crate) fn start(redis: Arc<Redis>, hub: Weak<dyn Local>) -> Arc<Relay> {
        let (listen, asked) = mpsc::unbounded_channel();
        crate::bridge::handle().spawn(run(redis.clone(), hub, asked));
        Arc::new(Relay { redis, listen })
    }

    pub(crate) async fn publish(&self, name: &str, message: Bytes) -> Result<(), StoreError> {
        let name = name.to_string();
        self.redis
            .run(move |mut c| async move {
                redis::AsyncCommands::publish::<_, _, ()>(&mut c, name, message.as_ref()).await
            })
            .await
    }

    /// Makes sure this process is subscribed to `name` in Redis.
    pub(crate) async fn listen(&self, name: &str) -> Result<(), StoreError> {
        let (done, confirmed) = oneshot::channel();
        let no_task = || StoreError::new("the channels' Redis task has stopped");
        self.listen.send(Listen(name.to_string(), done)).map_err(|_| no_task())?;
        match tokio::time::timeout(self.redis.timeout(), confirmed).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(no_task()),
            Err(_) => {
                let error = StoreError::new(format!(
                    "{}: the subscription to `{name}` was not confirmed within {:?}",
                    self.redis.shown(),
                    self.redis.timeout()
                ));
                self.redis.outage().failed(Link::PubSub, self.redis.shown(), &error);
                Err(error)
            }
        }
    }
}

/// The pub/sub task: connect, subscribe to what is listened to, relay messages; again
/// after every disconnection, until the app (its hub) or the relay is gone.
async fn run(redis: Arc<Redis>, hub: Weak<dyn Local>, mut asked: mpsc::UnboundedReceiver<Listen>) {
    // Asked for before a connection could confirm them.
    let mut waiting: Vec<Listen> = Vec::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        // Nothing to do until a first channel is listened to.
        if waiting.is_empty() && hub.upgrade().is_none_or(|h| h.listened().is_empty()) {
            match asked.recv().await {
                Some(listen) => waiting.push(listen),
                None => return,
            }
        }
        let began = redis.outage().begin();
        let connected = tokio::time::timeout(redis.timeout(), redis.client().get_async_pubsub()).await;
        let pubsub = match connected {
            Ok(Ok(pubsub)) => pubsub,
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {:?}", redis.timeout()),
                };
                redis.outage().failed(
                    Link::PubSub,
                    redis.shown(),
                    &StoreError::new(format!("{}: {reason}", redis.shown())),
                );
                waiting.retain(|Listen(_, done)| !done.is_closed());
                // Wait before trying again, taking what is asked meanwhile.
                let until = tokio::time::Instant::now() + backoff;
                while let Ok(Some(listen)) = tokio::time::timeout_at(until, asked.recv()).await {
                    waiting.push(listen);
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let Some(hub_now) = hub.upgrade() else { return };
        let mut subscribed = HashSet::new();
        let mut wanted: Vec<String> = hub_now.listened();
        wanted.extend(waiting.iter().map(|Listen(name, _)| name.clone()));
        drop(hub_now);
        let mut broken = false;
        for name in wanted {
            if subscribed.contains(&name) {
                continue;
            }
            if sink.subscribe(&name).await.is_err() {
                broken = true;
                break;
            }
            subscribed.insert(name);
        }
        if broken {
            continue;
        }
        redis.outage().succeeded(Link::PubSub, redis.shown(), began);
        backoff = Duration::from_millis(100);
        for Listen(_, done) in waiting.drain(..) {
            let _ = done.send(());
        }
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let Some(hub) = hub.upgrade() else { return };
                    let name = message.get_channel_name().to_string();
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    if !hub.deliver(&name, payload) && hub.listened().iter().all(|n| n != &name) {
                        // Nobody here listens any more.
                        if sink.unsubscribe(&name).await.is_err() {
                            break;
                        }
                        subscribed.remove(&name);
                    }
                }
                listen = asked.recv() => {
                    let Some(Listen(name, done)) = listen else { return };
                    if subscribed.contains(&name) {
                        let _ = done.send(());
                    } else if sink.subscribe(&name).await.is_ok() {
                        subscribed.insert(name);
                        let _ = done.send(());
                    } else {
                        waiting.push(Listen(name, done));
                        break;
                    }
                }
            }
        }
        tracing::debug!(redis = redis.shown(), "the channels' pub/sub connection ended; connecting again");
    }
}
