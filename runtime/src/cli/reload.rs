//! `run --debug`: the reloader. This process becomes a supervisor that never serves a
//! request itself:
//!
//! 1. it binds the listening socket once (or takes the one passed by `LISTEN_FDS`) and
//!    keeps it for its whole life, so that connections wait in the socket's backlog and
//!    none is ever refused;
//! 2. it starts the app as a child process, the same binary with the same arguments,
//!    which takes the socket by the `LISTEN_FDS` protocol (descriptor 3, `LISTEN_FDS=1`,
//!    `LISTEN_PID` its own id) and says `READY=1` on a datagram socket of the
//!    supervisor's (`NOTIFY_SOCKET`) once it serves;
//! 3. it watches the crate's sources, `Cargo.toml`, templates and static files (`watch`)
//!    and, on a change, rebuilds the target `cargo run` built (`target`), while the child
//!    goes on serving;
//! 4. when the build succeeds, it starts the new binary on the same socket, waits for its
//!    `READY=1`, then sends SIGTERM to the old child, which stops accepting and drains its
//!    requests gracefully while the new one takes the next connections; when the build
//!    fails (or the new binary does not start), the old child keeps serving, the compiler's
//!    output is printed, and the debug page says so (`ERLEN_RELOAD_STATUS`).
//!
//! A child whose supervisor is gone (killed) stops by itself (`parent_gone`).

use std::ffi::OsString;
use std::io::{self, IsTerminal};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use super::output::Output;
use super::target::Target;
use super::watch::{self, Event, Watched};
use crate::app::App;
use crate::serve::{
    DEFAULT_BACKLOG, RunOptions, bind_listener, inherited_listener, refuse_debug_beyond_loopback,
    shutdown_signal,
};

/// The variable that tells a child the supervisor's process id.
const PARENT: &str = "ERLEN_RELOAD_PARENT";

/// How long a new build may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The supervisor of this process, when the reloader started it (and is still its parent).
pub(super) fn parent() -> Option<u32> {
    let pid = std::env::var(PARENT).ok()?.trim().parse::<u32>().ok()?;
    #[cfg(unix)]
    let ours = std::os::unix::process::parent_id() == pid;
    #[cfg(not(unix))]
    let ours = false;
    ours.then_some(pid)
}

/// Resolves when the supervisor `pid` is gone (this process was handed to another
/// parent); never, without one.
pub(super) async fn parent_gone(pid: Option<u32>) {
    let Some(pid) = pid else { return std::future::pending().await };
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        #[cfg(unix)]
        if std::os::unix::process::parent_id() != pid {
            return;
        }
    }
}

/// Runs the reloader until ctrl-c or SIGTERM; returns the exit status.
#[cfg(not(unix))]
pub(super) fn supervise(app: App, options: &RunOptions, _: &[OsString], out: &Output) -> u8 {
    out.err(" * Reloading needs a Unix system (it passes the socket by LISTEN_FDS); serving without it\n");
    serve_without_reload(app, options, out)
}

/// Runs the reloader until ctrl-c or SIGTERM; returns the exit status.
#[cfg(unix)]
pub(super) fn supervise(app: App, options: &RunOptions, argv: &[OsString], out: &Output) -> u8 {
    let target = match Target::of_this_process() {
        Ok(target) => target,
        Err(why) => {
            out.err(&format!(" * Reload is off: {why}\n"));
            return serve_without_reload(app, options, out);
        }
    };
    match Supervisor::start(app, options, argv, target, out) {
        Ok(mut supervisor) => {
            supervisor.run();
            0
        }
        Err(e) => {
            out.err(&format!("Error: {e}\n"));
            1
        }
    }
}

/// Debug mode without a reloader: the app serves in this process.
fn serve_without_reload(app: App, options: &RunOptions, out: &Output) -> u8 {
    match crate::serve::start(app, options) {
        Ok(handle) => {
            handle.serve_until_signal();
            0
        }
        Err(e) => {
            out.err(&format!("Error: {e}\n"));
            1
        }
    }
}

#[cfg(unix)]
struct Supervisor<'o> {
    out: &'o Output,
    target: Target,
    /// The arguments every child gets: this process's own.
    args: Vec<OsString>,
    socket: std::net::TcpListener,
    addr: SocketAddr,
    watched: Watched,
    /// The notify sockets and the build status live here; removed at the end.
    dir: tempfile::TempDir,
    /// The child serving now.
    current: Option<Child>,
    /// Children told to stop, draining their last requests.
    draining: Vec<Child>,
    /// How many children were started, to name their notify sockets.
    started: usize,
}

