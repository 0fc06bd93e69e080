//! `run`: serves the app as [`App::run`](crate::App::run) does, the `ERLEN_*` variables
//! overridden by the flags. In debug mode it hands over to the reloader (`reload`), unless
//! this process is the one the reloader started, which serves the socket it was passed,
//! says when it is ready, and stops when the reloader is gone.

use std::ffi::OsString;
use std::io;

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::output::Output;
use super::{notify, reload};
use crate::app::App;
use crate::serve::{Backend, RunOptions, backend_from_env, shutdown_signal, start};

pub(super) fn command() -> Command {
    Command::new("run")
        .about("Serve the app (the default command)")
        .long_about(
            "Serve the app until ctrl-c or SIGTERM, as `flask run`. The ERLEN_* variables apply \
             (ERLEN_ADDR, ERLEN_BACKEND, ERLEN_WORKERS, ERLEN_TRUST_PROXY, ERLEN_DEBUG); these flags \
             take precedence. A socket passed by LISTEN_FDS (systemd's socket activation) is served \
             instead of the address.",
        )
        .arg(Arg::new("host").long("host").value_name("HOST").help("The interface to bind to [default: 127.0.0.1]"))
        .arg(
            Arg::new("port")
                .long("port")
                .short('p')
                .value_name("PORT")
                .value_parser(clap::value_parser!(u16))
                .help("The port to bind to [default: 5000]"),
        )
        .arg(
            Arg::new("backend")
                .long("backend")
                .value_name("BACKEND")
                .value_parser(["async", "threaded"])
                .help("Where handlers run: the async backend, or a pool of worker threads [default: async]"),
        )
        .arg(
            Arg::new("workers")
                .long("workers")
                .value_name("N")
                .value_parser(clap::value_parser!(u16).range(1..))
                .help("The threaded backend's worker threads [default: twice the cores, at least 4]"),
        )
        .arg(Arg::new("debug").long("debug").action(ArgAction::SetTrue).help(
            "Debug mode: the debug page for errors, and a reload that rebuilds and swaps the app when its code changes",
        ))
        .arg(
            Arg::new("no-reload")
                .long("no-reload")
                .action(ArgAction::SetTrue)
                .help("In debug mode, do not watch the code nor reload"),
        )
}

/// The address and backend: the variables', then the flags'.
fn options(args: &ArgMatches) -> io::Result<RunOptions> {
    let mut options = RunOptions::from_env()?;
    let host = args.get_one::<String>("host");
    let port = args.get_one::<u16>("port");
    if host.is_some() || port.is_some() {
        let (env_host, env_port) = split_addr(&options.addr);
        let host = host.map_or(env_host, String::as_str).trim_start_matches('[').trim_end_matches(']');
        let port = port.map_or(env_port.to_string(), u16::to_string);
        options.addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    }
    let workers = args.get_one::<u16>("workers").map(u16::to_string);
    let backend = args.get_one::<String>("backend");
    if backend.is_some() || workers.is_some() {
        let env = std::env::var("ERLEN_BACKEND").ok();
        let backend = backend.map(String::as_str).or(env.as_deref());
        let env_workers = std::env::var("ERLEN_WORKERS").ok();
        options.backend = backend_from_env(backend, workers.as_deref().or(env_workers.as_deref()))?;
        if workers.is_some() && options.backend == Backend::Async {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--workers sets the threaded backend's threads: add `--backend threaded`",
            ));
        }
    }
    Ok(options)
}

/// `host:port` (or `[v6]:port`) in two; the port is 5000 when it is missing.
fn split_addr(addr: &str) -> (&str, &str) {
    match addr.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty() && port.chars().all(|c| c.is_ascii_digit()) && !host.ends_with(':') =>
        {
            (host, port)
        }
        _ => (addr, "5000"),
    }
}

/// Serves the app; returns the exit status.
pub(super) fn run(app: App, args: &ArgMatches, argv: &[OsString], out: &Output) -> u8 {
    let options = match options(args) {
        Ok(options) => options,
        Err(e) => {
            out.err(&format!("Error: {e}\n"));
            return 2;
        }
    };
    let app = if args.get_flag("debug") { app.debug(true) } else { app };
    let reloader = reload::parent();
    if app.is_debug() && !args.get_flag("no-reload") && reloader.is_none() {
        return reload::supervise(app, &options, argv, out);
    }
    let handle = match start(app, &options) {
        Ok(handle) => handle,
        Err(e) => {
            out.err(&format!("Error: {e}\n"));
            return 1;
        }
    };
    notify::ready();
    crate::bridge::block_on(async {
        tokio::select! {
            () = shutdown_signal() => {}
            () = reload::parent_gone(reloader) => {
                tracing::warn!("the reloader that started this process is gone; shutting down");
            }
        }
    });
    tracing::info!("shutting down gracefully");
    handle.shutdown();
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(split_addr("127.0.0.1:5000"), ("127.0.0.1", "5000"));
        assert_eq!(split_addr("[::1]:8000"), ("[::1]", "8000"));
        assert_eq!(split_addr("localhost"), ("localhost", "5000"));
        assert_eq!(split_addr("::1"), ("::1", "5000"));
    }
}
