//! Sessions, channels and rate limits on a real Redis (Debian's `redis-server`, started by
//! each test on a free loopback port in a temporary directory and stopped by its pid): the
//! session and channel suites every store runs, what only a shared store does (two apps,
//! as two instances, see each other's sessions, messages and counts), and what happens
//! while Redis is down (bounded 503s, rate limits open, one log line each way) and after
//! it is back (everything works again, subscribers included, without a restart).
//!
//! Every test needs redis-server, so each is `#[ignore]`d with the reason:
//! `cargo test --workspace` lists them as not run, and `-- --include-ignored` (as
//! `.ci/run`, which installs it) runs them, failing with a message within seconds when it
//! is missing (`ERLEN_REDIS_SERVER` names another binary) or does not start.

#![cfg(unix)]

use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen::{Lagged, SessionStore};
use erlen_tests::outside::RedisServer;
use erlen_tests::{channel_cases, session_cases};
use erlen_tests::{logs, now_secs};

/// The app of a case, with its sessions in the Redis `url`.
fn on_redis(url: String) -> impl Fn(App) -> App + Send + Sync {
    move |app: App| app.redis(url.clone()).session_store(SessionStore::Redis)
}

/// One `#[test]` per case of the session suite, each with a Redis server of its own.
macro_rules! session_suite {
    ($($case:ident),* $(,)?) => {
        mod sessions_on_redis {
            use super::*;
            $(
                #[test]
                #[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
                fn $case() {
                    let redis = RedisServer::start();
                    session_cases::$case(&on_redis(redis.url()));
                }
            )*
        }
    };
}

session_suite!(
    the_session_and_flashes_work_over_sockets_on_both_backends,
    tampered_truncated_and_foreign_cookies_are_empty_sessions,
    rotated_keys_keep_old_sessions_valid,
    permanent_sessions_get_a_max_age,
    a_session_without_a_secret_key_is_a_logged_500,
    cookies_are_read_set_and_deleted,
    follow_redirects_goes_through_post_redirect_get,
    session_transaction_reads_and_changes_the_clients_session,
    templates_see_flashes_once_per_request_and_the_session,
    a_logout_revokes_the_old_cookie,
    regenerate_moves_the_session,
);

/// One `#[test]` per case of the channel suite, through a Redis server of its own.
macro_rules! channel_suite {
    ($($case:ident),* $(,)?) => {
        mod channels_on_redis {
            use super::*;
            $(
                #[test]
                #[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
                fn $case() {
                    let redis = RedisServer::start();
                    let url = redis.url();
                    channel_cases::$case(&move |app: App| app.redis(url.clone()));
                }
            )*
        }
    };
}

channel_suite!(
    messages_arrive_in_publish_order_on_both_backends,
    the_test_client_subscribes_in_process,
    a_slow_subscriber_is_told_it_lagged,
);

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
fn a_session_is_one_redis_record_with_the_sessions_lifetime() {
    let redis = RedisServer::start();
    let client = session_cases::app_with(&on_redis(redis.url())).test_client();
    client.post("/login/ada").send();
    let keys = redis.command_lines("KEYS erlen:session:*", 2).expect("redis answers");
    assert_eq!(keys[0], "*1", "one record: {keys:?}");
    let key = redis.command_lines("KEYS erlen:session:*", 3).expect("redis answers")[2].clone();
    assert!(key.starts_with("erlen:session:"), "{key}");
    let id = key.trim_start_matches("erlen:session:");
    assert!(id.len() >= 22, "at least 128 random bits in the id: {id}");
    let cookie = client.cookie("session").expect("a session cookie");
    assert!(!cookie.contains("ada"), "the cookie carries the id, not the data: {cookie}");
    // A browser session's record lives as long as a permanent one would (Flask-Session's
    // PERMANENT_SESSION_LIFETIME, 31 days), refreshed on each request.
    let ttl: i64 = redis.command(&format!("TTL {key}")).expect("redis answers")[1..].parse().expect("a TTL");
    assert!((31 * 86_400 - 60..=31 * 86_400).contains(&ttl), "TTL {ttl}");
    client.post("/logout").send();
    assert_eq!(redis.command("KEYS erlen:session:*").as_deref(), Some("*0"), "a logout deletes the record");
}

