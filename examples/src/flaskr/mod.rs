//! flaskr, Flask's tutorial app, on erlen: register, log in, and write, edit and delete
//! blog posts, stored in SQLite (`cargo run --example flaskr`).
//!
//! The layout follows flaskr's: [`create_app`] is the app factory, [`db`] the database
//! (`get_db`, `init_db`), [`auth`] and [`blog`] the two blueprints. The templates and the
//! stylesheet are flaskr's own, in `examples/flaskr/`.

pub mod auth;
pub mod blog;
pub mod db;

use std::path::{Path, PathBuf};

use erlen::minijinja::Value;
use erlen::prelude::*;
use serde::de::DeserializeOwned;

/// The app's configuration, as flaskr's `app.config`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Signs the session cookie (Flask's `SECRET_KEY`).
    pub secret_key: String,
    /// The SQLite file (Flask's `DATABASE`).
    pub database: PathBuf,
    /// Whether the app runs under tests (Flask's `TESTING`).
    pub testing: bool,
}

impl Config {
    /// The configuration of a served app: the database from `FLASKR_DATABASE` (default
    /// `instance/flaskr.sqlite` under the current directory), the secret key from
    /// `ERLEN_SECRET_KEY` (default `dev`, as flaskr's: set your own in production).
    pub fn from_env() -> Config {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Config {
            secret_key: env("ERLEN_SECRET_KEY").unwrap_or_else(|| "dev".to_string()),
            database: env("FLASKR_DATABASE")
                .map_or_else(|| Path::new("instance").join("flaskr.sqlite"), PathBuf::from),
            testing: false,
        }
    }

    /// The configuration for tests, as flaskr's `test_config`: this database, `testing`.
    pub fn for_tests(database: impl Into<PathBuf>) -> Config {
        Config { secret_key: "dev".to_string(), database: database.into(), testing: true }
    }
}

/// Where flaskr's templates, stylesheet and schema live.
pub fn site_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("flaskr")
}

/// Says hello: the page flaskr's factory adds to check that the app is up.
#[get("/hello")]
pub fn hello() -> &'static str {
    "Hello, World!"
}

/// The app factory, as flaskr's `create_app`. It touches no file: the database is opened
/// per request (see [`db`]), and created by the `init-db` command or, when missing, when
/// a server starts ([`db::create_database`]).
pub fn create_app(config: Config) -> App {
    App::new()
        .secret_key(&config.secret_key)
        .template_folder(site_dir().join("templates"))
        .static_folder(site_dir().join("static"))
        .state(config)
        // Every POST carries the token its page's form was given (Flask-WTF's
        // CSRFProtect; the templates write `{{ csrf_token() }}` in a hidden field).
        .csrf_protect()
        // The app's hooks run in this order: the request gets its database slot, then
        // its user (flaskr's `before_app_request`, which runs for every request).
        .register(handlers![db::open_db_slot, auth::load_logged_in_user, db::close_db, hello])
        // The command line's `init-db`, and the database made when a server starts.
        .register(handlers![db::init_db_command, db::create_database])
        .register_blueprint(auth::blueprint())
        .register_blueprint(blog::blueprint())
}

/// Renders a flaskr template. flaskr's templates read `g.user`, and Flask passes `g` to
/// every template; erlen's templates see the request context and what the view gives
/// them, so this helper gives them `g`, holding the user that
/// [`auth::load_logged_in_user`] put in the request's extensions (`none` when nobody is
/// logged in).
pub fn render(req: &Request, name: &str, ctx: Value) -> Template {
    let user = req.extensions().get::<auth::User>();
    render_template(name, context! { g => context! { user }, ..ctx })
}

/// The posted form as `T`, as flaskr reads `request.form["field"]`: a missing field is a
/// 400. A body that is not a form is an empty form, as Werkzeug's `request.form` is, so
/// it is a 400 too (where erlen's `Form` extractor answers 415).
pub fn form<T: DeserializeOwned>(req: &Request) -> Result<T, HttpError> {
    match Form::<T>::from_request(req) {
        Ok(Form(value)) => Ok(value),
        Err(e) if e.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Err(abort(400).with_message("the request has no form, and the view needs its fields"))
        }
        Err(e) => Err(e),
    }
}
