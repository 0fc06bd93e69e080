//! The app's command line, as Flask's `flask` command: [`App::cli`](crate::App::cli).
//!
//! `parse` builds the command line with clap from the app's `#[command]`s and runs a
//! command; `routes` prints the routes as `flask routes` does; `run` serves (the default
//! command), and in debug mode hands over to `reload`, the supervisor that holds the
//! socket, rebuilds on change (`watch`, `target`) and swaps the app's process, each new
//! one saying it is ready by `notify`.

mod notify;
mod output;
mod parse;
mod reload;
mod routes;
mod run;
mod target;
mod watch;

pub(crate) use output::Output;
pub(crate) use parse::invoke_built;
