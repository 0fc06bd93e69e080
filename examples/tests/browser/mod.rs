//! Headless Chromium for the examples' browser tests: chromedriver in a process group of
//! its own, a session with a fresh profile, and steps that each fail with a message
//! (never hang) when the browser does not answer in time.
//!
//! It needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them when
//! missing; `CHROMIUM` and `CHROMEDRIVER` name other binaries). The tests that use it are
//! `#[ignore]`d, with the reason and the command that runs them, so that
//! `cargo test --workspace` lists them as not run on a machine without a browser;
//! `-- --include-ignored` runs them, and each fails with a message that says what is
//! missing or did not start.

#![allow(dead_code)] // each test binary uses its own part

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// The longest any one step may take: starting chromedriver, a page, a click.
pub const STEP: Duration = Duration::from_secs(20);
/// The longest the whole walk in the browser may take.
pub const WALK: Duration = Duration::from_secs(120);

/// The two binaries a browser test needs, named by `CHROMEDRIVER` and `CHROMIUM` or at
/// Debian's places: each test calls this first, and fails at once, saying what is missing.
pub fn require() -> (PathBuf, PathBuf) {
    let found = [("CHROMEDRIVER", "/usr/bin/chromedriver"), ("CHROMIUM", "/usr/bin/chromium")].map(
        |(var, default)| match std::env::var_os(var) {
            Some(path) => (
                PathBuf::from(&path),
                format!("{var} names {}, which is missing", Path::new(&path).display()),
            ),
            None => (PathBuf::from(default), format!("{default} is missing (or set {var} to the binary)")),
        },
    );
    let missing: Vec<&str> =
        found.iter().filter(|(path, _)| !path.is_file()).map(|(_, why)| why.as_str()).collect();
    assert!(
        missing.is_empty(),
        "this test needs Chromium and chromedriver: {}; install Debian's `apt-get install -y \
         chromium chromium-driver` (.ci/run does)",
        missing.join("; ")
    );
    let [(driver, _), (chromium, _)] = found;
    (driver, chromium)
}

/// The workspace's `target/` folder (made if missing: the build may live elsewhere, in
/// `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").join("target");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A folder of the test's own under the system's temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("erlen-browser-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// chromedriver, in a process group of its own so that the browsers it starts go with
/// it: the group is killed on drop, whatever happened.
pub struct Chromedriver {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Chromedriver {
    pub fn start(log: &Path) -> Chromedriver {
        let (binary, _) = require();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log_file = std::fs::File::create(log).unwrap();
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut driver = Chromedriver { child, addr, log: log.to_path_buf() };
        let deadline = Instant::now() + STEP;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited ({status}) before it listened; its log: {}", log.display());
            }
            assert!(Instant::now() < deadline, "chromedriver did not listen on {addr} within {STEP:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (`process_group(0)`).
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: kill only sends a signal, to the process group we started.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(-group, libc::SIGKILL)
            };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens a headless Chromium session through chromedriver.
pub async fn open_browser(driver: &Chromedriver, profile: &Path) -> Client {
    let (_, chromium) = require();
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1024,768",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("--user-data-dir={}", profile.display())]);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        serde_json::json!({ "binary": chromium, "args": args.collect::<Vec<_>>() }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut builder = ClientBuilder::new(connector);
    builder.capabilities(capabilities);
    let url = format!("http://{}", driver.addr);
    match tokio::time::timeout(STEP, builder.connect(&url)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => {
            panic!(
                "headless Chromium did not start through chromedriver: {e} (log: {})",
                driver.log.display()
            )
        }
        Err(_) => panic!(
            "headless Chromium did not start through chromedriver within {STEP:?} (log: {})",
            driver.log.display()
        ),
    }
}

/// Runs one browser command, bounded by [`STEP`], and fails with `what` when it fails.
pub async fn step<T, E: std::fmt::Display>(
    what: &str,
    command: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(STEP, command).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: no answer within {STEP:?}"),
    }
}

/// Waits until the page's title is `title` (a form's submit navigates asynchronously).
pub async fn wait_for_title(c: &Client, title: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        let now = step("read the title", c.title()).await;
        if now == title {
            return;
        }
        assert!(Instant::now() < deadline, "the page is {now:?}, not {title:?}, after {STEP:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types `value` into the field named `name`.
pub async fn fill(c: &Client, name: &str, value: &str) {
    let field =
        step(&format!("find the field {name}"), c.find(Locator::Css(&format!("[name={name}]")))).await;
    step(&format!("clear the field {name}"), field.clear()).await;
    step(&format!("type into the field {name}"), field.send_keys(value)).await;
}

pub async fn click(c: &Client, css: &str) {
    let element = step(&format!("find {css}"), c.find(Locator::Css(css))).await;
    step(&format!("click {css}"), element.click()).await;
}

/// Types `value` into the element `css` (a field without a name, or a file input, which
/// takes a path).
pub async fn type_into(c: &Client, css: &str, value: &str) {
    let field = step(&format!("find {css}"), c.find(Locator::Css(css))).await;
    step(&format!("type into {css}"), field.send_keys(value)).await;
}

/// Waits until the text of the element `css` satisfies `ok`, and returns it: for parts
/// of a page that change by themselves (a live log, a progress figure).
pub async fn wait_for_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + STEP;
    loop {
        let text =
            step(&format!("read {css}"), async { c.find(Locator::Css(css)).await?.text().await }).await;
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{css} still reads {text:?} after {STEP:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
