//! Socket activation, as systemd and systemfd do it: a listening socket bound by another
//! process is passed as descriptor 3 with `LISTEN_FDS=1` and `LISTEN_PID` set to the
//! app's process id, and the app serves it instead of binding an address, through
//! `App::cli`'s `run` (which then says `READY=1` on `NOTIFY_SOCKET`) and `App::run`. A
//! `LISTEN_PID` that is not the app's is ignored. The reloader of `run --debug` passes
//! its socket this same way.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the fixture with `args` through `sh`, which moves the socket it gets as stdin to
/// descriptor 3 and sets `LISTEN_PID` to its own id, which `exec` keeps for the fixture.
fn activated(socket: &std::net::TcpListener, args: &[&str], env: &[(&str, &str)]) -> Child {
    let socket = OwnedFd::from(socket.try_clone().unwrap());
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(r#"LISTEN_PID=${FIXTURE_LISTEN_PID:-$$}; export LISTEN_PID; exec "$0" "$@" 3<&0 0</dev/null"#)
        .arg(env!("CARGO_BIN_EXE_cli_fixture"))
        .args(args)
        .env("LISTEN_FDS", "1")
        .env_remove("LISTEN_PID")
        .stdin(Stdio::from(socket))
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("the fixture starts")
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    erlen::block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let resp = client.get(format!("http://{addr}{path}")).send().await.expect("the request is answered");
        resp.text().await.unwrap()
    })
}

fn stop(mut child: Child) -> String {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill only sends a signal, to the process we started.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, libc::SIGTERM)
    };
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "the fixture stops gracefully: {status}\n{stderr}");
    stderr
}

#[test]
fn the_command_line_serves_a_passed_socket_and_says_it_is_ready() {
    for backend in ["async", "threaded"] {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let dir = tempfile_dir();
        let notify_path = dir.join(format!("notify-{backend}"));
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        notify.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let child = activated(
            &socket,
            &["run", "--backend", backend],
            &[("NOTIFY_SOCKET", notify_path.to_str().unwrap()), ("ERLEN_ADDR", "127.0.0.1:1")],
        );
        let mut buf = [0u8; 256];
        let n = notify.recv(&mut buf).expect("the app says it is ready");
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(message.contains("READY=1"), "{message}");
        assert!(message.contains(&format!("MAINPID={}", child.id())), "{message}");
        assert_eq!(get(addr, "/"), format!("served by {}", child.id()), "{backend}");
        let stderr = stop(child);
        assert!(stderr.contains(&format!("Running on http://{addr}")), "{stderr}");
        assert!(stderr.contains("on the socket passed by LISTEN_FDS"), "{stderr}");
    }
}

#[test]
fn app_run_serves_a_passed_socket_too() {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let child = activated(&socket, &[], &[("FIXTURE_APP_RUN", "1"), ("ERLEN_ADDR", "127.0.0.1:1")]);
    // The socket is listening already: the request waits in its backlog until the app
    // accepts it.
    assert_eq!(get(addr, "/"), format!("served by {}", child.id()));
    stop(child);
}

#[test]
fn a_socket_for_another_process_is_left_alone() {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let own = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut child = activated(
        &socket,
        &["run", "--port", &own.port().to_string()],
        &[("FIXTURE_LISTEN_PID", "1"), ("ERLEN_ADDR", "127.0.0.1:5000")],
    );
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut banner = String::new();
    while !banner.contains("Running on") && Instant::now() < deadline {
        banner.clear();
        if stderr.read_line(&mut banner).unwrap() == 0 {
            break;
        }
    }
    assert!(banner.contains(&format!("Running on http://{own}")), "it binds its own address: {banner}");
    assert!(!banner.contains("LISTEN_FDS"), "{banner}");
    let _ = child.kill();
    let _ = child.wait();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("erlen-socket-activation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
