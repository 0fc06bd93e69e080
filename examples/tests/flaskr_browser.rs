//! flaskr in a real browser: the app on a socket, headless Chromium driven through
//! chromedriver (WebDriver, with fantoccini) through register, log in, create a post, see
//! it on the index, edit it, log out. A screenshot of the index page is saved as
//! `target/flaskr-index.png`.
//!
//! It needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them when
//! missing; `CHROMIUM` and `CHROMEDRIVER` name other binaries). Every wait is bounded: when
//! the browser cannot start, the test fails with a message that says why, never hangs.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use erlen::{Backend, Server};
use erlen_examples::flaskr::{Config, create_app, db};
use fantoccini::{Client, ClientBuilder, Locator};

/// The longest any one step may take: starting chromedriver, a page, a click.
const STEP: Duration = Duration::from_secs(20);
/// The longest the whole walk in the browser may take.
const WALK: Duration = Duration::from_secs(120);

fn binary(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium and chromium-driver \
         (`apt-get install -y chromium chromium-driver`; .ci/run does), or set {var}",
        path.display()
    );
    path
}

/// The workspace's `target/` folder (made if missing: the build may live elsewhere, in
/// `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").join("target");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A folder of the test's own under the system's temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("flaskr-browser-{name}-{}", std::process::id()));
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
struct Chromedriver {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Chromedriver {
    fn start(log: &Path) -> Chromedriver {
        let binary = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
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
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens a headless Chromium session through chromedriver.
async fn open_browser(driver: &Chromedriver, profile: &Path) -> Client {
    let chromium = binary("CHROMIUM", "/usr/bin/chromium");
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
async fn step<T, E: std::fmt::Display>(
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
async fn wait_for_title(c: &Client, title: &str) {
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
async fn fill(c: &Client, name: &str, value: &str) {
    let field =
        step(&format!("find the field {name}"), c.find(Locator::Css(&format!("[name={name}]")))).await;
    step(&format!("clear the field {name}"), field.clear()).await;
    step(&format!("type into the field {name}"), field.send_keys(value)).await;
}

async fn click(c: &Client, css: &str) {
    let element = step(&format!("find {css}"), c.find(Locator::Css(css))).await;
    step(&format!("click {css}"), element.click()).await;
}

async fn walk(c: &Client, base: &str) {
    // Register, then log in: the register page sends the user to the login page.
    step("open the register page", c.goto(&format!("{base}/auth/register"))).await;
    wait_for_title(c, "Register - Flaskr").await;
    fill(c, "username", "ada").await;
    fill(c, "password", "lovelace").await;
    click(c, "input[type=submit]").await;
    wait_for_title(c, "Log In - Flaskr").await;
    fill(c, "username", "ada").await;
    fill(c, "password", "lovelace").await;
    click(c, "input[type=submit]").await;
    wait_for_title(c, "Posts - Flaskr").await;
    let nav = step("read the nav", c.find(Locator::Css("nav"))).await;
    assert!(step("read the nav's text", nav.text()).await.contains("ada"), "the nav shows the user");

    // Create a post, and see it on the index.
    click(c, "a.action").await;
    wait_for_title(c, "New Post - Flaskr").await;
    fill(c, "title", "Hello from Chromium").await;
    fill(c, "body", "Written in a real browser,\nserved by erlen.").await;
    click(c, "input[type=submit]").await;
    wait_for_title(c, "Posts - Flaskr").await;
    let post = step("find the post", c.find(Locator::Css("article.post"))).await;
    let text = step("read the post", post.text()).await;
    assert!(text.contains("Hello from Chromium") && text.contains("by ada on "), "{text}");
    assert!(text.contains("Written in a real browser,\nserved by erlen."), "{text}");
    let png = step("take a screenshot", c.screenshot()).await;
    let shot = target_dir().join("flaskr-index.png");
    std::fs::write(&shot, png).unwrap();

    // Edit it: the form comes filled with the post.
    click(c, "article.post a.action").await;
    wait_for_title(c, r#"Edit "Hello from Chromium" - Flaskr"#).await;
    let title = step("find the title field", c.find(Locator::Css("[name=title]"))).await;
    assert_eq!(
        step("read the title field", title.prop("value")).await.as_deref(),
        Some("Hello from Chromium")
    );
    fill(c, "title", "Edited in Chromium").await;
    click(c, "input[type=submit]").await;
    wait_for_title(c, "Posts - Flaskr").await;
    let text =
        step("read the edited post", async { c.find(Locator::Css("article.post h1")).await?.text().await })
            .await;
    assert_eq!(text, "Edited in Chromium");

    // Log out: the nav offers to log in again, and the post stays.
    click(c, "nav a[href='/auth/logout']").await;
    wait_for_title(c, "Posts - Flaskr").await;
    let nav = step("read the nav", async { c.find(Locator::Css("nav")).await?.text().await }).await;
    assert!(nav.contains("Log In") && !nav.contains("ada"), "{nav}");
    assert!(step("read the page", c.source()).await.contains("Edited in Chromium"));
}

#[test]
fn register_log_in_create_see_edit_and_log_out_in_chromium() {
    let data = TempDir::new("data");
    let config = Config::for_tests(data.0.join("flaskr.sqlite"));
    db::create_if_missing(&config.database).unwrap();
    let server = Server::bind("127.0.0.1:0").backend(Backend::Async).spawn(create_app(config)).unwrap();
    let base = format!("http://{}", server.addr());

    let profile = TempDir::new("profile");
    let driver = Chromedriver::start(&target_dir().join("flaskr-chromedriver.log"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let client = open_browser(&driver, &profile.0).await;
        let walked = tokio::time::timeout(WALK, walk(&client, &base)).await;
        let _ = tokio::time::timeout(STEP, client.close()).await;
        walked.unwrap_or_else(|_| panic!("the walk through flaskr took more than {WALK:?}"));
    });
    let shot = target_dir().join("flaskr-index.png");
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 0), "{} was saved", shot.display());
    drop(driver);
    server.shutdown();
}