#[cfg(unix)]
impl<'o> Supervisor<'o> {
    fn start(
        app: App,
        options: &RunOptions,
        argv: &[OsString],
        target: Target,
        out: &'o Output,
    ) -> io::Result<Self> {
        let core = app.build()?;
        let socket = match inherited_listener()? {
            Some(socket) => socket,
            None => bind(&options.addr)?,
        };
        let addr = socket.local_addr()?;
        refuse_debug_beyond_loopback(true, addr)?;
        let mut read_live: Vec<PathBuf> = Vec::new();
        if let Some(folder) = core.features.get::<crate::templates::Templates>().and_then(|t| t.folder()) {
            read_live.push(folder.to_path_buf());
        }
        read_live.extend(core.endpoints.iter().filter_map(|e| e.static_dir.clone()));
        let mut trees: Vec<PathBuf> =
            ["src", "examples", "benches"].iter().map(|d| target.crate_dir.join(d)).collect();
        trees.extend(read_live.iter().cloned());
        trees.retain(|t| t.is_dir());
        trees.sort();
        trees.dedup();
        let nested: Vec<PathBuf> =
            trees.iter().filter(|t| trees.iter().any(|o| o != *t && t.starts_with(o))).cloned().collect();
        trees.retain(|t| !nested.contains(t));
        let watched = Watched {
            trees,
            crate_dir: target.crate_dir.clone(),
            target_dir: target.target_dir.clone(),
            read_live,
        };
        let dir = tempfile::Builder::new().prefix("erlen-reload-").tempdir()?;
        let args = argv.iter().skip(1).cloned().collect();
        Ok(Supervisor {
            out,
            target,
            args,
            socket,
            addr,
            watched,
            dir,
            current: None,
            draining: Vec::new(),
            started: 0,
        })
    }

    fn say(&self, line: &str) {
        self.out.err(&format!(" * {line}\n"));
    }

    fn status_file(&self) -> PathBuf {
        self.dir.path().join("build-status")
    }

