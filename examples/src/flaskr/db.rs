//! The database: one SQLite connection per request, opened the first time the request
//! asks for it and closed when the request ends, as flaskr's `get_db` and `close_db`.
//!
//! Why a connection per request and not a pool: opening a SQLite connection is opening
//! a local file (microseconds, no network, no handshake), so a pool would save little,
//! and a connection of its own per request means no shared state between requests, no
//! lock around a pool, and nothing to tune for either backend. The work is sync
//! (rusqlite) and runs in plain `fn` views and hooks, which erlen runs off the async
//! runtime: on its sync pool on the async backend, on the worker thread on the threaded
//! one. A server database (Postgres) would call for a pool, as its connections are
//! expensive; SQLite's are not.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};

use erlen::prelude::*;
use rusqlite::Connection;

use super::Config;

/// flaskr's tables; running it drops and recreates them.
pub const SCHEMA: &str = include_str!("../../flaskr/schema.sql");

/// Opens the database at `path`, as flaskr's `sqlite3.connect`.
pub fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Clears the data and creates the tables anew, as flaskr's `init_db`.
///
/// The bundled SQLite enforces foreign keys (Python's `sqlite3` does not), and dropping
/// `user` while posts point at it would break them: the schema runs with them off.
pub fn init_db(path: &Path) -> rusqlite::Result<()> {
    let conn = connect(path)?;
    conn.pragma_update(None, "foreign_keys", false)?;
    conn.execute_batch(SCHEMA)
}

/// Creates the database with the schema when its file does not exist yet (and the
/// folder it lives in); leaves an existing one alone.
pub fn create_if_missing(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    create_folder(path)?;
    init_db(path).map_err(std::io::Error::other)
}

/// The folder the database file lives in, created if missing.
fn create_folder(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir),
        None => Ok(()),
    }
}

/// Clear the existing data and create new tables.
///
/// flaskr's `init-db` command (`cargo run --example flaskr -- init-db`).
#[command("init-db")]
pub fn init_db_command(State(config): State<Config>) -> Result<(), Box<dyn std::error::Error>> {
    create_folder(&config.database)?;
    init_db(&config.database)?;
    echo!("Initialized the database.");
    Ok(())
}

/// Creates the database when the server starts and it does not exist yet, so that a
/// first `cargo run --example flaskr` serves without `init-db`. (Commands do not run it.)
#[before_serving]
pub fn create_database(State(config): State<Config>) -> std::io::Result<()> {
    create_if_missing(&config.database)
}

/// The request's connection slot, in the request's extensions (Flask's `g.db`): empty
/// until a view or hook calls [`get_db`].
#[derive(Clone)]
pub struct RequestDb(Arc<Slot>);

struct Slot {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
}

impl RequestDb {
    fn new(path: PathBuf) -> RequestDb {
        RequestDb(Arc::new(Slot { path, conn: Mutex::new(None) }))
    }

    /// A handle that tells, later, whether the slot and its connection are gone.
    pub fn watch(&self) -> DbWatch {
        DbWatch(Arc::downgrade(&self.0))
    }
}

/// Tells whether a request's connection was closed (see [`RequestDb::watch`]).
pub struct DbWatch(Weak<Slot>);

impl DbWatch {
    /// Whether the connection was closed, with the request's slot.
    pub fn is_closed(&self) -> bool {
        self.0.strong_count() == 0
    }
}

/// The request's connection, borrowed from its slot; give it back (drop it) before
/// asking again.
pub struct DbConn<'r>(MutexGuard<'r, Option<Connection>>);

impl Deref for DbConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // `get_db` opens the connection before it hands out a `DbConn`.
        self.0.as_ref().expect("get_db opens the connection first")
    }
}

/// The request's connection, opened on first use and the same one for the rest of the
/// request, as flaskr's `get_db()`.
pub fn get_db(req: &Request) -> Result<DbConn<'_>, HttpError> {
    let slot = req.extensions().get::<RequestDb>().ok_or_else(|| {
        HttpError::internal("the request has no database slot: register flaskr's db hooks on the app")
    })?;
    let mut conn = match slot.0.conn.try_lock() {
        Ok(conn) => conn,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => {
            return Err(HttpError::internal(
                "get_db() was called while this request's connection was still borrowed: drop it first",
            ));
        }
    };
    if conn.is_none() {
        *conn = Some(connect(&slot.0.path).map_err(db_error)?);
    }
    Ok(DbConn(conn))
}

/// A database failure, as a 500 that keeps the cause for the log.
pub fn db_error(e: rusqlite::Error) -> HttpError {
    HttpError::internal("the database failed").with_source(e)
}

/// Gives every request an empty connection slot for [`get_db`]. Registered on the app
/// before anything that reads the database.
#[before_request]
pub fn open_db_slot(req: &mut Request, State(config): State<Config>) {
    req.extensions_mut().insert(RequestDb::new(config.database.clone()));
}

/// Closes the request's connection, if it opened one, as flaskr's `close_db` teardown:
/// a sync hook, so the close runs off the async runtime too.
#[teardown_request]
pub fn close_db(req: &mut Request, _error: Option<&HttpError>) {
    req.extensions_mut().remove::<RequestDb>();
}
