//! Rate limits in the attribute, `#[post("/login", rate_limit = "5/minute")]`: so many
//! requests per period for each client (its address as `trust_proxy` resolves it), in
//! fixed windows of the period. Counted in this process's memory, or, with Redis, across
//! every instance, atomically in one round trip (`INCR` and `EXPIRE` in a transaction). A
//! request over the limit is a 429 with `Retry-After`. When Redis does not answer, the
//! limit fails open (the request goes through) and the log says so, once per outage.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::handler::RateLimit;

/// What a client's request is, against its route's limit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    /// Over the limit until the window ends, this long from now.
    Limited(Duration),
}

/// The app's rate limits: their counts.
#[derive(Default)]
pub(crate) struct Limiter {
    /// (route, client) -> (window, requests in it).
    counts: Mutex<HashMap<(String, String), (u64, u32)>>,
    #[cfg(feature = "redis")]
    redis: Option<std::sync::Arc<crate::store::Redis>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

impl Limiter {
    /// Limits counted in Redis, shared by every instance.
    #[cfg(feature = "redis")]
    pub(crate) fn on_redis(redis: std::sync::Arc<crate::store::Redis>) -> Limiter {
        Limiter { counts: Mutex::default(), redis: Some(redis) }
    }

    /// Counts a request of `client` to `route` and says whether it is within `limit`.
    pub(crate) async fn check(&self, route: &str, client: &str, limit: RateLimit) -> Verdict {
        let per = limit.per.as_secs().max(1);
        let now = now_secs();
        let window = now / per;
        let left = Duration::from_secs((window + 1) * per - now);
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            let key = format!("erlen:rate:{route}:{client}:{window}");
            let counted = redis
                .run(move |mut c| async move {
                    let (count,): (u64,) = redis::pipe()
                        .atomic()
                        .incr(&key, 1)
                        .expire(&key, per as i64 + 1)
                        .ignore()
                        .query_async(&mut c)
                        .await?;
                    Ok(count)
                })
                .await;
            return match counted {
                Ok(count) if count > u64::from(limit.count) => Verdict::Limited(left),
                Ok(_) => Verdict::Allowed,
                // Fails open: the outage is logged by the store, once.
                Err(_) => Verdict::Allowed,
            };
        }
        let mut counts = crate::sync::lock(&self.counts);
        // Windows that ended go as new ones come.
        if counts.len() % 256 == 0 {
            counts.retain(|_, (w, _)| *w + 1 >= window);
        }
        let entry = counts.entry((route.to_string(), client.to_string())).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 > limit.count { Verdict::Limited(left) } else { Verdict::Allowed }
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_its_count_per_window() {
        let limiter = Limiter::default();
        let limit = RateLimit { count: 2, per: Duration::from_secs(3600) };
        let check = |client| futures::executor::block_on(limiter.check("login", client, limit));
        assert_eq!(check("a"), Verdict::Allowed);
        assert_eq!(check("a"), Verdict::Allowed);
        assert!(matches!(check("a"), Verdict::Limited(left) if left <= Duration::from_secs(3600)));
        assert_eq!(check("b"), Verdict::Allowed, "another client has its own count");
    }
}
