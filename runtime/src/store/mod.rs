//! What erlen keeps outside a request and, with Redis, outside the process: the error a
//! store gives when it cannot answer, and the connection to Redis (feature `redis`) that
//! server-side sessions, channels and rate limits share.
//!
//! A store that cannot answer within its bounded wait is a [`StoreError`]: a 503 the app's
//! error handlers see, logged once per outage rather than once per request, never a panic
//! or a request that waits for ever.

#[cfg(feature = "redis")]
mod outage;
#[cfg(feature = "redis")]
mod redis;

pub use crate::error::StoreError;
#[cfg(feature = "redis")]
pub(crate) use outage::{Link, Outage};
#[cfg(feature = "redis")]
pub(crate) use redis::Redis;
