//! What a `#[command]` function registers and takes: its name, help and arguments as the
//! macro read them ([`CommandSpec`]), the parsed command line it is called with
//! ([`Invocation`]), and the traits that check its arguments and return value at compile
//! time. The command line itself (clap, `run`, `routes`) is the `cli` module's.
//!
//! A command runs outside any request. It may take application state (`State<T>`) and
//! the app's channels (`Channels`), through [`CommandContext`]; every other argument is read from the command line: `bool` is a
//! switch (`--dry-run`), `Option<T>` an optional `--name <NAME>`, anything else a
//! positional `<NAME>`, each parsed with `FromStr` ([`CommandValue`]).
//!
//! Extension point: what a command takes from the app is [`CommandContext`]. The macro
//! sends it every argument whose type it knows by name as the app's (`State`, `Channels`):
//! implement the trait for the new type (next to the type: `channels` implements it for
//! `Channels`), and add its name to `COMMAND_CONTEXT` in `macros/src/model.rs`.

use std::cell::RefCell;
use std::fmt::{self, Display};
use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use http::Extensions;

use crate::extract::State;

/// A command as its attribute describes it.
#[derive(Debug)]
pub struct CommandSpec {
    /// Its name on the command line: `init-db`.
    pub(crate) name: &'static str,
    /// The function's name: `init_db`.
    pub(crate) function: &'static str,
    /// Its help: the function's doc comment.
    pub(crate) help: &'static str,
    pub(crate) args: Vec<ArgSpec>,
}

impl CommandSpec {
    /// A command named `name` on the command line, made from the function `function`,
    /// with the doc comment `help` and the command-line arguments `args`.
    pub fn new(name: &'static str, function: &'static str, help: &'static str, args: Vec<ArgSpec>) -> Self {
        CommandSpec { name, function, help, args }
    }
}

/// How a command-line argument is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// `<COUNT>`, required.
    Positional,
    /// `--name <NAME>`, optional.
    Option,
    /// `--verbose`.
    Switch,
}

/// One command-line argument of a command: named after the function's parameter.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    pub(crate) name: &'static str,
    pub(crate) kind: ArgKind,
    /// Checks a value while the command line is parsed, so that a bad one is a usage
    /// error that names the argument.
    pub(crate) check: fn(&str) -> Result<(), String>,
}

impl ArgSpec {
    /// `<NAME>`: a required positional value.
    pub fn positional(name: &'static str, check: fn(&str) -> Result<(), String>) -> ArgSpec {
        ArgSpec { name, kind: ArgKind::Positional, check }
    }

    /// `--name <NAME>`: an optional value.
    pub fn option(name: &'static str, check: fn(&str) -> Result<(), String>) -> ArgSpec {
        ArgSpec { name, kind: ArgKind::Option, check }
    }

    /// `--name`: a switch.
    pub fn switch(name: &'static str) -> ArgSpec {
        ArgSpec { name, kind: ArgKind::Switch, check: |_| Ok(()) }
    }
}

/// A command being run: its parsed command line and the app's state.
pub struct Invocation {
    pub(crate) command: &'static str,
    pub(crate) matches: clap::ArgMatches,
    pub(crate) state: Arc<Extensions>,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation").field("command", &self.command).finish_non_exhaustive()
    }
}

impl Invocation {
    fn value(&self, name: &str) -> Option<&str> {
        self.matches.try_get_one::<String>(name).ok().flatten().map(String::as_str)
    }

    /// The app's state of type `T`, as `App::state` (or erlen itself) stored it.
    pub(crate) fn state<T: Send + Sync + 'static>(&self) -> Option<&Arc<T>> {
        self.state.get::<Arc<T>>()
    }

    /// Whether the switch `--name` was given.
    pub fn switch(&self, name: &str) -> bool {
        self.matches.try_get_one::<bool>(name).ok().flatten().copied().unwrap_or(false)
    }
}

/// What a command returns, done: the text to print, or the error to print with `Error:`.
pub type CommandResult = Result<Option<String>, String>;

/// A value a command reads from the command line, parsed with `FromStr`: `String`,
/// `PathBuf`, numbers, and any type of yours that implements `FromStr` with an error that
/// implements `Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a `#[command]`: it is read from the command line with `FromStr`",
    label = "not a command-line value",
    note = "take `String`, `PathBuf`, a number or a type that implements `FromStr`; `bool` is a switch (`--name`), `Option<T>` an optional `--name <VALUE>`; application state is `State<T>`, the app's channels `Channels`"
)]
pub trait CommandValue: Sized {
    /// Parses the text given on the command line.
    fn parse_arg(text: &str) -> Result<Self, String>;

    /// Checks a value while the command line is parsed.
    #[doc(hidden)]
    fn check(text: &str) -> Result<(), String> {
        Self::parse_arg(text).map(drop)
    }

    /// The required positional argument `name`.
    #[doc(hidden)]
    fn required(inv: &Invocation, name: &str) -> Result<Self, String> {
        match inv.value(name) {
            Some(text) => Self::parse_arg(text),
            None => Err(format!("the argument <{}> is missing", name.to_uppercase())),
        }
    }

