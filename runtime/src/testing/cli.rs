//! The in-process runner of the app's command line, as Flask's `app.test_cli_runner()`.

use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use crate::app::{App, AppCore, BuildError};
use crate::cli::{Output, invoke_built};
use crate::sync::lock;

/// Runs the app's command line in-process, as Flask's `app.test_cli_runner()`: `routes`
/// and the app's `#[command]`s, with the app's state, their output (what `echo!` prints,
/// what a command returns, errors and usage messages) captured in the [`CliResult`].
/// `run` is not served: test views with [`App::test_client`].
///
/// ```
/// use erlen::prelude::*;
///
/// struct Greeting(&'static str);
///
/// /// Greets someone, as often as asked.
/// #[command]
/// fn greet(State(greeting): State<Greeting>, name: String, times: Option<u32>, shout: bool) {
///     for _ in 0..times.unwrap_or(1) {
///         let line = format!("{}, {name}!", greeting.0);
///         echo!("{}", if shout { line.to_uppercase() } else { line });
///     }
/// }
///
/// let runner = App::new().state(Greeting("Hello")).register(handlers![greet]).test_cli_runner();
/// let result = runner.invoke(["greet", "Ada", "--times", "2", "--shout"]);
/// assert!(result.success());
/// assert_eq!(result.output(), "HELLO, ADA!\nHELLO, ADA!\n");
///
/// let mistake = runner.invoke(["greet"]);
/// assert_eq!(mistake.exit_code(), 2);
/// assert!(mistake.output().contains("<NAME>"));
/// ```
#[derive(Debug, Clone)]
pub struct CliRunner {
    app: Arc<AppCore>,
    name: String,
}

/// What an invocation of the [`CliRunner`] did: its exit status and its output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "check the result: `result.success()`, `result.output()`"]
pub struct CliResult {
    exit_code: i32,
    output: String,
}

impl CliResult {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// The exit status: 0 for success, 1 for a command that failed (`Error: ...`), 2 for
    /// a mistake on the command line.
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// Everything printed, stdout and stderr together, as a terminal shows it.
    pub fn output(&self) -> &str {
        &self.output
    }
}

impl App {
    /// A runner of this app's command line, for tests, as Flask's `app.test_cli_runner()`.
    ///
    /// # Panics
    ///
    /// If the app cannot be built, with the list of problems: this is a test helper, and
    /// the panic is the test's failure message. [`App::try_test_cli_runner`] returns the
    /// error instead.
    pub fn test_cli_runner(self) -> CliRunner {
        match self.try_test_cli_runner() {
            Ok(runner) => runner,
            Err(e) => panic!("{e}"),
        }
    }

    /// A runner of this app's command line, or the reasons the app cannot be built.
    pub fn try_test_cli_runner(self) -> Result<CliRunner, BuildError> {
        let name = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "app".to_string());
        Ok(CliRunner { app: self.build()?, name })
    }
}

impl CliRunner {
    /// Runs the command line with `args` (without the program's name):
    /// `runner.invoke(["init-db"])`, `runner.invoke(["routes"])`, `runner.invoke(["--help"])`.
    pub fn invoke<I, S>(&self, args: I) -> CliResult
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let buffer = Arc::new(Mutex::new(String::new()));
        let argv: Vec<OsString> =
            std::iter::once(OsString::from(&self.name)).chain(args.into_iter().map(Into::into)).collect();
        let status = invoke_built(&self.app, &self.name, argv, &Output::Captured(buffer.clone()));
        let output = std::mem::take(&mut *lock(&buffer));
        CliResult { exit_code: i32::from(status), output }
    }
}
