//! Flask's tutorial app, flaskr: `cargo run --example flaskr`, then open
//! http://127.0.0.1:5000/. Its binary is its command line, as `flask --app flaskr`:
//! `cargo run --example flaskr -- init-db` recreates the database, `-- routes` lists the
//! routes, `-- run --debug` serves with the debug page and reloads on every change.
//!
//! The database is `FLASKR_DATABASE` (default `instance/flaskr.sqlite` under the current
//! directory), created with its tables when missing; the session is signed with
//! `ERLEN_SECRET_KEY` (default `dev`: set a long random one in production).

use std::process::ExitCode;

use erlen_examples::flaskr::{Config, create_app};

fn main() -> ExitCode {
    erlen_examples::init_logging();
    create_app(Config::from_env()).cli()
}
