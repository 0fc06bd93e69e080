//! erlen deployed as the guide says: two processes of one app (`deploy_fixture`, one on
//! each backend) behind a real nginx as a load balancer, configured with
//! `tests/many/nginx/erlen.conf` (the file docs/deployment.md shows), sharing one real
//! Redis. Requests are spread over both; a session made on one is valid on the other and a
//! logout on either ends it everywhere; `remote_addr` is the client's; a chat message and
//! an event published through one reach clients of the other; the rate limit counts
//! across both; a rolling restart under load loses no request; and Redis stopped and
//! started under load gives 503s only while it is down, then works again.
//!
//! nginx and redis-server run unprivileged, with their files in a temporary directory, and
//! are stopped by their pids, also when a test fails. These tests need both, so they are
//! `#[ignore]`d: `cargo test --workspace` lists them as not run, and
//! `cargo test --workspace -- --include-ignored` (as `.ci/run`, which installs them) runs
//! them. Run so, they fail with a message when either is missing (`ERLEN_NGINX`,
//! `ERLEN_REDIS_SERVER` name other binaries) or does not start, within seconds.

#![cfg(unix)]

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use erlen_tests::outside::{Nginx, Process, RedisServer, TempDir, free_port, wait_until_healthy};
use erlen_tests::{WsClient, next_text, now_secs};
use futures::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const CONFIG: &str = include_str!("../nginx/erlen.conf");
const SECRET: &str = "one secret for every instance";

/// A knob for heavier runs by hand, such as
/// `ERLEN_NGINX_TASKS=64 ERLEN_NGINX_PACE_MS=0 ERLEN_NGINX_ROUNDS=5 cargo test -p erlen-many --test deploy -- --include-ignored --nocapture`.
fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One instance of the app: its name, backend, port and log file.
struct Instance {
    name: &'static str,
    backend: &'static str,
    port: u16,
    log: PathBuf,
    redis: String,
}

