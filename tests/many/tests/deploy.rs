//! erlen behind a real nginx on loopback, as deployed: two processes of one app
//! (`deploy_fixture`, one on each backend) behind nginx as a load balancer, configured with
//! `tests/nginx/erlen.conf` (the file docs/deployment.md shows). Requests are spread over
//! both, a session made on one instance is valid on the other, `remote_addr` is the
//! client's, and a rolling restart under load loses no request.
//!
//! nginx runs unprivileged, with its config, pid and logs in a temporary directory, and is
//! stopped by its pid, also when the test fails. The test needs nginx, so it is
//! `#[ignore]`d: `cargo test --workspace` lists it as not run, and
//! `cargo test --workspace -- --include-ignored` (as `.ci/run`, which installs nginx) runs
//! it. Run so, it fails with a message when nginx is missing (`ERLEN_NGINX` names another
//! binary) or does not start, within seconds.

#![cfg(unix)]

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CONFIG: &str = include_str!("../nginx/erlen.conf");
const SECRET: &str = "one secret for every instance";

/// A knob for heavier runs by hand, such as
/// `ERLEN_NGINX_TASKS=64 ERLEN_NGINX_PACE_MS=0 ERLEN_NGINX_ROUNDS=5 cargo test -p erlen-tests --test nginx -- --nocapture`.
fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// nginx: the binary `ERLEN_NGINX` names, else the first `nginx` in `PATH` or in the
/// `sbin` folders a user's `PATH` may lack. Fails, saying so, when there is none.
fn nginx_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ERLEN_NGINX").map(PathBuf::from) {
        assert!(
            path.is_file(),
            "this test needs nginx: ERLEN_NGINX names {}, which is missing; install nginx \
             (`apt-get install -y nginx`; .ci/run does), or unset ERLEN_NGINX to look in PATH",
            path.display()
        );
        return path;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test needs nginx: there is none in PATH, /usr/sbin or /usr/local/sbin; \
                 install it (`apt-get install -y nginx`; .ci/run does), or set ERLEN_NGINX to the binary"
            )
        })
}

/// A process stopped (SIGKILL if still running) and reaped when dropped.
struct Process {
    name: String,
    child: Child,
}

impl Process {
    fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("a pid fits in i32");
        // SAFETY: kill only sends a signal to the process we started.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, signal)
        };
    }

    /// Waits for the process to exit, up to `limit`.
    fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            if self.wait(Duration::from_secs(3)).is_none() {
                eprintln!("{} did not stop on SIGTERM; killing it", self.name);
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// The temporary directory, removed at the end.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

struct Instance {
    name: &'static str,
    backend: &'static str,
    port: u16,
    log: PathBuf,
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
            .env("ERLEN_LOG", "warn")
            .env("FIXTURE_INSTANCE", self.name)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the fixture starts");
        let process = Process { name: self.name.to_string(), child };
        wait_until_healthy(&format!("http://127.0.0.1:{}/health", self.port), self.name);
        process
    }
}

