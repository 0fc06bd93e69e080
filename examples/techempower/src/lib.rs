//! TechEmpower's Framework Benchmarks on erlen: the six tests (JSON, one row, N rows,
//! fortunes, updates, plaintext), following their rules, on PostgreSQL.
//!
//! The same tests are served three times: by `async fn` views at `/json`, `/db`,
//! `/queries?queries=N`, `/fortunes`, `/updates?queries=N` and `/plaintext`, on
//! tokio-postgres with a deadpool pool, for the async backend; by plain `fn` views at
//! `/sync/...`, on the blocking `postgres` crate with an r2d2 pool, for the threaded
//! backend, as a Flask app with psycopg would be written; and by plain `fn` views at
//! `/bridge/...` that wait on the async pool through [`erlen::block_on`], so that a sync
//! view's queries are pipelined too (a blocking driver sends one query per round trip). Every response carries the
//! `Server` header (an `after_request` hook) and the `Date` header (the server's).
//!
//! The rules followed, from TechEmpower's requirements and verifier: each row is read by
//! its own query (prepared, never cached); `queries` is clamped to 1..=500 and anything
//! that is not a number counts as 1; the fortunes page adds a fortune at request time,
//! sorts by message and escapes every message through the template; updates write every
//! changed row back before answering. [`verify`] checks a running server against them.
//!
//! ```sh
//! DATABASE_URL=postgres://benchmarkdbuser:benchmarkdbpass@127.0.0.1:5432/hello_world \
//!   cargo run -p erlen-techempower --release -- async 127.0.0.1:8080
//! ```

pub mod db;
pub mod sync_db;
pub mod verify;
mod views;

use std::path::PathBuf;

use erlen::App;
use serde::Serialize;

pub use db::Db;
pub use sync_db::SyncDb;

/// The database TechEmpower's toolset provides, used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str =
    "postgres://benchmarkdbuser:benchmarkdbpass@127.0.0.1:5432/hello_world";

/// Connections in each pool (the async views' and the sync views' each have one) when
/// `TFB_POOL_SIZE` is not set.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// The fortune the fortunes test adds to the database's before sorting.
pub const ADDITIONAL_FORTUNE: &str = "Additional fortune added at request time.";

/// One row of the `World` table, serialized with TechEmpower's key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct World {
    /// The row's id, 1..=10000.
    pub id: i32,
    /// Its number, 1..=10000.
    #[serde(rename = "randomNumber")]
    pub random_number: i32,
}

/// One row of the `Fortune` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fortune {
    /// The row's id; 0 for the one added at request time.
    pub id: i32,
    /// The text, escaped only when rendered.
    pub message: String,
}

/// A random id (or number) in 1..=10000, as the tests choose rows.
pub fn random_id() -> i32 {
    fastrand::i32(1..=10_000)
}

/// The number of rows `/queries` and `/updates` serve for the `queries` parameter: a
/// number clamped to 1..=500, and 1 for anything else (absent, empty, not a number).
pub fn query_count(queries: Option<&str>) -> usize {
    let n = queries.and_then(|q| q.trim().parse::<i64>().ok()).unwrap_or(1);
    // Within 1..=500 after the clamp, so the conversion cannot fail.
    usize::try_from(n.clamp(1, 500)).unwrap_or(1)
}

/// The fortunes as the page shows them: with the one added at request time, sorted by
/// message.
pub fn prepare_fortunes(mut fortunes: Vec<Fortune>) -> Vec<Fortune> {
    fortunes.push(Fortune { id: 0, message: ADDITIONAL_FORTUNE.to_string() });
    fortunes.sort_unstable_by(|a, b| a.message.cmp(&b.message));
    fortunes
}

/// The rows of the `Fortune` table, held in memory: the fortunes test without the
/// database (`/memory/fortunes`), which measures the framework's share of the work.
pub const FORTUNES: [(i32, &str); 12] = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"),
    (12, "フレームワークのベンチマーク"),
];

/// The folder of the fortunes template.
pub fn template_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")
}

/// The app: every test on both pools, which connect on first use (so that the app starts,
/// and serves `/json`, `/plaintext` and `/memory/fortunes`, without a database).
///
/// # Errors
///
/// When `database_url` is not a PostgreSQL URL.
pub fn app(database_url: &str, pool_size: usize) -> Result<App, Box<dyn std::error::Error + Send + Sync>> {
    let db = Db::new(database_url, pool_size)?;
    let sync_db = SyncDb::new(database_url, pool_size)?;
    Ok(views::register(App::new().template_folder(template_folder()).state(db).state(sync_db)))
}
