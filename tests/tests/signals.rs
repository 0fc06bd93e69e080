//! `App::run` in a real process: it listens where `ERLEN_ADDR` says, on the backend
//! `ERLEN_BACKEND` names, and SIGTERM stops it gracefully (the in-flight request
//! finishes, the process exits 0), and loses no request of a keep-alive load. Bad
//! variables are refused with a clear error, a build error prints readably, and every
//! request is logged unless the app says otherwise.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use erlen_tests::raw::Load;

/// Sends SIGTERM to `child` (with libc, not the `kill` program a slim system may lack).
fn sigterm(child: &std::process::Child) {
    let pid = i32::try_from(child.id()).expect("a pid fits in i32");
    // SAFETY: kill only sends a signal, to the process we started.
    #[allow(unsafe_code)]
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM was sent: {}", std::io::Error::last_os_error());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn sigterm_stops_app_run_gracefully_on_both_backends() {
    for backend in ["async", "threaded"] {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_serve_fixture"))
            .env("ERLEN_ADDR", &addr)
            .env("ERLEN_BACKEND", backend)
            .env("ERLEN_WORKERS", "2")
            .stderr(Stdio::piped())
            .spawn()
            .expect("the fixture starts");
        let mut banner = String::new();
        BufReader::new(child.stderr.take().unwrap()).read_line(&mut banner).unwrap();
        assert!(banner.contains(&format!("Running on http://{addr}")), "{backend}: {banner}");
        let mode = if backend == "async" { "(async backend;" } else { "(threaded backend, 2 workers;" };
        assert!(banner.contains(mode), "{banner}");

        let url = format!("http://{addr}/slow");
        let in_flight =
            std::thread::spawn(move || erlen::block_on(async { reqwest::get(url).await?.text().await }));
        std::thread::sleep(Duration::from_millis(200));
        sigterm(&child);
        let status = child.wait().unwrap();
        assert!(status.success(), "{backend}: exited with {status}");
        assert_eq!(in_flight.join().unwrap().expect("the in-flight request completes"), "finished");
    }
}

#[test]
fn sigterm_under_keep_alive_load_loses_no_request() {
    for backend in ["async", "threaded"] {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_serve_fixture"))
            .env("ERLEN_ADDR", &addr)
            .env("ERLEN_BACKEND", backend)
            .env("ERLEN_WORKERS", "4")
            .stderr(Stdio::piped())
            .spawn()
            .expect("the fixture starts");
        let mut banner = String::new();
        BufReader::new(child.stderr.take().unwrap()).read_line(&mut banner).unwrap();
        assert!(banner.contains("Running on"), "{backend}: {banner}");

        let load = Load::start(addr.parse().unwrap(), "/ping", 16, Duration::from_secs(10));
        load.wait_for(400, Duration::from_secs(5));
        assert!(load.answered() >= 400, "{backend}: the load did not get going");
        let start = Instant::now();
        sigterm(&child);
        let status = child.wait().unwrap();
        let took = start.elapsed();
        let report = load.finish();
        assert!(status.success(), "{backend}: exited with {status}");
        assert_eq!(report.lost, 0, "{backend}: {report:?}");
        assert_eq!(report.sent, report.answered, "{backend}: {report:?}");
        assert_eq!(report.told_to_close, 16, "{backend}: {report:?}");
        assert!(took < Duration::from_secs(5), "{backend}: the shutdown took {took:?}");
    }
}

#[test]
fn invalid_environment_is_refused_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_serve_fixture"))
        .env("ERLEN_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("ERLEN_BACKEND", "gevent")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ERLEN_BACKEND") && stderr.contains("gevent"), "{stderr}");
    assert!(stderr.contains("expected `async` or `threaded`"), "{stderr}");
}

#[test]
fn a_build_error_prints_one_readable_line_per_problem() {
    let output = Command::new(env!("CARGO_BIN_EXE_serve_fixture"))
        .env("ERLEN_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("FIXTURE_BROKEN", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the app cannot be built:\n  - GET \"/ping\" is registered twice"), "{stderr}");
    assert!(!stderr.contains("BuildError") && !stderr.contains("problems: ["), "no Debug dump: {stderr}");
}

/// Reads the child's stderr lines until one contains `needle`; `None` at the end.
fn read_until(lines: &mut impl Iterator<Item = std::io::Result<String>>, needle: &str) -> Option<String> {
    lines.map_while(Result::ok).find(|line| line.contains(needle))
}

#[test]
fn app_run_lists_the_routes_and_logs_every_request() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_serve_fixture"))
        .env("ERLEN_ADDR", &addr)
        .env_remove("ERLEN_LOG")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fixture starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let route = read_until(&mut lines, "/slow").expect("the banner lists the routes");
    assert!(route.contains("GET") && route.contains("slow"), "{route}");
    let pong = erlen::block_on(async { reqwest::get(format!("http://{addr}/ping")).await?.text().await });
    assert_eq!(pong.unwrap(), "pong");
    let logged = read_until(&mut lines, "erlen::access");
    let _ = child.kill();
    let _ = child.wait();
    let logged = logged.expect("the request is logged");
    assert!(logged.contains("path=\"/ping\"") && logged.contains("status=200"), "{logged}");
    assert!(!logged.contains('\u{1b}'), "no colour codes in a pipe: {logged}");
}

/// Behind a trusted proxy (`ERLEN_TRUST_PROXY=1`), the access log names the client the
/// proxy forwarded, as `req.remote_addr()` does, not the proxy's own address.
#[test]
fn the_access_log_names_the_client_a_trusted_proxy_forwards() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_serve_fixture"))
        .env("ERLEN_ADDR", &addr)
        .env("ERLEN_TRUST_PROXY", "1")
        .env_remove("ERLEN_LOG")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fixture starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    read_until(&mut lines, "/slow").expect("the banner lists the routes");
    let pong = erlen::block_on(async {
        let client = reqwest::Client::new();
        let sent =
            client.get(format!("http://{addr}/ping")).header("x-forwarded-for", "203.0.113.9, 198.51.100.2");
        sent.send().await?.text().await
    });
    assert_eq!(pong.unwrap(), "pong");
    let logged = read_until(&mut lines, "erlen::access");
    let _ = child.kill();
    let _ = child.wait();
    let logged = logged.expect("the request is logged");
    assert!(logged.contains("remote=198.51.100.2:0"), "the client one trusted hop away: {logged}");
    assert!(!logged.contains("remote=127.0.0.1"), "{logged}");
}