    /// Serves until ctrl-c or SIGTERM.
    fn run(&mut self) {
        let (events, changes) = mpsc::channel();
        let stop = events.clone();
        crate::bridge::handle().spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(Event::Stop);
        });
        let shown: Vec<String> = self.watched.trees.iter().map(|t| self.relative(t)).collect();
        self.say("Debug mode: the debug page shows errors, and the app reloads when its code changes (ctrl-c to quit)");
        let _watcher = match self.watched.start(events) {
            Ok(watcher) => {
                self.say(&format!(
                    "Watching {} and Cargo.toml in {}; rebuilding with `{}`",
                    shown.join(", "),
                    self.target.crate_dir.display(),
                    self.target.describe()
                ));
                Some(watcher)
            }
            Err(e) => {
                self.say(&format!("Cannot watch the files ({e}); serving without reload"));
                None
            }
        };
        self.say(&format!("Listening on http://{} (the socket stays open across reloads)", self.addr));
        match self.spawn_ready() {
            Ok(child) => self.current = Some(child),
            Err(why) => self.say(&format!("The app did not start: {why}; waiting for a change")),
        }
        loop {
            match changes.recv_timeout(Duration::from_millis(250)) {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Event::Changed(first)) => match watch::debounce(first, &changes) {
                    Ok(changed) => self.reload(&changed),
                    Err(()) => break,
                },
                Err(RecvTimeoutError::Timeout) => self.reap(),
            }
        }
        self.stop();
    }

    /// Rebuilds and swaps, after `changed`.
    fn reload(&mut self, changed: &[PathBuf]) {
        // The files that are still there: an editor's or sed's temporary file, written and
        // renamed away within the save, is no news (a deleted source file still is).
        let mut shown: Vec<&PathBuf> = changed.iter().filter(|p| p.exists()).collect();
        if shown.is_empty() {
            shown = changed.iter().collect();
        }
        let names: Vec<String> = shown.iter().take(3).map(|p| self.relative(p)).collect();
        let more = if shown.len() > 3 { format!(" and {} more", shown.len() - 3) } else { String::new() };
        if self.current.is_some() && changed.iter().all(|p| self.watched.is_read_live(p)) {
            self.say(&format!(
                "Changed: {}{more} (templates and static files are read as they change: nothing to rebuild)",
                names.join(", ")
            ));
            return;
        }
        self.say(&format!("Changed: {}{more}; rebuilding", names.join(", ")));
        let began = Instant::now();
        let before = stamp(&self.target.exe);
        let colour = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let built = self.target.build_command(colour).output();
        let build_time = began.elapsed();
        match built {
            Err(e) => {
                self.say(&format!("Cannot run cargo ({e}); the app keeps serving as it was"));
                return;
            }
            Ok(output) if !output.status.success() => {
                let errors = String::from_utf8_lossy(&output.stderr);
                self.out.err(&errors);
                self.say(&format!(
                    "The build failed ({:.1} s); the previous build keeps serving. Fix the code and save again",
                    build_time.as_secs_f64()
                ));
                let _ = std::fs::write(self.status_file(), strip_ansi(&errors));
                return;
            }
            Ok(_) => {}
        }
        let _ = std::fs::remove_file(self.status_file());
        if self.current.is_some() && stamp(&self.target.exe) == before {
            self.say(&format!(
                "Rebuilt in {:.1} s: the binary did not change, nothing to swap",
                build_time.as_secs_f64()
            ));
            return;
        }
        let swap = Instant::now();
        match self.spawn_ready() {
            Ok(child) => {
                if let Some(mut old) = self.current.replace(child) {
                    terminate(&mut old);
                    self.draining.push(old);
                }
                self.say(&format!(
                    "Swapped in {:.2} s (build {:.1} s, start {:.2} s)",
                    began.elapsed().as_secs_f64(),
                    build_time.as_secs_f64(),
                    swap.elapsed().as_secs_f64()
                ));
            }
            Err(why) => {
                let what = if self.current.is_some() {
                    "the previous one keeps serving"
                } else {
                    "waiting for a change"
                };
                self.say(&format!("The new build did not start: {why}; {what}"));
                let _ = std::fs::write(self.status_file(), format!("The new build did not start: {why}\n"));
            }
        }
    }

    /// Starts a child on the socket and waits for its `READY=1`.
    fn spawn_ready(&mut self) -> Result<Child, String> {
        self.started += 1;
        let notify_path = self.dir.path().join(format!("notify-{}", self.started));
        let notify = std::os::unix::net::UnixDatagram::bind(&notify_path)
            .map_err(|e| format!("cannot make a notify socket: {e}"))?;
        let _ = notify.set_read_timeout(Some(Duration::from_millis(100)));
        let socket = self.socket.try_clone().map_err(|e| format!("cannot pass the socket: {e}"))?;
        // The socket goes in as the shell's stdin, which moves it to descriptor 3 and
        // execs the app with LISTEN_PID set to its own (the shell's, kept by exec) id.
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(r#"LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@" 3<&0 0</dev/null"#)
            .arg(&self.target.exe)
            .args(&self.args)
            .env("LISTEN_FDS", "1")
            .env("NOTIFY_SOCKET", &notify_path)
            .env(PARENT, std::process::id().to_string())
            .env("ERLEN_RELOAD_STATUS", self.status_file())
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(socket)))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.target.exe.display()))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut buf = [0u8; 512];
        let outcome = loop {
            if let Ok(n) = notify.recv(&mut buf) {
                if buf[..n].split(|b| *b == b'\n').any(|line| line == b"READY=1") {
                    break Ok(());
                }
            }
            match child.try_wait() {
                Ok(Some(status)) => break Err(format!("it exited ({status}) before serving")),
                Ok(None) if Instant::now() > deadline => {
                    break Err(format!("it did not say it was ready within {} s", READY_TIMEOUT.as_secs()));
                }
                _ => {}
            }
        };
        let _ = std::fs::remove_file(&notify_path);
        match outcome {
            Ok(()) => Ok(child),
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(why)
            }
        }
    }

    /// Collects the children that have exited; says so when the serving one did.
    fn reap(&mut self) {
        self.draining.retain_mut(|child| !matches!(child.try_wait(), Ok(Some(_))));
        if let Some(child) = &mut self.current {
            if let Ok(Some(status)) = child.try_wait() {
                self.current = None;
                self.say(&format!("The app exited ({status}); it starts again at the next change"));
            }
        }
    }

    /// Stops every child gracefully and waits for them.
    fn stop(&mut self) {
        self.say("Stopping");
        let children: Vec<Child> = self.current.take().into_iter().chain(self.draining.drain(..)).collect();
        for mut child in children {
            terminate(&mut child);
            let deadline = Instant::now() + Duration::from_secs(15);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `path` relative to the crate's folder, for the console.
    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.target.crate_dir).unwrap_or(path).display().to_string()
    }
}

/// Binds `addr` with erlen's backlog, for the children to share.
#[cfg(unix)]
fn bind(addr: &str) -> io::Result<std::net::TcpListener> {
    let resolved = addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{addr} resolved to no address"))
    })?;
    let _entered = crate::bridge::handle().enter();
    let listener = bind_listener(resolved, DEFAULT_BACKLOG).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            io::Error::new(e.kind(), format!("{addr} is in use by another program: stop it, or pass --port"))
        } else {
            e
        }
    })?;
    listener.into_std()
}

/// When the binary was last written, and its length.
#[cfg(unix)]
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Asks a child to stop gracefully: SIGTERM, which erlen answers with a graceful
/// shutdown (in-flight requests finish, nothing new is accepted).
#[cfg(unix)]
#[allow(unsafe_code)] // See SAFETY below.
fn terminate(child: &mut Child) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else { return };
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    // SAFETY: kill takes two integers and touches no memory of this process; the child
    // has not been reaped (checked above), so its id names no other process.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

#[cfg(not(unix))]
fn terminate(child: &mut Child) {
    let _ = child.kill();
}

/// The compiler's output without its colours, for the debug page.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn colours_are_stripped() {
        assert_eq!(super::strip_ansi("\u{1b}[1m\u{1b}[31merror\u{1b}[0m: x"), "error: x");
    }
}
