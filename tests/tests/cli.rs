//! The app's command line, in-process through `app.test_cli_runner()`: commands with
//! state and arguments (positional, optional, switches), sync and async, their output and
//! exit status; commands that publish on the app's channels; failures, panics and usage
//! errors; `routes` as `flask routes` prints it; and `--help`. Then the same as a process:
//! the app's binary is its command line.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use erlen::StoreError;
use erlen::prelude::*;

/// The app's counter.
#[derive(Default)]
struct Counter(AtomicUsize);

/// Add to the counter.
///
/// Adds AMOUNT, once or `--times` times, and prints the total.
#[command]
fn add(State(counter): State<Counter>, amount: usize, times: Option<usize>, quiet: bool) -> String {
    for _ in 0..times.unwrap_or(1) {
        counter.0.fetch_add(amount, Ordering::SeqCst);
    }
    if quiet { String::new() } else { format!("total: {}", counter.0.load(Ordering::SeqCst)) }
}

/// Clear the existing data and create new tables.
#[command]
async fn init_db(State(log): State<Mutex<Vec<String>>>) -> Result<(), std::io::Error> {
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    log.lock().unwrap().push("initialized".into());
    echo!("Initialized the database.");
    Ok(())
}

/// Always fails.
#[command("fail-now")]
fn fail(reason: String) -> Result<(), String> {
    echo!("about to fail");
    Err(format!("it failed: {reason}"))
}

/// Panics.
#[command]
fn explode() {
    panic!("boom");
}

/// Needs state the app does not have.
#[command]
fn orphan(State(_missing): State<String>) {}

#[get("/")]
fn index() -> &'static str {
    "home"
}

#[route("/post/<int:id>/edit", methods = ["GET", "POST"])]
fn edit(id: i64) -> String {
    id.to_string()
}

#[delete("/post/<int:id>")]
fn delete_post(id: i64) -> String {
    id.to_string()
}

#[get("/")]
fn bp_index() -> &'static str {
    "bp"
}

fn app() -> App {
    App::new()
        .state(Counter::default())
        .state(Mutex::new(Vec::<String>::new()))
        .without_static_folder()
        .register(handlers![add, init_db, fail, explode, orphan, index, edit, delete_post])
        .register_blueprint(Blueprint::new("auth").url_prefix("/auth").register(handlers![bp_index]))
}

#[test]
fn a_command_takes_state_and_arguments() {
    let runner = app().test_cli_runner();
    let result = runner.invoke(["add", "2"]);
    assert!(result.success(), "{}", result.output());
    assert_eq!(result.output(), "total: 2\n");
    let result = runner.invoke(["add", "3", "--times", "2"]);
    assert_eq!(result.output(), "total: 8\n", "the state is the app's, kept between invocations");
    let result = runner.invoke(["add", "1", "--quiet"]);
    assert!(result.success());
    assert_eq!(result.output(), "\n", "a returned value is printed, even empty");
}

#[test]
fn an_async_command_echoes_and_succeeds() {
    let runner = app().test_cli_runner();
    let result = runner.invoke(["init-db"]);
    assert!(result.success(), "{}", result.output());
    assert_eq!(result.output(), "Initialized the database.\n");
    assert_eq!(result.exit_code(), 0);
}

#[test]
fn an_err_prints_error_and_exits_1() {
    let result = app().test_cli_runner().invoke(["fail-now", "disk full"]);
    assert!(!result.success());
    assert_eq!(result.exit_code(), 1);
    assert_eq!(result.output(), "about to fail\nError: it failed: disk full\n");
}

#[test]
fn a_panic_is_an_error_not_a_crash() {
    let result = app().test_cli_runner().invoke(["explode"]);
    assert_eq!(result.exit_code(), 1);
    assert!(
        result.output().contains("Error: the command `explode` failed with a panic: boom"),
        "{}",
        result.output()
    );
}

#[test]
fn missing_state_says_how_to_add_it() {
    let result = app().test_cli_runner().invoke(["orphan"]);
    assert_eq!(result.exit_code(), 1);
    assert!(result.output().contains("add it with `App::new().state(value)`"), "{}", result.output());
}

#[test]
fn usage_errors_exit_2_and_say_what_was_expected() {
    let runner = app().test_cli_runner();
    let missing = runner.invoke(["add"]);
    assert_eq!(missing.exit_code(), 2);
    assert!(missing.output().contains("<AMOUNT>"), "{}", missing.output());
    let bad = runner.invoke(["add", "many"]);
    assert_eq!(bad.exit_code(), 2);
    assert!(bad.output().contains("invalid value 'many' for '<AMOUNT>'"), "{}", bad.output());
    let unknown = runner.invoke(["init-dbb"]);
    assert_eq!(unknown.exit_code(), 2);
    assert!(unknown.output().contains("unrecognized subcommand 'init-dbb'"), "{}", unknown.output());
    assert!(unknown.output().contains("init-db"), "clap suggests the closest: {}", unknown.output());
    let flag = runner.invoke(["add", "1", "--loud"]);
    assert_eq!(flag.exit_code(), 2);
}