    /// The optional `--name <NAME>`.
    #[doc(hidden)]
    fn optional(inv: &Invocation, name: &str) -> Result<Option<Self>, String> {
        inv.value(name).map(Self::parse_arg).transpose()
    }
}

impl<T: FromStr> CommandValue for T
where
    T::Err: Display,
{
    fn parse_arg(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e: T::Err| e.to_string())
    }
}

/// What a command takes from the app rather than from the command line: application
/// state, `State<T>` (or `Option<State<T>>`), and the app's `Channels`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken by a `#[command]` from the app",
    label = "commands take `State<T>` and `Channels` from the app",
    note = "a command runs outside any request: take application state added with `App::state(value)` as `State<T>`, the app's channels as `Channels`, and command-line values as plain arguments"
)]
pub trait CommandContext: Sized {
    /// The value, from the app.
    fn from_app(inv: &Invocation) -> Result<Self, String>;
}

impl<T: Send + Sync + 'static> CommandContext for State<T> {
    fn from_app(inv: &Invocation) -> Result<Self, String> {
        inv.state::<T>().cloned().map(State).ok_or_else(|| {
            format!(
                "the command `{}` takes `State<{}>`, and the app has no such state: add it with `App::new().state(value)`",
                inv.command,
                std::any::type_name::<T>()
            )
        })
    }
}

impl<T: Send + Sync + 'static> CommandContext for Option<State<T>> {
    fn from_app(inv: &Invocation) -> Result<Self, String> {
        Ok(inv.state::<T>().cloned().map(State))
    }
}

/// What a command may return: `()`, or `Result<(), E>` whose `Err` is printed as
/// `Error: ...` with exit status 1. (Any other value that implements `Display` is printed:
/// see [`CommandPrint`].)
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a `#[command]`",
    label = "a command returns `()`, `Result<(), E>` where `E: Display`, or a value that implements `Display`",
    note = "an `Err` is printed as `Error: ...` and the command exits with status 1"
)]
pub trait CommandReturn {
    /// The text to print, or the error.
    fn into_command(self) -> CommandResult;
}

impl CommandReturn for () {
    fn into_command(self) -> CommandResult {
        Ok(None)
    }
}

impl<E: Display> CommandReturn for Result<(), E> {
    fn into_command(self) -> CommandResult {
        self.map(|()| None).map_err(|e| e.to_string())
    }
}

/// A value a command returns to have it printed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a `#[command]`: it does not implement `Display`",
    label = "a command returns `()`, `Result<(), E>` where `E: Display`, or a value that implements `Display`",
    note = "a returned value is printed, as `echo!` prints; implement `Display` for it or print with `echo!` and return `()`"
)]
pub trait CommandPrint {
    /// The text to print.
    fn into_command(self) -> CommandResult;
}

impl<T: Display> CommandPrint for T {
    fn into_command(self) -> CommandResult {
        Ok(Some(self.to_string()))
    }
}

thread_local! {
    /// Where `echo!` writes on this thread: the test runner's buffer while it runs a
    /// command; stdout otherwise.
    static SINK: RefCell<Option<Arc<Mutex<String>>>> = const { RefCell::new(None) };
}

/// Writes a line of a command's output: to stdout, or to the buffer of the
/// [`CliRunner`](crate::CliRunner) that runs the command. What `echo!` calls.
pub fn echo(args: fmt::Arguments<'_>) {
    let captured = SINK.with(|sink| match &*sink.borrow() {
        Some(buffer) => {
            let mut buffer = crate::sync::lock(buffer);
            let _ = fmt::Write::write_fmt(&mut *buffer, args);
            buffer.push('\n');
            true
        }
        None => false,
    });
    if !captured {
        // Not println!, which panics when stdout is closed (`app routes | head -1`).
        let mut out = std::io::stdout().lock();
        let _ = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    }
}

/// Runs `f` with `echo!` writing to `buffer` on this thread (when given).
pub(crate) fn with_output<R>(buffer: Option<Arc<Mutex<String>>>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Mutex<String>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = SINK.try_with(|sink| *sink.borrow_mut() = previous);
        }
    }
    let previous = SINK.with(|sink| std::mem::replace(&mut *sink.borrow_mut(), buffer));
    let _restore = Restore(previous);
    f()
}

/// Prints a line of a command's output, as click's `echo`: to stdout, or to the buffer of
/// the [`CliRunner`](crate::CliRunner) that runs the command, where a test reads it with
/// `result.output()`. Takes `format!`'s arguments.
///
/// ```
/// use erlen::prelude::*;
///
/// /// Says hello.
/// #[command]
/// fn hello(name: String) {
///     echo!("Hello, {name}!");
/// }
///
/// let result = App::new().register(handlers![hello]).test_cli_runner().invoke(["hello", "erlen"]);
/// assert_eq!(result.output(), "Hello, erlen!\n");
/// ```
#[macro_export]
macro_rules! echo {
    () => {
        $crate::__private::echo(::std::format_args!(""))
    };
    ($($arg:tt)+) => {
        $crate::__private::echo(::std::format_args!($($arg)+))
    };
}
