//! Channels: publish and subscribe between requests, WebSockets, event streams and
//! background tasks, as Flask-SocketIO's message queue. In-process by default (a tokio
//! broadcast channel per name); across every instance of the app through Redis pub/sub
//! when the app has a Redis server (feature `redis`), with one Redis subscription per
//! channel per process however many subscribers it has there.
//!
//! A subscriber sees the messages in the order they were published. One that falls
//! behind (more than 1,024 messages unread) is told, with [`Lagged`] and how many it
//! missed, and goes on from the oldest message still kept: it never holds the publisher
//! up.

mod hub;
#[cfg(feature = "redis")]
mod relay;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::sync::broadcast;

use crate::command::{CommandContext, Invocation};
use crate::error::{HttpError, StoreError};
use crate::extract::FromRequest;
use crate::request::Request;

pub(crate) use hub::Hub;

/// Publish and subscribe by channel name: an extractor (`channels: Channels`) in views,
/// hooks and WebSocket handlers, and [`App::channels`](crate::App::channels) outside
/// requests. Clones share the app's channels.
///
/// ```
/// use erlen::prelude::*;
/// use futures::StreamExt;
///
/// #[post("/say")]
/// async fn say(channels: Channels, text: String) -> Result<&'static str, HttpError> {
///     channels.publish("room:lobby", text).await?;
///     Ok("sent")
/// }
///
/// let app = App::new().register(handlers![say]);
/// let channels = app.channels();
/// let client = app.test_client();
/// erlen::block_on(async {
///     let mut lobby = channels.subscribe("room:lobby").await.unwrap();
///     client.post("/say").body("hello").await;
///     assert_eq!(lobby.next().await, Some(Ok(Bytes::from("hello"))));
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct Channels(pub(crate) Arc<Hub>);

impl Channels {
    /// Publishes `message` on `channel`: every current subscriber, in this process or
    /// (with Redis) in any instance, gets it. No subscriber is fine.
    ///
    /// # Errors
    ///
    /// With Redis, a [`StoreError`] (a 503 with `?`) when Redis does not take it within
    /// the app's wait.
    pub async fn publish(&self, channel: &str, message: impl Into<Bytes>) -> Result<(), StoreError> {
        self.0.publish(channel, message.into()).await
    }

    /// [`Channels::publish`] for a plain `fn`: waits for Redis on the calling thread.
    ///
    /// # Errors
    ///
    /// As [`Channels::publish`].
    pub fn publish_blocking(&self, channel: &str, message: impl Into<Bytes>) -> Result<(), StoreError> {
        crate::bridge::block_on(self.publish(channel, message))
    }

    /// Subscribes to `channel`: the messages published from now on, in order.
    ///
    /// # Errors
    ///
    /// With Redis, a [`StoreError`] when the subscription is not confirmed within the
    /// app's wait.
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let receiver = self.0.subscribe(channel).await?;
        Ok(Subscription::new(receiver))
    }

    /// [`Channels::subscribe`] for a plain `fn`: a blocking iterator.
    ///
    /// # Errors
    ///
    /// As [`Channels::subscribe`].
    pub fn subscribe_blocking(&self, channel: &str) -> Result<BlockingSubscription, StoreError> {
        let receiver = crate::bridge::block_on(self.0.subscribe(channel))?;
        Ok(BlockingSubscription { receiver })
    }
}

impl FromRequest for Channels {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        req.state::<Channels>().cloned().ok_or_else(|| {
            HttpError::internal("the app's channels were asked for outside an app erlen built")
        })
    }
}

/// A `#[command]` takes the app's channels as a view does: `fn notify(channels: Channels)`.
impl CommandContext for Channels {
    fn from_app(inv: &Invocation) -> Result<Self, String> {
        // `App::build` puts them in the state, and a command runs on a built app.
        inv.state::<Channels>()
            .map(|channels| (**channels).clone())
            .ok_or_else(|| "the app's channels were asked for outside an app erlen built".to_string())
    }
}

/// A subscriber fell behind and missed this many messages; the next ones follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl std::fmt::Display for Lagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the subscriber fell behind and missed {} messages", self.0)
    }
}

impl std::error::Error for Lagged {}

/// The messages of a channel, as an async [`Stream`]: each a message (`Ok`), or
/// [`Lagged`] when the subscriber fell behind. Dropping it unsubscribes.
pub struct Subscription {
    stream: Pin<Box<dyn Stream<Item = Result<Bytes, Lagged>> + Send>>,
}

impl Subscription {
    fn new(receiver: broadcast::Receiver<Bytes>) -> Subscription {
        let stream = futures::stream::unfold(receiver, |mut rx| async move {
            match rx.recv().await {
                Ok(message) => Some((Ok(message), rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => Some((Err(Lagged(missed)), rx)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        Subscription { stream: Box::pin(stream) }
    }
}

impl Stream for Subscription {
    type Item = Result<Bytes, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

/// The messages of a channel for a plain `fn`: an [`Iterator`] that waits for the next
/// one. Dropping it unsubscribes.
#[derive(Debug)]
pub struct BlockingSubscription {
    receiver: broadcast::Receiver<Bytes>,
}

impl Iterator for BlockingSubscription {
    type Item = Result<Bytes, Lagged>;

    fn next(&mut self) -> Option<Self::Item> {
        match crate::bridge::block_on(self.receiver.recv()) {
            Ok(message) => Some(Ok(message)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Err(Lagged(missed))),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}
