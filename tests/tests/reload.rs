//! `run --debug` for real, on both backends: a small crate that depends on erlen is
//! written to a temporary folder and started with `cargo run -- run --debug`; a client
//! polls it every 50 ms while its source is edited (the new text is served, and no request
//! fails: the reloader holds the socket and swaps the process), then a template (served
//! by the same process, with no rebuild), then the source is broken (the build fails, the
//! old process keeps serving, and its debug page says the build failed).
//!
//! It builds erlen for the new crate in the workspace's target folder, which takes
//! minutes on two cores the first time: it is ignored by `cargo test` and run by
//! `cargo test --workspace -- --include-ignored` (and `.ci/run`).

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAIN: &str = r#"use erlen::prelude::*;

#[get("/")]
fn index() -> &'static str {
    "version one"
}

#[get("/pid")]
fn pid() -> String {
    std::process::id().to_string()
}

#[get("/panic")]
fn explode() -> &'static str {
    panic!("on purpose")
}

#[get("/page")]
fn page() -> Template {
    render_template("page.html", context! {})
}

fn main() -> std::process::ExitCode {
    App::new().register(handlers![index, pid, explode, page]).cli()
}
"#;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The target folder this test was built in: `TARGET/debug/deps/reload-HASH`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).expect("the test runs from TARGET/debug/deps").to_path_buf()
}

/// The server's console, read as it comes.
#[derive(Clone, Default)]
struct Console(Arc<Mutex<String>>);

impl Console {
    fn follow(&self, stream: impl std::io::Read + Send + 'static) {
        let text = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                eprintln!("[probe] {line}");
                let mut text = text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits for a line that contains `needle`, after the first `skip` bytes.
    fn wait_for(&self, needle: &str, skip: usize, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text();
            if let Some(at) = text[skip.min(text.len())..].find(needle) {
                let start = skip + at;
                let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
                return text[start..end].to_string();
            }
            assert!(Instant::now() < deadline, "no `{needle}` within {within:?}; the console said:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The process group of `cargo run` (cargo, the reloader and its children), stopped at
/// the end whatever happens.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = i32::try_from(self.0.id()).unwrap();
        // SAFETY: kill only sends signals, to the process group this test started.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// What the poller saw.
#[derive(Default)]
struct Seen {
    ok: Vec<String>,
    failed: Vec<String>,
}

#[test]
#[ignore = "builds a crate with cargo (minutes on 2 cores the first time); run with: cargo test --workspace -- --include-ignored"]
fn an_edit_is_served_without_a_failed_request_and_a_broken_build_keeps_the_old_one() {
    // The second backend's first build finds the first one's in the shared target folder.
    for backend in ["async", "threaded"] {
        reload_probe(backend);
    }
}

/// The probe crate served on `backend`: an edit, then a broken edit.
fn reload_probe(backend: &str) {
    let dir = std::env::temp_dir().join(format!("erlen-reload-probe-{backend}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let runtime = workspace().join("runtime");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"reload-probe\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nerlen = {{ path = {:?} }}\n\n[workspace]\n",
            runtime.display().to_string()
        ),
    )
    .unwrap();
    // The workspace's lock file: the same versions as the workspace builds, no registry
    // look-up.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("templates/page.html"), "page one").unwrap();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut child = Command::new(cargo);
    child
        .args(["run", "--quiet", "--", "run", "--debug", "--port", "0", "--backend", backend])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME")
        .env("ERLEN_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut child, 0);
    let mut child = child.spawn().expect("cargo runs");
    let console = Console::default();
    console.follow(child.stdout.take().unwrap());
    console.follow(child.stderr.take().unwrap());
    let _group = Group(child);

    // The first build: erlen and its dependencies, for this crate.
    let listening = console.wait_for("Listening on http://", 0, Duration::from_secs(20 * 60));
    let addr =
        listening.split("http://").nth(1).and_then(|a| a.split_whitespace().next()).unwrap().to_string();
    // No kept-alive connection: each request goes to the process serving now, not to one
    // draining its last connections.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let base = format!("http://{addr}");
    let get = |path: &str| -> Result<String, String> {
        erlen::block_on(async {
            let resp = http.get(format!("{base}{path}")).send().await.map_err(|e| format!("{e:?}"))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| format!("{e:?}"))?;
            if status.is_success() { Ok(text) } else { Err(format!("{status}: {text}")) }
        })
    };
    console.wait_for(&format!("({backend} backend"), 0, Duration::from_secs(60));
    assert_eq!(get("/").unwrap(), "version one");
    let first_pid = get("/pid").unwrap();

    // A client that polls every 50 ms from now on.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (seen, stop, base) = (seen.clone(), stop.clone(), format!("http://{addr}/"));
        std::thread::spawn(move || {
            let client = client();
            while !stop.load(Ordering::SeqCst) {
                let answer = erlen::block_on(async {
                    let resp = client.get(&base).send().await.map_err(|e| format!("{e:?}"))?;
                    let status = resp.status();
                    let text = resp.text().await.map_err(|e| format!("{e:?}"))?;
                    if status.is_success() { Ok(text) } else { Err(format!("{status}: {text}")) }
                });
                let mut seen = seen.lock().unwrap();
                match answer {
                    Ok(text) => seen.ok.push(text),
                    Err(e) => seen.failed.push(e),
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let served = |text: &str| seen.lock().unwrap().ok.iter().any(|t| t == text);

    // An edit: rebuilt and swapped in, with no request failed.
    std::thread::sleep(Duration::from_millis(300));
    let mark = console.text().len();
    std::fs::write(dir.join("src/main.rs"), MAIN.replace("version one", "version two")).unwrap();
    let swapped = console.wait_for("Swapped in", mark, Duration::from_secs(10 * 60));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served("version two") {
        assert!(Instant::now() < deadline, "the new text is served after: {swapped}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second_pid = get("/pid").unwrap();
    assert_ne!(first_pid, second_pid, "a new process serves");

    // A template's edit: no rebuild, the serving process reads it again.
    assert_eq!(get("/page").unwrap(), "page one");
    let mark = console.text().len();
    std::fs::write(dir.join("templates/page.html"), "page two").unwrap();
    console.wait_for("nothing to rebuild", mark, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(10);
    while get("/page").unwrap() != "page two" {
        assert!(Instant::now() < deadline, "the edited template is served");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get("/pid").unwrap(), second_pid, "the same process serves it");

    // A broken edit: the build fails, and the old process keeps serving.
    let mark = console.text().len();
    std::fs::write(dir.join("src/main.rs"), MAIN.replace("\"version one\"", "\"version three\" +")).unwrap();
    console.wait_for("The build failed", mark, Duration::from_secs(10 * 60));
    let before = seen.lock().unwrap().ok.len();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    poller.join().unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.ok.len() > before, "the old process keeps serving after the failed build");
    assert_eq!(seen.ok.last().map(String::as_str), Some("version two"));
    assert_eq!(get("/pid").unwrap(), second_pid);
    let page = match get("/panic") {
        Err(page) => page,
        Ok(text) => panic!("the panic view answers 500: {text}"),
    };
    assert!(page.contains("The last rebuild failed"), "{page}");
    assert!(page.contains("error"), "the compiler's output is on the page: {page}");

    eprintln!(
        "reload ({backend} backend): {} requests answered, {} failed; {swapped}",
        seen.ok.len(),
        seen.failed.len()
    );
    assert!(seen.failed.is_empty(), "{backend}: no request failed: {:?}", seen.failed);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client with a timeout, driven with `erlen::block_on`.
fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}
