//! The components outside the process that some tests need (nginx, redis-server), each
//! started unprivileged in a temporary directory on a free loopback port and stopped by
//! its pid, also when the test fails. A test that needs one is `#[ignore]`d with the
//! reason, so that `cargo test --workspace` names it as not run; run with
//! `-- --include-ignored` (as `.ci/run`, which installs them), it fails within seconds,
//! saying what is missing, when the component is not there or does not start.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on loopback (free when asked; bound by whoever comes first after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

/// A process stopped (SIGTERM, then SIGKILL after 3 s) and reaped when dropped.
#[derive(Debug)]
pub struct Process {
    pub name: String,
    pub child: Child,
}

impl Process {
    pub fn new(name: impl Into<String>, child: Child) -> Process {
        Process { name: name.into(), child }
    }

    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("a pid fits in i32");
        // SAFETY: kill only sends a signal to the process we started.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, signal)
        };
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether it has exited, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
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

/// A temporary directory of its own, removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("erlen-{what}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The binary `name`: the file the environment variable `env` names, else the first in
/// `PATH` or in the `sbin` folders a user's `PATH` may lack. Fails, saying how to install
/// it (`package`), when there is none.
pub fn find_binary(name: &str, env: &str, package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env).map(PathBuf::from) {
        assert!(
            path.is_file(),
            "this test needs {name}: {env} names {}, which is missing; install it \
             (`apt-get install -y {package}`; .ci/run does), or unset {env} to look in PATH",
            path.display()
        );
        return path;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test needs {name}: there is none in PATH, /usr/sbin or /usr/local/sbin; \
                 install it (`apt-get install -y {package}`; .ci/run does), or set {env} to the binary"
            )
        })
}

/// Waits until `url` answers 200, up to 15 s; fails naming `what` otherwise.
pub fn wait_until_healthy(url: &str, what: &str) {
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

/// nginx, running `site` (a file to include in `http { }`) with its pid, logs and
/// temporary files in `dir`.
#[derive(Debug)]
pub struct Nginx {
    pub process: Process,
    pub binary: PathBuf,
    pub error_log: PathBuf,
}

impl Nginx {
    /// Starts nginx (`ERLEN_NGINX` names another binary) on `site`, and waits until
    /// `health` answers through it.
    pub fn start(dir: &Path, site: &str, health: &str) -> Nginx {
        let binary = find_binary("nginx", "ERLEN_NGINX", "nginx");
        fs::write(dir.join("site.conf"), site).expect("nginx's site config is written");
        let d = dir.display();
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
             include {d}/site.conf;\n}}\n"
        );
        fs::write(dir.join("nginx.conf"), main).expect("nginx's config is written");
        let child = Command::new(&binary)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("nginx ({}) is installed but could not be run: {e}", binary.display())
            });
        let mut nginx =
            Nginx { process: Process::new("nginx", child), binary, error_log: dir.join("error.log") };
        let started = Instant::now();
        let probe = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("a client");
        loop {
            let ok = erlen::block_on(async {
                matches!(probe.get(health).send().await, Ok(r) if r.status() == 200)
            });
            if ok {
                return nginx;
            }
            if let Some(status) = nginx.process.exited() {
                panic!(
                    "nginx ({}) is installed but did not start ({status}); its error.log:\n{}",
                    nginx.binary.display(),
                    nginx.log()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx ({}) started but did not answer {health} within 10 s; its error.log:\n{}",
                nginx.binary.display(),
                nginx.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its error log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

/// Debian's `redis-server` (`ERLEN_REDIS_SERVER` names another binary) on a free loopback
/// port, keeping nothing on disk, in a temporary directory; stopped by its pid when
/// dropped. It can be stopped and started again on the same port, as an outage.
#[derive(Debug)]
pub struct RedisServer {
    process: Option<Process>,
    binary: PathBuf,
    port: u16,
    dir: TempDir,
}

impl RedisServer {
    /// Starts a Redis server and waits until it answers PING (10 s at most).
    pub fn start() -> RedisServer {
        let binary = find_binary("redis-server", "ERLEN_REDIS_SERVER", "redis-server");
        let mut server = RedisServer { process: None, binary, port: free_port(), dir: TempDir::new("redis") };
        server.start_again();
        server
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (SIGKILL: as a crash, and at once), keeping its port.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.signal(libc::SIGKILL);
            let _ = process.wait(Duration::from_secs(5));
        }
    }

    /// Starts the server (again) on its port, and waits until it answers PING.
    pub fn start_again(&mut self) {
        let log = self.dir.path().join("redis.log");
        let child = Command::new(&self.binary)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--protected-mode", "yes", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server ({}) could not be run: {e}", self.binary.display()));
        let mut process = Process::new("redis-server", child);
        let started = Instant::now();
        loop {
            if self.command("PING").as_deref() == Some("+PONG") {
                self.process = Some(process);
                return;
            }
            if let Some(status) = process.exited() {
                panic!(
                    "redis-server ({}) did not start ({status}); its log:\n{}",
                    self.binary.display(),
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server ({}) did not answer PING on port {} within 10 s; its log:\n{}",
                self.binary.display(),
                self.port,
                fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one inline command (`PUBSUB NUMSUB room`) and returns the first line of the
    /// answer, or `None` when the server does not answer.
    pub fn command(&self, command: &str) -> Option<String> {
        self.command_lines(command, 1).map(|mut lines| lines.remove(0))
    }

    /// Sends one inline command and returns the first `lines` lines of the answer.
    pub fn command_lines(&self, command: &str, lines: usize) -> Option<Vec<String>> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while seen.iter().filter(|&&b| b == b'\n').count() < lines {
            let n = stream.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&seen);
        let got: Vec<String> = text.lines().take(lines).map(str::to_string).collect();
        (!got.is_empty()).then_some(got)
    }
}
