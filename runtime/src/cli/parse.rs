//! The command line, parsed with clap: `run` (the default), `routes`, and the app's
//! `#[command]`s, each with its doc comment as help and its arguments as the macro read
//! them; then the command is run, its output going to the terminal or to a test runner's
//! buffer ([`Output`]).

use std::ffi::OsString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::output::Output;
use super::{routes, run};
use crate::app::{App, AppCore};
use crate::command::{ArgKind, CommandSpec, Invocation};
use crate::error::HttpError;
use crate::handler::Callable;

/// The exit status of a usage error, as clap's and click's.
const USAGE: u8 = 2;

impl App {
    /// Runs the app's command line, as Flask's `flask` command, and returns its exit
    /// status: the app's binary is its CLI. `fn main() -> ExitCode { app().cli() }`.
    ///
    /// * `run` (the default when no command is given) serves the app, as [`App::run`]
    ///   does, with `--host`, `--port`, `--backend async|threaded`, `--workers` and
    ///   `--debug`; the `ERLEN_*` variables still apply, the flags take precedence. A
    ///   socket passed by `LISTEN_FDS` (systemd's socket activation) is served instead of
    ///   the address. `run --debug` (or debug mode turned on by [`App::debug`] or
    ///   `ERLEN_DEBUG=1`) also watches the app's sources, templates and static files, and
    ///   when they change rebuilds the binary with cargo and swaps the running process
    ///   for the new one without refusing a connection (`--no-reload` turns that off).
    /// * `routes` prints every route: endpoint, methods and rule, as `flask routes`.
    /// * each [`#[command]`](crate::command) function registered with `handlers![]` is a
    ///   command, named after it, with its doc comment as help.
    /// * `--help` lists the commands; `COMMAND --help` tells one's arguments.
    ///
    /// A command that fails exits with status 1 and prints `Error: ...`; a mistake on the
    /// command line exits with status 2 and says what was expected. Test it in-process
    /// with [`App::test_cli_runner`].
    ///
    /// ```no_run
    /// use erlen::prelude::*;
    ///
    /// /// Clear the existing data and create new tables.
    /// #[command]
    /// fn init_db() {
    ///     echo!("Initialized the database.");
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     App::new().register(handlers![init_db]).cli()
    /// }
    /// ```
    pub fn cli(self) -> ExitCode {
        ExitCode::from(cli_main(self, std::env::args_os().collect(), &Output::Terminal))
    }
}

/// The command line of `app` with the arguments `args` (the program's name first).
fn cli_main(app: App, args: Vec<OsString>, out: &Output) -> u8 {
    let bin = args.first().map(program_name).unwrap_or_else(|| "app".to_string());
    let specs: Vec<&CommandSpec> = app.command_specs().collect();
    let matches = match parse(parser(&bin, &specs), &args, out) {
        Ok(matches) => matches,
        Err(status) => return status,
    };
    match matches.subcommand() {
        // `run`'s defaults, as if it were given.
        None => match run::command().try_get_matches_from(["run"]) {
            Ok(defaults) => run::run(app, &defaults, &args, out),
            Err(e) => {
                out.err(&e.render().to_string());
                USAGE
            }
        },
        Some(("run", sub)) => run::run(app, sub, &args, out),
        Some(_) => match app.build() {
            Ok(core) => dispatch(&core, &matches, out),
            Err(e) => {
                out.err(&format!("Error: {e}\n"));
                1
            }
        },
    }
}

/// The command line of a built app, for the test runner: anything but `run`.
pub(crate) fn invoke_built(core: &Arc<AppCore>, bin: &str, args: Vec<OsString>, out: &Output) -> u8 {
    let specs: Vec<&CommandSpec> = core.commands.iter().map(|(spec, _)| spec).collect();
    let matches = match parse(parser(bin, &specs), &args, out) {
        Ok(matches) => matches,
        Err(status) => return status,
    };
    match matches.subcommand_name() {
        None | Some("run") => {
            out.err(
                "Error: the test runner does not serve the app: test its views with `app.test_client()`\n",
            );
            1
        }
        Some(_) => dispatch(core, &matches, out),
    }
}