#[test]
fn help_lists_every_command_with_its_help() {
    let result = app().test_cli_runner().invoke(["--help"]);
    assert!(result.success());
    let help = result.output();
    for line in [
        "run       Serve the app (the default command)",
        "routes    Show the routes of the app",
        "add       Add to the counter.",
        "init-db   Clear the existing data and create new tables.",
        "fail-now  Always fails.",
    ] {
        assert!(help.contains(line), "`{line}` in:\n{help}");
    }
    let add = app().test_cli_runner().invoke(["add", "--help"]);
    assert!(add.success());
    for part in ["Adds AMOUNT, once or `--times` times", "<AMOUNT>", "--times <TIMES>", "--quiet"] {
        assert!(add.output().contains(part), "`{part}` in:\n{}", add.output());
    }
    let run = app().test_cli_runner().invoke(["run", "--help"]);
    for part in ["--host <HOST>", "--port <PORT>", "--backend <BACKEND>", "--debug", "ERLEN_ADDR"] {
        assert!(run.output().contains(part), "`{part}` in:\n{}", run.output());
    }
}

#[test]
fn routes_are_listed_as_flask_lists_them() {
    let result = app().test_cli_runner().invoke(["routes"]);
    assert!(result.success());
    assert_eq!(
        result.output(),
        concat!(
            "Endpoint       Methods    Rule\n",
            "-------------  ---------  -------------------\n",
            "auth.bp_index  GET        /auth/\n",
            "delete_post    DELETE     /post/<int:id>\n",
            "edit           GET, POST  /post/<int:id>/edit\n",
            "index          GET        /\n",
        )
    );
    let by_rule = app().test_cli_runner().invoke(["routes", "--sort", "rule", "--all-methods"]);
    let rows: Vec<Vec<&str>> = by_rule
        .output()
        .lines()
        .skip(2)
        .map(|l| l.split("  ").filter(|c| !c.is_empty()).map(str::trim).collect())
        .collect();
    assert_eq!(rows[0], ["index", "GET, HEAD, OPTIONS", "/"]);
    assert_eq!(rows[1], ["auth.bp_index", "GET, HEAD, OPTIONS", "/auth/"]);
    assert_eq!(rows[2], ["delete_post", "DELETE, OPTIONS", "/post/<int:id>"]);
    assert_eq!(rows[3], ["edit", "GET, HEAD, OPTIONS, POST", "/post/<int:id>/edit"]);
    let empty = App::new().without_static_folder().test_cli_runner().invoke(["routes"]);
    assert_eq!(empty.output(), "No routes were registered.\n");
}

#[test]
fn the_runner_does_not_serve() {
    let result = app().test_cli_runner().invoke(["run"]);
    assert_eq!(result.exit_code(), 1);
    assert!(result.output().contains("test_client"), "{}", result.output());
}

/// A command registered twice under one name, and one on a blueprint.
#[command("add")]
fn add_again() {}

#[test]
fn command_names_are_unique_and_commands_are_the_apps() {
    let twice = app().register(handlers![add_again]).try_test_cli_runner().unwrap_err();
    assert!(twice.to_string().contains("two commands are named `add`: `add` and `add_again`"), "{twice}");
    let on_bp = App::new()
        .register_blueprint(Blueprint::new("bp").register(handlers![add_again]))
        .try_test_cli_runner()
        .unwrap_err();
    assert!(on_bp.to_string().contains("register it on the app"), "{on_bp}");
}

/// Tell the subscribers of `news`.
#[command]
fn announce(channels: Channels, text: String) -> Result<(), StoreError> {
    channels.publish_blocking("news", text)
}

/// Tell the subscribers of `news`, twice.
#[command]
async fn announce_twice(channels: Channels, text: String) -> Result<(), StoreError> {
    channels.publish("news", text.clone()).await?;
    channels.publish("news", text).await
}

#[test]
fn a_command_publishes_on_the_apps_channels() {
    let app = App::new().without_static_folder().register(handlers![announce, announce_twice]);
    let channels = app.channels();
    let mut news = channels.subscribe_blocking("news").unwrap();
    let runner = app.test_cli_runner();
    let result = runner.invoke(["announce", "erlen 0.1"]);
    assert!(result.success(), "{}", result.output());
    assert_eq!(news.next(), Some(Ok(Bytes::from("erlen 0.1"))));
    let result = runner.invoke(["announce-twice", "again"]);
    assert!(result.success(), "{}", result.output());
    assert_eq!(news.next(), Some(Ok(Bytes::from("again"))));
    assert_eq!(news.next(), Some(Ok(Bytes::from("again"))));
}

