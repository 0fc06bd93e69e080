//! flaskr's `test_db.py`.

use std::sync::Mutex;

use erlen::prelude::*;
use erlen_examples::flaskr::db::{DbWatch, RequestDb, get_db};

use super::conftest::Fixture;

/// What the probe view saw of the request's connection, for the test to check after the
/// request.
static SEEN: Mutex<Option<(bool, DbWatch)>> = Mutex::new(None);

/// Asks for the connection twice inside one request, and keeps a watch on it.
#[get("/_get_db")]
fn probe(req: &Request) -> Result<String, HttpError> {
    let first = {
        let db = get_db(req)?;
        db.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)).map_err(|e| abort(500).with_source(e))?;
        &*db as *const rusqlite::Connection
    };
    let second = &*get_db(req)? as *const rusqlite::Connection;
    let watch = req.extensions().get::<RequestDb>().map(RequestDb::watch).ok_or_else(|| abort(500))?;
    *SEEN.lock().unwrap() = Some((std::ptr::eq(first, second), watch));
    Ok("ok".to_string())
}

/// `test_get_close_db`: within a request `get_db` returns the same connection every
/// time; once the request is over, the connection is closed. (In Python, using the
/// closed connection raises "closed"; in Rust a closed connection cannot be used at all,
/// so the test checks that it is gone.)
#[test]
fn get_close_db() {
    let fixture = Fixture::new();
    let client = fixture.app().register(handlers![probe]).test_client();
    assert_eq!(client.get("/_get_db").send().text(), "ok");
    let (same, watch) = SEEN.lock().unwrap().take().expect("the probe ran");
    assert!(same, "get_db() returns the request's one connection");
    assert!(watch.is_closed(), "the connection is closed when the request ends");
}

/// `test_init_db_command`: the `init-db` command, run by the app's test CLI runner
/// (`runner.invoke(args=["init-db"])`), says "Initialized" and runs `init_db`. (Python
/// replaces `init_db` with a recorder; here the command runs for real on the test's
/// database, and the rows of `data.sql` being gone shows that it ran.)
#[test]
fn init_db_command() {
    let fixture = Fixture::new();
    let posts = |fixture: &Fixture| -> i64 {
        fixture.db().query_row("SELECT COUNT(id) FROM post", [], |row| row.get(0)).unwrap()
    };
    assert_eq!(posts(&fixture), 1);
    let runner = fixture.app().test_cli_runner();
    let result = runner.invoke(["init-db"]);
    assert!(result.success(), "{}", result.output());
    assert!(result.output().contains("Initialized"));
    assert_eq!(posts(&fixture), 0, "init_db was called: the tables are new and empty");
}