fn wait_until_healthy(url: &str, what: &str) {
    let until = Instant::now() + Duration::from_secs(15);
    let client = reqwest::Client::new();
    while Instant::now() < until {
        let ok = erlen::block_on(async {
            matches!(client.get(url).timeout(Duration::from_secs(1)).send().await, Ok(r) if r.status() == 200)
        });
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not answer {url} within 15 s");
}

/// Writes nginx's main config around `erlen.conf` (ports replaced) and starts it.
fn start_nginx(nginx: &Path, dir: &Path, port: u16, a: u16, b: u16) -> Process {
    let site = CONFIG
        .replace("127.0.0.1:5001", &format!("127.0.0.1:{a}"))
        .replace("127.0.0.1:5002", &format!("127.0.0.1:{b}"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    fs::write(dir.join("erlen.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
         include {d}/erlen.conf;\n}}\n"
    );
    fs::write(dir.join("nginx.conf"), main).unwrap();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("nginx ({}) is installed but could not be run: {e}", nginx.display()));
    Process { name: "nginx".to_string(), child }
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
#[ignore = "needs nginx (apt-get install nginx); run with: cargo test --workspace -- --include-ignored"]
fn behind_nginx_sessions_addresses_and_a_rolling_restart_that_loses_nothing() {
    let nginx = nginx_binary();
    let dir = std::env::temp_dir().join(format!("erlen-nginx-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let instances = [
        Instance { name: "a", backend: "async", port: free_port(), log: dir.join("a.log") },
        Instance { name: "b", backend: "threaded", port: free_port(), log: dir.join("b.log") },
    ];
    let mut a = instances[0].start();
    let mut b = instances[1].start();
    let port = free_port();
    let mut proxy = start_nginx(&nginx, &dir, port, instances[0].port, instances[1].port);
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let probe = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let healthy = loop {
        let ok = erlen::block_on(async {
            matches!(probe.get(format!("{base}/health")).send().await, Ok(r) if r.status() == 200)
        });
        if ok || started.elapsed() > Duration::from_secs(10) {
            break ok;
        }
        if let Ok(Some(status)) = proxy.child.try_wait() {
            let log = fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            panic!(
                "nginx ({}) is installed but did not start ({status}); its error.log:\n{log}",
                nginx.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        healthy,
        "nginx ({}) started but did not answer {base}/health within 10 s; its error.log:\n{}",
        nginx.display(),
        fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );

    // Requests are spread over both instances.
    let client = reqwest::Client::new();
    let seen: HashSet<String> = (0..20)
        .map(|_| {
            erlen::block_on(async {
                let v: serde_json::Value =
                    client.get(format!("{base}/whoami")).send().await.unwrap().json().await.unwrap();
                v["instance"].as_str().unwrap_or("").to_string()
            })
        })
        .collect();
    assert_eq!(seen, HashSet::from(["a".to_string(), "b".to_string()]), "both instances serve");

    // A session made on one instance is valid on the other: one secret key.
    erlen::block_on(async {
        let direct = |i: usize| format!("http://127.0.0.1:{}", instances[i].port);
        let login = client.post(format!("{}/login", direct(0))).send().await.unwrap();
        let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        assert_eq!(login.text().await.unwrap(), "a");
        let me: serde_json::Value = client
            .get(format!("{}/me", direct(1)))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["instance"], "b");
        assert_eq!(me["user"], "ada", "the session signed by a is valid on b");
    });

    // remote_addr is the client's (127.0.0.2 here), not nginx's (127.0.0.1), nor a forged one.
    erlen::block_on(async {
        let from = reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
            .build()
            .unwrap();
        for _ in 0..2 {
            let v: serde_json::Value = from
                .get(format!("{base}/whoami"))
                .header("x-forwarded-for", "203.0.113.9")
                .header("x-forwarded-host", "evil.example")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(v["remote"], "127.0.0.2", "{v}");
            assert_eq!(v["scheme"], "http", "{v}");
            assert_eq!(v["external"], format!("http://127.0.0.1:{port}/whoami"), "{v}");
        }
    });

    // A rolling restart under load: SIGTERM a, start it again, then the same for b.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    // 16 clients, each sending every 40 ms: 400 requests/s.
    let (tasks, pace) = (knob("ERLEN_NGINX_TASKS", 16), knob("ERLEN_NGINX_PACE_MS", 40));
    let every = Duration::from_millis(pace);
    let running = runtime.spawn(load(base.clone(), tasks as usize, every, stop.clone(), counts.clone()));
    let load_started = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    for _ in 0..knob("ERLEN_NGINX_ROUNDS", 1) {
        for (process, instance) in [(&mut a, &instances[0]), (&mut b, &instances[1])] {
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
    let log = fs::read_to_string(dir.join("error.log")).unwrap_or_default();
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
        println!("nginx error.log:\n{}", fs::read_to_string(dir.join("error.log")).unwrap_or_default());
    }
    assert_eq!(failed, 0, "no request may fail: {failures:?}");
    assert_eq!(sent, answered);
    assert!(rate >= 200.0, "the load ran at {rate:.0} requests/s, below 200");
    drop(proxy);
}

#[test]
fn the_guide_shows_the_tested_nginx_config() {
    let guide = include_str!("../../docs/deployment.md");
    assert!(guide.contains(CONFIG), "docs/deployment.md must quote tests/nginx/erlen.conf verbatim");
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
    let process = Process { name: "deploy_fixture".to_string(), child };
    wait_until_healthy(&format!("http://127.0.0.1:{port}/health"), "the fixture");
    let logged = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .find(|line| line.contains("erlen::access"))
        .expect("the request is logged");
    drop(process);
    let line: serde_json::Value = serde_json::from_str(&logged).expect("a JSON line");
    assert_eq!(line["target"], "erlen::access", "{line}");
    assert_eq!(line["fields"]["path"], "/health", "{line}");
    assert_eq!(line["fields"]["status"], 200, "{line}");
}