/// Two apps (two instances, each on its own backend) on one Redis: a session made on one
/// is the same session on the other, and a logout on either ends it on both.
#[test]
#[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
fn two_instances_share_one_session() {
    let redis = RedisServer::start();
    let store = on_redis(redis.url());
    let a = session_cases::Browser::new(session_cases::app_with(&store), Backend::Async);
    let b = session_cases::Browser::new(session_cases::app_with(&store), Backend::Threaded { workers: 2 });
    a.send(Method::POST, "/login/ada");
    let cookie = a.cookie("session").expect("a session cookie");
    b.set_cookie("session", &cookie);
    assert_eq!(b.send(Method::GET, "/peek").2, "ada", "b reads what a wrote");
    b.send(Method::POST, "/logout");
    assert_eq!(a.send(Method::GET, "/peek").2, "", "a logout on b ends the session on a");
}

#[get("/limited", rate_limit = "3/hour")]
fn limited() -> &'static str {
    "ok"
}

/// The rate limit counts a client's requests across every instance: three an hour in all,
/// not three on each.
#[test]
#[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
fn a_rate_limit_counts_across_instances() {
    let redis = RedisServer::start();
    let start = |backend| {
        let app = App::new().redis(redis.url()).register(handlers![limited]);
        Server::bind("127.0.0.1:0").backend(backend).trust_proxy(1).spawn(app).expect("the server starts")
    };
    let servers = [start(Backend::Async), start(Backend::Threaded { workers: 2 })];
    let urls: Vec<String> = servers.iter().map(|s| format!("http://{}/limited", s.addr())).collect();
    let client = reqwest::Client::new();
    // Six requests of one client, alternating; a second client's own count. Repeated if
    // the hour turned in the middle.
    for _ in 0..2 {
        let hour = now_secs() / 3600;
        let seen: Vec<(u16, Option<String>)> = erlen::block_on(async {
            let mut seen = Vec::new();
            for (n, who) in ["192.0.2.1"; 6].into_iter().chain(["192.0.2.2"]).enumerate() {
                let resp = client.get(&urls[n % 2]).header("x-forwarded-for", who).send().await.unwrap();
                let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                seen.push((resp.status().as_u16(), retry));
            }
            seen
        });
        if now_secs() / 3600 != hour {
            continue;
        }
        let statuses: Vec<u16> = seen.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 200], "{seen:?}");
        let retry: u64 = seen[3].1.as_deref().expect("Retry-After").parse().unwrap();
        assert!((1..=3600).contains(&retry), "{retry}");
        return;
    }
    panic!("the hour turned twice during the test");
}

/// One Redis subscription per channel per process, however many subscribe in it; a
/// message published by either app reaches every subscriber of both.
#[test]
#[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
fn channels_span_instances_with_one_subscription_each() {
    let redis = RedisServer::start();
    let a = App::new().redis(redis.url());
    let b = App::new().redis(redis.url());
    let (ca, cb) = (a.channels(), b.channels());
    // Built (as served), each app's channels go through Redis.
    let (a, b) = (a.test_client(), b.test_client());
    let mut heard: Vec<_> = (0..3).map(|_| ca.subscribe_blocking("news").unwrap()).collect();
    heard.extend((0..2).map(|_| cb.subscribe_blocking("news").unwrap()));
    let numsub = redis.command_lines("PUBSUB NUMSUB news", 4).expect("redis answers");
    assert_eq!(numsub[3], ":2", "one subscription for each app, five subscribers: {numsub:?}");
    ca.publish_blocking("news", "from a").unwrap();
    cb.publish_blocking("news", "from b").unwrap();
    for (n, news) in heard.iter_mut().enumerate() {
        for expected in ["from a", "from b"] {
            assert_eq!(news.next(), Some(Ok(Bytes::from(expected))), "subscriber {n}");
        }
    }
    drop((a, b));
}

#[post("/visit")]
async fn visit(session: Session) -> String {
    let visits = session.get::<u64>("visits").unwrap_or(0) + 1;
    session.insert("visits", visits);
    visits.to_string()
}

#[post("/sync/visit")]
fn sync_visit(session: Session) -> String {
    let visits = session.get::<u64>("visits").unwrap_or(0) + 1;
    session.insert("visits", visits);
    visits.to_string()
}

#[post("/say")]
async fn say(channels: Channels, text: String) -> Result<&'static str, HttpError> {
    channels.publish("news", text).await?;
    Ok("sent")
}

#[get("/open", rate_limit = "1000/hour")]
fn open() -> &'static str {
    "open"
}

fn lines_with(port: u16, needle: &str) -> usize {
    let port = format!(":{port}/");
    let log = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    log.lines().filter(|line| line.contains(&port) && line.contains(needle)).count()
}

