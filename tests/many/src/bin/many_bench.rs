//! The many-instances benchmark's two halves, run by `scripts/many-bench.sh`:
//!
//! - `many_bench sessions`: starts a `redis-server` and three servers of one app whose
//!   `GET /visit` reads and writes the session, one per store (cookie, memory, Redis), prints
//!   `STORE PORT` lines and `ready`, and serves until SIGTERM or SIGINT; the script loads
//!   them with wrk.
//! - `many_bench channels [ROUNDS]`: measures channels in this process: messages per second
//!   and publish-to-receive latency for 1, 100 and 1,000 subscribers, in one app (memory)
//!   and across two apps through a `redis-server` (the publisher's app and the subscribers'
//!   app each have their own Redis connections, as two instances do). Prints one table.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen::{Channels, Lagged, SessionStore};
use erlen_tests::outside::RedisServer;
use futures::StreamExt;

#[get("/visit")]
async fn visit(session: Session) -> String {
    let visits = session.get::<u64>("visits").unwrap_or(0) + 1;
    session.insert("visits", visits);
    visits.to_string()
}

fn sessions() -> std::io::Result<()> {
    let redis = RedisServer::start();
    let app = |store: SessionStore| {
        App::new().secret_key("bench").redis(redis.url()).session_store(store).register(handlers![visit])
    };
    let mut servers = Vec::new();
    for (name, store) in
        [("cookie", SessionStore::Cookie), ("memory", SessionStore::Memory), ("redis", SessionStore::Redis)]
    {
        let server = Server::bind("127.0.0.1:0").backend(Backend::Async).spawn(app(store))?;
        println!("{name} {}", server.addr().port());
        servers.push(server);
    }
    println!("ready");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        std::io::Result::Ok(())
    })?;
    drop(servers);
    drop(redis);
    Ok(())
}

/// What the subscribers of one measurement saw.
#[derive(Default)]
struct Seen {
    received: AtomicU64,
    missed: AtomicU64,
}

/// Nanoseconds since `base`, as a message's payload.
fn stamp(base: Instant) -> Bytes {
    Bytes::copy_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes())
}

fn sent_at(message: &[u8]) -> u64 {
    message.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).unwrap_or(0)
}

/// One measurement: `subscribers` listen on `subscribe_on`, `publish_on` publishes
/// `count` messages, back to back in batches (throughput) or one every `pace` (latency).
/// Returns messages per second (published and delivered to every subscriber), the
/// latencies in microseconds, and the messages the subscribers missed (lagged).
async fn measure(
    publish_on: &Channels,
    subscribe_on: &Channels,
    channel: &str,
    subscribers: usize,
    count: u64,
    pace: Option<Duration>,
) -> (f64, Vec<u32>, u64) {
    let base = Instant::now();
    let seen = Arc::new(Seen::default());
    let mut tasks = Vec::new();
    for _ in 0..subscribers {
        let mut heard = subscribe_on.subscribe(channel).await.expect("subscribed");
        let seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut accounted = 0;
            while accounted < count {
                match tokio::time::timeout(Duration::from_secs(10), heard.next()).await {
                    Ok(Some(Ok(message))) => {
                        let now = base.elapsed().as_nanos() as u64;
                        latencies.push((now.saturating_sub(sent_at(&message)) / 1000) as u32);
                        seen.received.fetch_add(1, Ordering::Relaxed);
                        accounted += 1;
                    }
                    Ok(Some(Err(Lagged(missed)))) => {
                        seen.missed.fetch_add(missed, Ordering::Relaxed);
                        accounted += missed;
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    for n in 1..=count {
        publish_on.publish(channel, stamp(base)).await.expect("published");
        match pace {
            Some(pace) => tokio::time::sleep(pace).await,
            // Back to back, in batches of 256 (a quarter of what a channel keeps for a
            // subscriber that is behind): the next batch goes once every subscriber has
            // the last one, so the rate is one that every subscriber keeps up with.
            None if n % 256 == 0 || n == count => {
                let until = Instant::now() + Duration::from_secs(10);
                while seen.received.load(Ordering::Relaxed) + seen.missed.load(Ordering::Relaxed)
                    < n * subscribers as u64
                    && Instant::now() < until
                {
                    tokio::task::yield_now().await;
                }
            }
            None => {}
        }
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    let took = started.elapsed().as_secs_f64();
    (count as f64 / took, latencies, seen.missed.load(Ordering::Relaxed))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn channels(rounds: usize) -> std::io::Result<()> {
    let redis = RedisServer::start();
    // Built apps: their channels are what their handlers get. Two apps on one Redis are
    // two instances, each with its own connections.
    let memory = App::new();
    let (publisher, subscribers) = (App::new().redis(redis.url()), App::new().redis(redis.url()));
    let (in_memory, from, to) = (memory.channels(), publisher.channels(), subscribers.channels());
    let _clients = (memory.test_client(), publisher.test_client(), subscribers.test_client());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    println!(
        "{:<40} {:>12} {:>14} {:>10} {:>10} {:>7}",
        "channels", "messages/s", "deliveries/s", "median ms", "p99 ms", "missed"
    );
    for subscribers in [1usize, 100, 1000] {
        for (name, publish_on, subscribe_on) in
            [("in one process", &in_memory, &in_memory), ("across two, via Redis", &from, &to)]
        {
            let mut rates = Vec::new();
            let mut latencies = Vec::new();
            let mut missed = 0;
            for round in 0..rounds {
                let channel = format!("bench:{subscribers}:{round}");
                // Throughput: as fast as the publisher can go.
                let count = (200_000 / subscribers as u64).clamp(1000, 20_000);
                let (rate, _, lost) =
                    runtime.block_on(measure(publish_on, subscribe_on, &channel, subscribers, count, None));
                rates.push(rate);
                missed += lost;
                // Latency: 200 messages, one every 5 ms.
                let (_, mut seen, lost) = runtime.block_on(measure(
                    publish_on,
                    subscribe_on,
                    &format!("{channel}:paced"),
                    subscribers,
                    200,
                    Some(Duration::from_millis(5)),
                ));
                latencies.append(&mut seen);
                missed += lost;
            }
            latencies.sort_unstable();
            let rate = median(rates);
            println!(
                "{:<40} {:>12.0} {:>14.0} {:>10.2} {:>10.2} {:>7}",
                format!("{subscribers} subscribers, {name}"),
                rate,
                rate * subscribers as f64,
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                missed
            );
        }
    }
    drop(redis);
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("sessions") => sessions(),
        Some("channels") => channels(args.get(1).and_then(|r| r.parse().ok()).unwrap_or(3)),
        _ => {
            eprintln!("usage: many_bench sessions | many_bench channels [ROUNDS]");
            std::process::exit(2);
        }
    }
}