impl Instance {
    fn start(&self) -> Process {
        let log = fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_deploy_fixture"))
            .env("ERLEN_ADDR", format!("127.0.0.1:{}", self.port))
            .env("ERLEN_BACKEND", self.backend)
            .env("ERLEN_WORKERS", "4")
            .env("ERLEN_SECRET_KEY", SECRET)
            .env("ERLEN_TRUST_PROXY", "1")
            .env("ERLEN_REDIS_URL", &self.redis)
            .env("ERLEN_LOG", "warn")
            .env("FIXTURE_INSTANCE", self.name)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the fixture starts");
        let process = Process::new(self.name, child);
        wait_until_healthy(&format!("http://127.0.0.1:{}/health", self.port), self.name);
        process
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn logged(&self, needle: &str) -> usize {
        fs::read_to_string(&self.log).unwrap_or_default().lines().filter(|l| l.contains(needle)).count()
    }
}

/// Redis, two instances (a: async, b: threaded) and nginx in front, in one directory.
struct Deployment {
    instances: [Instance; 2],
    processes: Vec<Process>,
    nginx: Nginx,
    redis: RedisServer,
    port: u16,
    // Dropped last: the files of everything above.
    _dir: TempDir,
}

impl Deployment {
    fn start() -> Deployment {
        // nginx first: a missing nginx fails the test before anything else starts.
        erlen_tests::outside::find_binary("nginx", "ERLEN_NGINX", "nginx");
        let redis = RedisServer::start();
        let dir = TempDir::new("deploy");
        let instance = |name, backend, log: &str| Instance {
            name,
            backend,
            port: free_port(),
            log: dir.path().join(log),
            redis: redis.url(),
        };
        let instances = [instance("a", "async", "a.log"), instance("b", "threaded", "b.log")];
        let processes = instances.iter().map(Instance::start).collect();
        let port = free_port();
        let site = CONFIG
            .replace("127.0.0.1:5001", &format!("127.0.0.1:{}", instances[0].port))
            .replace("127.0.0.1:5002", &format!("127.0.0.1:{}", instances[1].port))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
        let nginx = Nginx::start(dir.path(), &site, &format!("http://127.0.0.1:{port}/health"));
        Deployment { instances, processes, nginx, redis, port, _dir: dir }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn json(resp: reqwest::Response) -> Value {
    erlen::block_on(resp.json()).expect("a JSON answer")
}

fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    erlen::block_on(request.send()).expect("an answer")
}

fn session_cookie(resp: &reqwest::Response) -> String {
    let set = resp.headers().get("set-cookie").expect("a session cookie").to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// Opens chat sockets through nginx until one lands on `instance`.
async fn chat_on(deployment: &Deployment, name: &str, instance: &str) -> WsClient {
    let url = deployment.url(&format!("/chat/{name}")).replacen("http", "ws", 1);
    for _ in 0..20 {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(&url).await.expect("the upgrade goes through nginx");
        let welcome = next_text(&mut ws).await;
        if welcome == format!("welcome to {instance}") {
            return ws;
        }
        let _ = ws.close(None).await;
    }
    panic!("nginx never sent {name}'s chat to instance {instance}");
}

/// An event stream through nginx that landed on `instance`: the response and what is
/// left of what was read.
async fn events_on(
    client: &reqwest::Client,
    deployment: &Deployment,
    instance: &str,
) -> (reqwest::Response, String) {
    for _ in 0..20 {
        let mut resp = client.get(deployment.url("/events")).send().await.expect("the stream opens");
        assert_eq!(resp.status(), 200);
        let mut seen = String::new();
        let (event, data) = next_event(&mut resp, &mut seen).await;
        assert_eq!(event, "ready");
        if data == instance {
            return (resp, seen);
        }
    }
    panic!("nginx never sent an event stream to instance {instance}");
}

/// The next event's name and data.
async fn next_event(resp: &mut reqwest::Response, seen: &mut String) -> (String, String) {
    let next = async {
        loop {
            if let Some(end) = seen.find("\n\n") {
                let event: String = seen.drain(..end + 2).collect();
                if event.lines().all(|l| l.starts_with(':')) {
                    continue; // a keep-alive comment
                }
                let field = |name: &str| {
                    event
                        .lines()
                        .filter_map(|l| l.strip_prefix(name))
                        .map(str::trim_start)
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                return (field("event:"), field("data:"));
            }
            let chunk = resp.chunk().await.expect("the stream reads").expect("the stream goes on");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(20), next).await.expect("an event within 20 s")
}

#[test]
#[ignore = "needs nginx and redis-server (apt-get install nginx redis-server); run with: cargo test --workspace -- --include-ignored"]
fn two_instances_behind_nginx_share_sessions_messages_and_limits() {
    let deployment = Deployment::start();
    let [a, b] = &deployment.instances;
    let client = reqwest::Client::new();

    // Requests are spread over both instances.
    let seen: HashSet<String> = (0..20)
        .map(|_| {
            json(send(client.get(deployment.url("/whoami"))))["instance"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(seen, HashSet::from(["a".to_string(), "b".to_string()]), "both instances serve");

    // A session made on a is the same session on b, and a logout on b ends it on a: the
    // record lives in Redis, so the old cookie is worth nothing anywhere.
    let login = send(client.post(a.url("/login")));
    let cookie = session_cookie(&login);
    assert_eq!(erlen::block_on(login.text()).unwrap(), "a");
    let me = json(send(client.get(b.url("/me")).header("cookie", &cookie)));
    assert_eq!((me["instance"].as_str(), me["user"].as_str()), (Some("b"), Some("ada")), "{me}");
    for _ in 0..4 {
        let me = json(send(client.get(deployment.url("/me")).header("cookie", &cookie)));
        assert_eq!(me["user"], "ada", "through nginx, on either instance: {me}");
    }
    assert_eq!(
        erlen::block_on(send(client.post(b.url("/logout")).header("cookie", &cookie)).text()).unwrap(),
        "b"
    );
    let me = json(send(client.get(a.url("/me")).header("cookie", &cookie)));
    assert_eq!(me["user"], Value::Null, "the old cookie is an empty session on a: {me}");

    // remote_addr is the client's (127.0.0.2 here), not nginx's (127.0.0.1), nor a forged one.
    let from =
        reqwest::Client::builder().local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).build().unwrap();
    for _ in 0..2 {
        let v = json(send(
            from.get(deployment.url("/whoami"))
                .header("x-forwarded-for", "203.0.113.9")
                .header("x-forwarded-host", "evil.example"),
        ));
        assert_eq!(v["remote"], "127.0.0.2", "{v}");
        assert_eq!(v["scheme"], "http", "{v}");
        assert_eq!(v["external"], deployment.url("/whoami"), "{v}");
    }

    // The rate limit (5 an hour) counts the client's requests on both instances: 5 of 10
    // pass, in all. Repeated if the hour turned meanwhile.
    let statuses = (0..2)
        .find_map(|_| {
            let hour = now_secs() / 3600;
            let from = reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))
                .build()
                .unwrap();
            let answers: Vec<(u16, String, Option<String>)> = (0..10)
                .map(|_| {
                    let resp = send(from.get(deployment.url("/limited")));
                    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                    (resp.status().as_u16(), erlen::block_on(resp.text()).unwrap(), retry)
                })
                .collect();
            (now_secs() / 3600 == hour).then_some(answers)
        })
        .expect("the hour turned twice during the test");
    let passed: Vec<&str> =
        statuses.iter().filter(|(s, ..)| *s == 200).map(|(_, who, _)| who.as_str()).collect();
    assert_eq!(passed.len(), 5, "five of ten pass, across both instances: {statuses:?}");
    assert_eq!(passed.iter().collect::<HashSet<_>>().len(), 2, "both instances counted: {statuses:?}");
    for (status, _, retry) in statuses.iter().filter(|(s, ..)| *s != 200) {
        assert_eq!(*status, 429, "{statuses:?}");
        let retry: u64 = retry.as_deref().expect("Retry-After").parse().unwrap();
        assert!((1..=3600).contains(&retry), "{retry}");
    }

    erlen::block_on(async {
        // A chat message said through one instance reaches a member of the other, both
        // connected through nginx.
        let mut ada = chat_on(&deployment, "ada", "a").await;
        let mut bob = chat_on(&deployment, "bob", "b").await;
        ada.send(Message::text("hello from a")).await.unwrap();
        assert_eq!(next_text(&mut bob).await, "ada: hello from a");
        assert_eq!(next_text(&mut ada).await, "ada: hello from a");
        bob.send(Message::text("hello from b")).await.unwrap();
        assert_eq!(next_text(&mut ada).await, "bob: hello from b");
        let _ = ada.close(None).await;
        let _ = bob.close(None).await;

        // An event published on one instance (by a plain fn) reaches a stream on the other.
        let (mut on_a, mut seen_a) = events_on(&client, &deployment, "a").await;
        let (mut on_b, mut seen_b) = events_on(&client, &deployment, "b").await;
        let published = client.post(b.url("/publish")).body("news from b").send().await.unwrap();
        assert_eq!(published.text().await.unwrap(), "b");
        assert_eq!(next_event(&mut on_a, &mut seen_a).await, (String::new(), "news from b".to_string()));
        assert_eq!(next_event(&mut on_b, &mut seen_b).await, (String::new(), "news from b".to_string()));
        let published = client.post(a.url("/publish")).body("news from a").send().await.unwrap();
        assert_eq!(published.text().await.unwrap(), "a");
        assert_eq!(next_event(&mut on_b, &mut seen_b).await, (String::new(), "news from a".to_string()));
        assert_eq!(next_event(&mut on_a, &mut seen_a).await, (String::new(), "news from a".to_string()));
        // One Redis subscription per channel per instance, however many listen there.
        let (mut more, mut seen_more) = events_on(&client, &deployment, "a").await;
        let numsub = deployment.redis.command_lines("PUBSUB NUMSUB events", 4).expect("redis answers");
        assert_eq!(numsub[3], ":2", "{numsub:?}");
        client.post(a.url("/publish")).body("for all").send().await.unwrap();
        assert_eq!(next_event(&mut more, &mut seen_more).await.1, "for all");
        assert_eq!(next_event(&mut on_a, &mut seen_a).await.1, "for all");
        assert_eq!(next_event(&mut on_b, &mut seen_b).await.1, "for all");
    });
}

/// What the load saw.
#[derive(Default)]
struct Counts {
    sent: AtomicUsize,
    answered: AtomicUsize,
    failed: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Counts {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 10 {
            failures.push(what);
        }
    }
}

/// `tasks` clients, each sending a GET then a POST and so on every `every`, until `stop`.
async fn load(base: String, tasks: usize, every: Duration, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let body = vec![b'x'; 1024];
    let mut running = Vec::new();
    for task in 0..tasks {
        let (client, base, stop, counts, body) =
            (client.clone(), base.clone(), stop.clone(), counts.clone(), body.clone());
        running.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_micros(1)));
            let mut n = task;
            while !stop.load(Ordering::SeqCst) {
                if !every.is_zero() {
                    tick.tick().await;
                }
                n += 1;
                counts.sent.fetch_add(1, Ordering::SeqCst);
                let post = n % 2 == 0;
                let sent = if post {
                    client.post(format!("{base}/echo")).body(body.clone()).send().await
                } else {
                    client.get(format!("{base}/whoami")).send().await
                };
                let method = if post { "POST" } else { "GET" };
                match sent {
                    Ok(resp) => {
                        let status = resp.status();
                        let text = resp.text().await.unwrap_or_default();
                        let good = status == 200
                            && if post { text.starts_with("1024 ") } else { text.contains("instance") };
                        if good {
                            counts.answered.fetch_add(1, Ordering::SeqCst);
                        } else {
                            counts.fail(format!("{method}: {status} {text:.200}"));
                        }
                    }
                    Err(e) => counts.fail(format!("{method}: {e}")),
                }
            }
        }));
    }
    for task in running {
        let _ = task.await;
    }
}

