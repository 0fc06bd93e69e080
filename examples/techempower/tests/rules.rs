//! The six tests against TechEmpower's rules, on a real PostgreSQL: Debian's server started
//! in a temporary directory (initdb, a free port, a socket directory of its own; as the
//! `postgres` user when the test runs as root), TechEmpower's schema and rows loaded, the
//! app served on the async backend (verified at `/...`) and on the threaded backend
//! (verified at `/sync/...`), each checked by `erlen_techempower::verify`, the verifier
//! `scripts/tfb.sh` runs before timing a server.
//!
//! It needs PostgreSQL's server programs (`.ci/run` installs Debian's `postgresql` when
//! missing; `PG_BIN` names another folder holding `initdb` and `postgres`), so it is
//! `#[ignore]`d: `cargo test --workspace` lists it as not run, `-- --include-ignored` runs
//! it. Every wait is bounded: when PostgreSQL is missing or does not start, the test fails
//! within seconds with a message that says why.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use erlen::{Backend, Server};
use erlen_techempower::{app, verify};

/// A PostgreSQL server of the test's own, stopped (and its directory removed) on drop.
struct Postgres {
    dir: PathBuf,
    port: u16,
    child: Child,
}

/// The folder of PostgreSQL's server programs: `PG_BIN`, or Debian's newest
/// `/usr/lib/postgresql/N/bin`, or the one of `initdb` on the `PATH`.
fn postgres_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PG_BIN") {
        return PathBuf::from(bin);
    }
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").exists());
    on_path.unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server programs (initdb, postgres) were not found in /usr/lib/postgresql/*/bin \
             nor on the PATH: install Debian's `postgresql` (apt-get install postgresql), or set PG_BIN"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program args...`, as the `postgres` user when the test runs as root (PostgreSQL
/// refuses to run as root).
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl Postgres {
    fn start() -> Postgres {
        let bin = postgres_bin();
        let dir = std::env::temp_dir().join(format!("erlen-tfb-pg-{}-{}", std::process::id(), free_port()));
        fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let chown = Command::new("chown").args(["-R", "postgres:"]).arg(&dir).status();
            assert!(
                chown.is_ok_and(|s| s.success()),
                "cannot give {} to the `postgres` user, which PostgreSQL runs as when the test runs as \
                 root: is Debian's `postgresql` installed (it makes the user)?",
                dir.display()
            );
        }
        let (data, sockets, log) = (dir.join("data"), dir.join("sockets"), dir.join("postgres.log"));
        let output = as_owner(&bin.join("initdb"))
            .args(["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", "postgres", "-D"])
            .arg(&data)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.join("initdb").display()));
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mkdir = as_owner(Path::new("mkdir")).arg(&sockets).status();
        assert!(mkdir.is_ok_and(|s| s.success()), "cannot make {}", sockets.display());

        let port = free_port();
        let log_file = fs::File::create(&log).unwrap();
        let child = as_owner(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-k"])
            .arg(&sockets)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.join("postgres").display()));
        let mut postgres = Postgres { dir, port, child };
        postgres.wait_until_ready();
        postgres
    }

    fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}:benchmarkdbpass@127.0.0.1:{}/{database}", self.port)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if postgres::Client::connect(&self.url("postgres", "postgres"), postgres::NoTls).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("PostgreSQL exited ({status}) before accepting connections:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not accept connections within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// TechEmpower's database, user, tables and rows, from the example's `sql/`.
    fn load(&self) {
        let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut admin =
            postgres::Client::connect(&self.url("postgres", "postgres"), postgres::NoTls).unwrap();
        // One statement at a time: CREATE DATABASE cannot run in the transaction a batch is.
        let create = fs::read_to_string(sql.join("create-database.sql")).unwrap();
        let lines: Vec<&str> = create.lines().filter(|line| !line.starts_with("--")).collect();
        for statement in lines.join("\n").split(';').filter(|s| !s.trim().is_empty()) {
            admin.batch_execute(statement).unwrap();
        }
        let mut db =
            postgres::Client::connect(&self.url("benchmarkdbuser", "hello_world"), postgres::NoTls).unwrap();
        db.batch_execute(&fs::read_to_string(sql.join("hello_world.sql")).unwrap()).unwrap();
        let worlds: i64 = db.query_one("SELECT count(*) FROM world", &[]).unwrap().get(0);
        let fortunes: i64 = db.query_one("SELECT count(*) FROM fortune", &[]).unwrap().get(0);
        assert_eq!((worlds, fortunes), (10_000, 12), "rows of World and Fortune");
    }
}

impl Drop for Postgres {
    /// A fast shutdown (SIGINT to the postmaster, whose pid is the first line of
    /// `postmaster.pid`), waited for, then the directory removed.
    fn drop(&mut self) {
        let pid = fs::read_to_string(self.dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(str::to_string));
        match pid {
            Some(pid) => {
                let _ = Command::new("kill").args(["-INT", &pid]).status();
            }
            None => {
                let _ = self.child.kill();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn check(addr: &str, prefix: &str, reader: &mut postgres::Client) {
    let report = verify::verify(addr, prefix, reader);
    assert!(
        report.problems.is_empty(),
        "http://{addr}{prefix} breaks TechEmpower's rules:\n{}\n\nchecked:\n{}",
        report.problems.join("\n"),
        report.checked.join("\n")
    );
    // json, plaintext, db, 6 of queries, 6 of updates, fortunes.
    assert_eq!(report.checked.len(), 16, "{:#?}", report.checked);
}

#[test]
#[ignore = "needs PostgreSQL (apt-get install postgresql); run with: cargo test --workspace -- --include-ignored"]
fn the_six_tests_follow_techempowers_rules_on_both_backends() {
    let postgres = Postgres::start();
    postgres.load();
    let url = postgres.url("benchmarkdbuser", "hello_world");
    let mut reader = postgres::Client::connect(&url, postgres::NoTls).unwrap();

    let server = Server::bind("127.0.0.1:0").backend(Backend::Async).spawn(app(&url, 4).unwrap()).unwrap();
    check(&server.addr().to_string(), "", &mut reader);
    // And the verifier fails a server that does not serve the tests.
    let report = verify::verify(&server.addr().to_string(), "/nowhere", &mut reader);
    assert!(report.problems.len() >= 16, "{:#?}", report.problems);
    server.shutdown();

    let threaded = Backend::Threaded { workers: 4 };
    let server = Server::bind("127.0.0.1:0").backend(threaded).spawn(app(&url, 4).unwrap()).unwrap();
    check(&server.addr().to_string(), "/sync", &mut reader);
    check(&server.addr().to_string(), "/bridge", &mut reader);
    server.shutdown();
}