/// Redis stopped: sessions and publishes are 503s with `Retry-After` after a bounded
/// wait, a rate-limited route stays open, the outage is logged once and its end once;
/// Redis started again, everything works without a restart, and a subscriber that was
/// listening before the outage hears what is published after it. On both backends, from
/// sync and async views.
#[test]
#[ignore = "needs redis-server (apt-get install redis-server); run with: cargo test --workspace -- --include-ignored"]
fn while_redis_is_down_requests_fail_fast_and_after_it_everything_works_again() {
    let _ = logs();
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        outage_on(backend);
    }
}

fn outage_on(backend: Backend) {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let timeout = Duration::from_millis(500);
    let app = App::new()
        .secret_key("one secret")
        .redis(redis.url())
        .redis_timeout(timeout)
        .session_store(SessionStore::Redis)
        .register(handlers![visit, sync_visit, say, open]);
    let channels = app.channels();
    let mut listening = erlen::block_on(channels.subscribe("news")).expect("subscribed while Redis is up");
    let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app).expect("the server starts");
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let send = |method: &str, path: &str, cookie: &Option<String>| {
        let mut request = client.request(method.parse().unwrap(), format!("{base}{path}")).body("hello");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let started = Instant::now();
        erlen::block_on(async {
            let resp = request.send().await.expect("an answer, never a dropped connection");
            let took = started.elapsed();
            let status = resp.status().as_u16();
            let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_string());
            let retry = header("retry-after");
            let set = header("set-cookie").map(|v| v.split(';').next().unwrap_or_default().to_string());
            (status, retry, set, resp.text().await.unwrap_or_default(), took)
        })
    };

    let (status, _, cookie, text, _) = send("POST", "/visit", &None);
    assert_eq!((status, text.as_str()), (200, "1"), "{backend:?}");
    assert!(cookie.is_some(), "a session cookie");
    assert_eq!(send("POST", "/sync/visit", &cookie).3, "2", "{backend:?}");

    redis.stop();
    for path in ["/visit", "/sync/visit", "/say", "/visit", "/sync/visit"] {
        let (status, retry, _, text, took) = send("POST", path, &cookie);
        assert_eq!(status, 503, "{backend:?} {path} while Redis is down: {text}");
        assert_eq!(retry.as_deref(), Some("1"), "{backend:?} {path}");
        assert!(text.contains("shared store"), "{backend:?} {path}: {text}");
        assert!(took < timeout * 6, "{backend:?} {path} answered after {took:?}, beyond the bound");
    }
    let (status, _, _, text, _) = send("GET", "/open", &None);
    assert_eq!((status, text.as_str()), (200, "open"), "{backend:?}: a rate limit fails open");
    assert_eq!(
        lines_with(port, "a shared store is unavailable"),
        1,
        "{backend:?}: the outage is logged once; the log:\n{}",
        String::from_utf8_lossy(&logs().lock().unwrap())
    );

    redis.start_again();
    // The connections are remade by themselves: requests succeed again within the
    // reconnection's backoff. The records went with the old server (it kept nothing on
    // disk), so the session starts again.
    let until = Instant::now() + Duration::from_secs(20);
    while send("POST", "/visit", &cookie).0 != 200 {
        assert!(Instant::now() < until, "{backend:?}: sessions do not work again after Redis is back");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(send("POST", "/sync/visit", &cookie).0, 200, "{backend:?}");
    // The subscriber from before the outage was subscribed again: it hears a new message.
    let until = Instant::now() + Duration::from_secs(20);
    let heard = loop {
        assert_eq!(send("POST", "/say", &None).0, 200, "{backend:?}: publishing works again");
        let next = erlen::block_on(async {
            tokio::time::timeout(Duration::from_millis(500), futures::StreamExt::next(&mut listening)).await
        });
        match next {
            Ok(Some(Ok(message))) => break message,
            Ok(Some(Err(Lagged(_)))) | Err(_) => {}
            Ok(None) => panic!("{backend:?}: the subscription ended"),
        }
        assert!(Instant::now() < until, "{backend:?}: the old subscriber hears nothing after the outage");
    };
    assert_eq!(heard, Bytes::from("hello"));
    assert_eq!(
        lines_with(port, "a shared store is unavailable"),
        1,
        "{backend:?}: one outage, one line; the log:\n{}",
        String::from_utf8_lossy(&logs().lock().unwrap())
    );
    assert_eq!(lines_with(port, "a shared store is back"), 1, "{backend:?}: its end, one line");
}
