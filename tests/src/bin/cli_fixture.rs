//! An app whose binary is its command line (`App::cli`), for the tests that run it as a
//! process: socket activation (`tests/socket_activation.rs`) and debug mode's refusal of
//! an address other than loopback (`tests/debug_page.rs`), and the command line itself
//! (`tests/cli.rs`). With `FIXTURE_APP_RUN` set it
//! serves with `App::run` instead, which takes a `LISTEN_FDS` socket too.

use erlen::prelude::*;

#[get("/")]
fn index() -> String {
    format!("served by {}", std::process::id())
}

#[get("/panic")]
fn explode() -> &'static str {
    panic!("the fixture's <panic>")
}

/// Says hello.
#[command]
fn hello(name: Option<String>) -> String {
    format!("Hello, {}!", name.as_deref().unwrap_or("World"))
}

/// Fails.
#[command]
fn fail() -> Result<(), String> {
    Err("the fixture fails on purpose".to_string())
}

/// Says when it runs: when the app serves, never for a command.
#[before_serving]
fn started() {
    println!("before_serving ran");
}

fn main() -> std::process::ExitCode {
    let app = App::new().register(handlers![index, explode, hello, fail, started]);
    if std::env::var_os("FIXTURE_APP_RUN").is_some() {
        return match app.run() {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    app.cli()
}