#[test]
#[ignore = "needs nginx and redis-server (apt-get install nginx redis-server); run with: cargo test --workspace -- --include-ignored"]
fn a_rolling_restart_behind_nginx_loses_nothing() {
    let mut deployment = Deployment::start();
    let base = deployment.url("");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    // 16 clients, each sending every 40 ms: 400 requests/s.
    let (tasks, pace) = (knob("ERLEN_NGINX_TASKS", 16), knob("ERLEN_NGINX_PACE_MS", 40));
    let every = Duration::from_millis(pace);
    let running = runtime.spawn(load(base.clone(), tasks as usize, every, stop.clone(), counts.clone()));
    let load_started = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    // SIGTERM a, start it again, then the same for b.
    for _ in 0..knob("ERLEN_NGINX_ROUNDS", 1) {
        for i in 0..2 {
            let process = &mut deployment.processes[i];
            let instance = &deployment.instances[i];
            process.signal(libc::SIGTERM);
            let status = process.wait(Duration::from_secs(15)).expect("the instance stops within 15 s");
            assert!(status.success(), "{} exited with {status}", instance.name);
            *process = instance.start();
            // nginx tries an instance it took out of rotation again once `fail_timeout`
            // (1 s, counted in whole seconds) has passed: only then is the next one stopped.
            std::thread::sleep(Duration::from_millis(2500));
        }
    }
    stop.store(true, Ordering::SeqCst);
    let finished = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(15), running).await });
    assert!(finished.is_ok(), "the load stopped");
    let took = load_started.elapsed().as_secs_f64();
    let (sent, answered, failed) = (
        counts.sent.load(Ordering::SeqCst),
        counts.answered.load(Ordering::SeqCst),
        counts.failed.load(Ordering::SeqCst),
    );
    let rate = sent as f64 / took;
    println!(
        "rolling restart behind nginx: sent {sent}, answered {answered}, failed {failed} in {took:.1} s ({rate:.0} requests/s, GET and POST alternating, {tasks} clients)"
    );
    let log = deployment.nginx.log();
    let lines = |needle: &str| log.lines().filter(|line| line.contains(needle)).count();
    println!(
        "nginx saw: {} refused connects (retried on the other instance), {} connections reset and {} closed early while awaiting a response",
        lines("Connection refused"),
        lines("reset by peer"),
        lines("prematurely closed"),
    );
    let failures = counts.failures.lock().unwrap().clone();
    if failed > 0 {
        println!("failures: {failures:#?}");
        println!("nginx error.log:\n{log}");
    }
    assert_eq!(failed, 0, "no request may fail: {failures:?}");
    assert_eq!(sent, answered);
    assert!(rate >= 200.0, "the load ran at {rate:.0} requests/s, below 200");
}