/// Counts the `before_serving` hook's runs.
static STARTED: AtomicUsize = AtomicUsize::new(0);

#[before_serving]
fn start() {
    STARTED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn commands_do_not_run_the_before_serving_hooks() {
    let runner = app().register(handlers![start]).test_cli_runner();
    assert!(runner.invoke(["add", "1"]).success());
    assert!(runner.invoke(["routes"]).success());
    assert_eq!(STARTED.load(Ordering::SeqCst), 0, "commands run without serving");
}

/// The fixture's binary (`tests/src/bin/cli_fixture.rs`), run with `args`.
fn fixture(args: &[&str]) -> std::process::Output {
    fixture_command(args, &[]).output().expect("the fixture runs")
}

#[test]
fn the_binary_is_its_command_line() {
    let hello = fixture(&["hello", "--name", "Ada"]);
    assert_eq!(hello.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&hello.stdout), "Hello, Ada!\n");
    assert!(
        !String::from_utf8_lossy(&hello.stdout).contains("before_serving"),
        "commands do not run the before_serving hooks"
    );

    let failed = fixture(&["fail"]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&failed.stderr), "Error: the fixture fails on purpose\n");

    let mistake = fixture(&["hello", "--nme", "Ada"]);
    assert_eq!(mistake.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mistake.stderr).contains("--name"), "clap suggests the right flag");

    let help = fixture(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    for line in ["run", "routes", "hello", "Says hello.", "fail"] {
        assert!(help.contains(line), "`{line}` in:\n{help}");
    }

    let routes = fixture(&["routes"]);
    assert_eq!(routes.status.code(), Some(0));
    let routes = String::from_utf8_lossy(&routes.stdout);
    assert!(routes.starts_with("Endpoint"), "{routes}");
    assert!(routes.contains("index"), "{routes}");
}

#[test]
fn static_files_are_routes_too() {
    let dir = std::env::temp_dir().join(format!("erlen-cli-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let app = App::new()
        .static_folder(&dir)
        .register(handlers![index])
        .register_blueprint(Blueprint::new("admin").url_prefix("/admin").static_folder(&dir));
    let result = app.test_cli_runner().invoke(["routes"]);
    let _ = std::fs::remove_dir(&dir);
    assert!(result.success(), "{}", result.output());
    assert_eq!(
        result.output(),
        concat!(
            "Endpoint      Methods  Rule\n",
            "------------  -------  -----------------------------\n",
            "admin.static  GET      /admin/static/<path:filename>\n",
            "index         GET      /\n",
            "static        GET      /static/<path:filename>\n",
        )
    );
}

/// The fixture run with `args` and `env`, and none of the `ERLEN_*` variables of this
/// process.
fn fixture_command(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cli_fixture"));
    command.args(args);
    for name in ["ERLEN_ADDR", "ERLEN_BACKEND", "ERLEN_WORKERS", "ERLEN_DEBUG"] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// The first line the fixture serving with `args` and `env` writes to stderr: its banner.
fn fixture_banner(args: &[&str], env: &[(&str, &str)]) -> String {
    use std::io::BufRead;
    let mut child = fixture_command(args, env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the fixture runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    line
}

#[test]
fn run_takes_its_flags_over_the_erlen_variables() {
    // No command is `run`, on ERLEN_ADDR.
    let banner = fixture_banner(&[], &[("ERLEN_ADDR", "127.0.0.1:0")]);
    assert!(banner.contains("Running on http://127.0.0.1:") && banner.contains("(async backend"), "{banner}");
    // The variables apply where no flag is given.
    let banner =
        fixture_banner(&["run", "--port", "0"], &[("ERLEN_BACKEND", "threaded"), ("ERLEN_WORKERS", "3")]);
    assert!(banner.contains("Running on http://127.0.0.1:"), "{banner}");
    assert!(banner.contains("(threaded backend, 3 workers"), "{banner}");
    // The flags win.
    let banner = fixture_banner(
        &["run", "--host", "127.0.0.1", "--port", "0", "--backend", "threaded", "--workers", "2"],
        &[("ERLEN_ADDR", "0.0.0.0:1"), ("ERLEN_BACKEND", "async")],
    );
    assert!(banner.contains("Running on http://127.0.0.1:"), "{banner}");
    assert!(banner.contains("(threaded backend, 2 workers"), "{banner}");
    // A contradiction is a usage error.
    let mistake = fixture_command(&["run", "--port", "0", "--backend", "async", "--workers", "2"], &[])
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&mistake.stderr);
    assert_eq!(mistake.status.code(), Some(2), "{error}");
    assert!(error.contains("add `--backend threaded`"), "{error}");
}
