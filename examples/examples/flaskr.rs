//! Flask's tutorial app, flaskr: `cargo run --example flaskr`, then open
//! http://127.0.0.1:5000/. `cargo run --example flaskr -- init-db` recreates the database.
//!
//! The database is `FLASKR_DATABASE` (default `instance/flaskr.sqlite` under the current
//! directory), created with its tables when missing; the session is signed with
//! `ERLEN_SECRET_KEY` (default `dev`: set a long random one in production).

use std::process::ExitCode;

use erlen_examples::flaskr::{Config, command, create_app, db};

fn main() -> ExitCode {
    erlen_examples::init_logging();
    let config = Config::from_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let served = match command(&args, &config, &mut std::io::stdout()) {
        Ok(true) => Ok(()),
        Ok(false) => db::create_if_missing(&config.database).and_then(|()| create_app(config).run()),
        Err(e) => Err(e),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flaskr: {e}");
            ExitCode::FAILURE
        }
    }
}
