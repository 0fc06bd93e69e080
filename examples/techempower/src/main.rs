//! The TechEmpower server, and the verifier of any server's answers.
//!
//! ```sh
//! techempower async [ADDR]        # async views on the async backend (127.0.0.1:8080)
//! techempower threaded [ADDR]     # the same; serve /sync/... (or /bridge/...) for the sync views
//! techempower verify ADDR [PREFIX]   # check a running server (PREFIX: "" or /sync)
//! ```
//!
//! `DATABASE_URL` names the database (TechEmpower's by default), `TFB_POOL_SIZE` the
//! connections of each pool (16), `TFB_WORKERS` the threaded backend's workers (the pool
//! size), `ERLEN_THREADS` the runtime's threads.

use std::process::ExitCode;
use std::time::Duration;

use erlen::{Backend, Server};
use erlen_techempower::{DEFAULT_DATABASE_URL, DEFAULT_POOL_SIZE, app, verify};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(default)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let database_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_string());
    let pool_size = env_number("TFB_POOL_SIZE", DEFAULT_POOL_SIZE);
    match args.first().map(String::as_str) {
        Some("verify") => {
            let Some(addr) = args.get(1) else {
                eprintln!("usage: techempower verify HOST:PORT [PREFIX]");
                return ExitCode::from(2);
            };
            let prefix = args.get(2).map_or("", String::as_str);
            let mut db = match postgres::Client::connect(&database_url, postgres::NoTls) {
                Ok(db) => db,
                Err(e) => {
                    eprintln!("verify: cannot connect to {database_url} to read updates back: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let report = verify::verify(addr, prefix, &mut db);
            for line in &report.checked {
                println!("checked {line}");
            }
            if report.problems.is_empty() {
                println!("http://{addr}{prefix}: the six tests follow TechEmpower's rules");
                ExitCode::SUCCESS
            } else {
                for problem in &report.problems {
                    eprintln!("FAIL {problem}");
                }
                ExitCode::FAILURE
            }
        }
        backend @ (None | Some("async" | "threaded")) => {
            let addr = args.get(1).map_or("127.0.0.1:8080", String::as_str);
            let backend = match backend {
                Some("threaded") => Backend::Threaded { workers: env_number("TFB_WORKERS", pool_size) },
                _ => Backend::Async,
            };
            let app = match app(&database_url, pool_size) {
                Ok(app) => app,
                Err(e) => {
                    eprintln!("techempower: {e}");
                    return ExitCode::FAILURE;
                }
            };
            eprintln!("erlen ({backend:?}) listening on http://{addr}, database {database_url}");
            // wrk keeps its connections open between measurements.
            let server = Server::bind(addr).backend(backend).header_read_timeout(Duration::from_secs(120));
            match server.run(app) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("techempower: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(other) => {
            eprintln!("unknown command {other:?}: expected async, threaded or verify");
            ExitCode::from(2)
        }
    }
}
