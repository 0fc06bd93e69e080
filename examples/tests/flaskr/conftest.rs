//! flaskr's `conftest.py`: a fresh temporary database per test with the rows of
//! `data.sql`, the app and its test client, and `AuthActions` to log in and out.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use erlen::prelude::*;
use erlen::{TestRequest, TestResponse};
use erlen_examples::flaskr::{Config, create_app, db};
use rusqlite::Connection;

/// The rows every test starts with.
const DATA_SQL: &str = include_str!("data.sql");

/// A test's own database, in a temporary folder removed when the test ends (the
/// `app` fixture's `tempfile.mkstemp()` and `os.unlink`).
pub struct Fixture {
    pub config: Config,
    dir: PathBuf,
}

impl Fixture {
    /// A database with flaskr's tables and the rows of `data.sql`.
    pub fn new() -> Fixture {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("flaskr-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = Config::for_tests(dir.join("flaskr.sqlite"));
        db::init_db(&config.database).unwrap();
        db::connect(&config.database).unwrap().execute_batch(DATA_SQL).unwrap();
        Fixture { config, dir }
    }

    /// The app, as the `app` fixture.
    pub fn app(&self) -> App {
        create_app(self.config.clone())
    }

    /// A test client of the app, as the `client` fixture.
    pub fn client(&self) -> TestClient {
        self.app().test_client()
    }

    /// A connection of the test's own to its database (flaskr's tests open one with
    /// `app.app_context()` and `get_db()`).
    pub fn db(&self) -> Connection {
        db::connect(&self.config.database).unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A POST with the CSRF token a page of the app would have given the client's session
/// (flaskr on erlen protects its forms, as with Flask-WTF's `CSRFProtect`; its pages'
/// forms carry the token in a hidden field, which a test client does not read).
pub fn csrf_post(client: &TestClient, path: &str) -> TestRequest {
    client.post(path).header("X-CSRFToken", &client.csrf_token())
}

/// Logs the client in and out, as conftest's `AuthActions`.
pub struct AuthActions<'a> {
    client: &'a TestClient,
}

impl<'a> AuthActions<'a> {
    pub fn new(client: &'a TestClient) -> AuthActions<'a> {
        AuthActions { client }
    }

    /// Logs in as the user `test` (the Python fixture's defaults).
    pub fn login(&self) -> TestResponse {
        self.login_as("test", "test")
    }

    pub fn login_as(&self, username: &str, password: &str) -> TestResponse {
        csrf_post(self.client, "/auth/login").form(&[("username", username), ("password", password)]).send()
    }

    pub fn logout(&self) -> TestResponse {
        self.client.get("/auth/logout").send()
    }
}