/// One answer of the Redis outage's load: when it was sent, how long it took, and what
/// it was.
struct Answer {
    at: Duration,
    took: Duration,
    status: Option<u16>,
    retry: Option<String>,
}

#[test]
#[ignore = "needs nginx and redis-server (apt-get install nginx redis-server); run with: cargo test --workspace -- --include-ignored"]
fn redis_stopped_and_started_under_load_gives_503s_only_while_it_is_down() {
    let mut deployment = Deployment::start();
    let base = deployment.url("");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let started = Instant::now();
    // 8 clients, each with a session of its own, counting visits every 25 ms.
    let running = runtime.spawn({
        let (stop, answers) = (stop.clone(), answers.clone());
        async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let (client, base, stop, answers) =
                    (client.clone(), base.clone(), stop.clone(), answers.clone());
                tasks.push(tokio::spawn(async move {
                    let mut cookie: Option<String> = None;
                    while !stop.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(25)).await;
                        let mut request = client.post(format!("{base}/visit"));
                        if let Some(cookie) = &cookie {
                            request = request.header("cookie", cookie);
                        }
                        let at = started.elapsed();
                        let sent = request.send().await;
                        let took = started.elapsed() - at;
                        let answer = match sent {
                            Ok(resp) => {
                                if let Some(set) = resp.headers().get("set-cookie") {
                                    cookie =
                                        Some(set.to_str().unwrap().split(';').next().unwrap().to_string());
                                }
                                let retry = resp
                                    .headers()
                                    .get("retry-after")
                                    .map(|v| v.to_str().unwrap().to_string());
                                Answer { at, took, status: Some(resp.status().as_u16()), retry }
                            }
                            Err(_) => Answer { at, took, status: None, retry: None },
                        };
                        answers.lock().unwrap().push(answer);
                    }
                }));
            }
            for task in tasks {
                let _ = task.await;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    let down = started.elapsed();
    deployment.redis.stop();
    std::thread::sleep(Duration::from_secs(3));
    deployment.redis.start_again();
    let up = started.elapsed();
    std::thread::sleep(Duration::from_secs(7));
    stop.store(true, Ordering::SeqCst);
    let finished = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(40), running).await });
    assert!(finished.is_ok(), "the load stopped");

    let answers = answers.lock().unwrap();
    let count = |f: &dyn Fn(&Answer) -> bool| answers.iter().filter(|a| f(a)).count();
    let ok = count(&|a| a.status == Some(200));
    let unavailable = count(&|a| a.status == Some(503));
    let slowest = answers.iter().map(|a| a.took).max().unwrap_or_default();
    println!(
        "Redis down for {:.1} s under load: {} requests, {ok} answered 200, {unavailable} answered 503, slowest {slowest:?}",
        (up - down).as_secs_f64(),
        answers.len()
    );
    let odd: Vec<String> = answers
        .iter()
        .filter(|a| !matches!(a.status, Some(200 | 503)))
        .map(|a| format!("{:?} at {:?}", a.status, a.at))
        .collect();
    assert!(odd.is_empty(), "only 200s and 503s: {odd:?}");
    // The bound: the store's timeout (500 ms in the fixture), a reconnection's backoff,
    // and this machine's slowness: 5 s.
    let bound = Duration::from_secs(5);
    assert!(slowest < bound, "an answer took {slowest:?}");
    // A request still in flight when Redis stopped may meet the outage too.
    let late: Vec<Duration> = answers
        .iter()
        .filter(|a| a.status == Some(503) && (a.at + a.took < down || a.at > up + bound))
        .map(|a| a.at)
        .collect();
    assert!(late.is_empty(), "503s outside the outage ({down:?}..{up:?} + {bound:?}): {late:?}");
    assert!(unavailable > 0, "the outage was seen");
    for a in answers.iter().filter(|a| a.status == Some(503)) {
        assert_eq!(a.retry.as_deref(), Some("1"), "a 503 says when to try again");
    }
    let after = count(&|a| a.at > up + bound && a.status == Some(200));
    assert!(after > 0, "requests succeed again after Redis is back, without a restart");
    for instance in &deployment.instances {
        let log = fs::read_to_string(&instance.log).unwrap_or_default();
        assert_eq!(
            instance.logged("a shared store is unavailable"),
            1,
            "{}: logged once:\n{log}",
            instance.name
        );
        assert_eq!(instance.logged("a shared store is back"), 1, "{}: its end once:\n{log}", instance.name);
    }
}

#[test]
fn the_guide_shows_the_tested_nginx_config() {
    let guide = include_str!("../../../docs/deployment.md");
    assert!(guide.contains(CONFIG), "docs/deployment.md must quote tests/many/nginx/erlen.conf verbatim");
}

#[test]
fn access_logs_are_json_lines_with_a_json_subscriber() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_deploy_fixture"))
        .env("ERLEN_ADDR", format!("127.0.0.1:{port}"))
        .env("FIXTURE_JSON_LOGS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fixture starts");
    let stderr = child.stderr.take().unwrap();
    let process = Process::new("deploy_fixture", child);
    wait_until_healthy(&format!("http://127.0.0.1:{port}/health"), "the fixture");
    let logged = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .find(|line| line.contains("erlen::access"))
        .expect("the request is logged");
    drop(process);
    let line: Value = serde_json::from_str(&logged).expect("a JSON line");
    assert_eq!(line["target"], "erlen::access", "{line}");
    assert_eq!(line["fields"]["path"], "/health", "{line}");
    assert_eq!(line["fields"]["status"], 200, "{line}");
}