/// The file name of the program, without its extension: `flaskr`.
fn program_name(arg0: &OsString) -> String {
    std::path::Path::new(arg0)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".to_string())
}

/// Parses `args`; a mistake, `--help` and the like are written out and give the exit
/// status.
fn parse(parser: Command, args: &[OsString], out: &Output) -> Result<ArgMatches, u8> {
    parser.try_get_matches_from(args).map_err(|e| {
        let text = e.render().to_string();
        if e.use_stderr() {
            out.err(&text)
        } else {
            out.out(&text)
        }
        u8::try_from(e.exit_code()).unwrap_or(USAGE)
    })
}

/// The command line: `run`, `routes` and the app's commands.
fn parser(bin: &str, specs: &[&CommandSpec]) -> Command {
    let mut cli = Command::new(bin.to_string())
        .about("The app's command line: serve it, list its routes, or run one of its commands.")
        .subcommand(run::command())
        .subcommand(routes::command())
        .after_help("Without a command, `run` serves the app.");
    for spec in specs {
        cli = cli.subcommand(command(spec));
    }
    cli
}

/// The subcommand of a `#[command]`.
fn command(spec: &CommandSpec) -> Command {
    let (about, long) = match spec.help.split_once("\n\n") {
        Some((first, _)) => (first.replace('\n', " "), Some(spec.help)),
        None => (spec.help.replace('\n', " "), None),
    };
    let mut command = Command::new(spec.name).about(about);
    if let Some(long) = long {
        command = command.long_about(long);
    }
    for arg in &spec.args {
        let check = arg.check;
        let flag = arg.name.replace('_', "-");
        let value = arg.name.to_uppercase();
        let clap_arg = match arg.kind {
            ArgKind::Positional => Arg::new(arg.name).value_name(value).required(true),
            ArgKind::Option => Arg::new(arg.name).long(flag).value_name(value),
            ArgKind::Switch => Arg::new(arg.name).long(flag).action(ArgAction::SetTrue),
        };
        let clap_arg = match arg.kind {
            ArgKind::Switch => clap_arg,
            _ => clap_arg.value_parser(move |text: &str| check(text).map(|()| text.to_string())),
        };
        command = command.arg(clap_arg);
    }
    command
}

/// Runs `routes` or one of the app's commands.
fn dispatch(core: &Arc<AppCore>, matches: &ArgMatches, out: &Output) -> u8 {
    let Some((name, sub)) = matches.subcommand() else { return 0 };
    if name == "routes" {
        return routes::print(core, sub, out);
    }
    let Some((spec, call)) = core.commands.iter().find(|(spec, _)| spec.name == name) else {
        out.err(&format!("Error: no command is named `{name}`\n"));
        return USAGE;
    };
    let mut invocation = Invocation { command: spec.name, matches: sub.clone(), state: core.state.clone() };
    let outcome = crate::command::with_output(out.buffer(), || {
        catch_unwind(AssertUnwindSafe(|| match call {
            Callable::Sync(f) => f(&mut invocation),
            Callable::Async(f) => crate::bridge::block_on(f(&mut invocation)),
        }))
    });
    match outcome {
        Ok(Ok(None)) => 0,
        Ok(Ok(Some(text))) => {
            out.out(&format!("{text}\n"));
            0
        }
        Ok(Err(error)) => {
            out.err(&format!("Error: {error}\n"));
            1
        }
        Err(panic) => {
            let error = HttpError::from_panic(&*panic);
            out.err(&format!(
                "Error: the command `{name}` failed with a {}\n",
                error.message().unwrap_or_default()
            ));
            1
        }
    }
}
