//! An app whose binary is its command line (`App::cli`), for the tests that run it as a
//! process: socket activation (`tests/socket_activation.rs`) and debug mode's refusal of
//! an address other than loopback (`tests/debug_page.rs`). With `FIXTURE_APP_RUN` set it
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

fn main() -> std::process::ExitCode {
    let app = App::new().register(handlers![index, explode, hello]);
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
