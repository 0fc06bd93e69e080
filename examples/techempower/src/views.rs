//! The views: each test as an `async fn` on the async pool, as a plain `fn` on the
//! blocking pool under `/sync`, and as a plain `fn` on the async pool under `/bridge`.

use erlen::http::header::SERVER;
use erlen::prelude::*;
use serde::Serialize;

use crate::{Db, FORTUNES, Fortune, SyncDb, World, prepare_fortunes, query_count};

const HELLO: &str = "Hello, World!";

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

fn fortunes_page(fortunes: Vec<Fortune>) -> Template {
    render_template("fortunes.html", context! { fortunes => prepare_fortunes(fortunes) })
}

/// TechEmpower's `Server` header, on every response.
#[after_request]
async fn server_header(mut resp: Response) -> Response {
    resp.headers_mut().insert(SERVER, HeaderValue::from_static("erlen"));
    resp
}

#[get("/plaintext")]
async fn plaintext() -> &'static str {
    HELLO
}

#[get("/json")]
async fn json() -> Json<Message> {
    Json(Message { message: HELLO })
}

#[get("/db")]
async fn db(State(db): State<Db>) -> Result<Json<World>, HttpError> {
    Ok(Json(db.world().await?))
}

#[get("/queries")]
async fn queries(req: &Request, State(db): State<Db>) -> Result<Json<Vec<World>>, HttpError> {
    Ok(Json(db.worlds(query_count(req.query("queries"))).await?))
}

#[get("/fortunes")]
async fn fortunes(State(db): State<Db>) -> Result<Template, HttpError> {
    Ok(fortunes_page(db.fortunes().await?))
}

#[get("/updates")]
async fn updates(req: &Request, State(db): State<Db>) -> Result<Json<Vec<World>>, HttpError> {
    Ok(Json(db.update(query_count(req.query("queries"))).await?))
}

#[get("/memory/fortunes")]
async fn memory_fortunes() -> Template {
    fortunes_page(
        FORTUNES.iter().map(|&(id, message)| Fortune { id, message: message.to_string() }).collect(),
    )
}

#[get("/sync/plaintext")]
#[get("/bridge/plaintext")]
fn sync_plaintext() -> &'static str {
    HELLO
}

#[get("/sync/json")]
#[get("/bridge/json")]
fn sync_json() -> Json<Message> {
    Json(Message { message: HELLO })
}

#[get("/sync/db")]
fn sync_db(State(db): State<SyncDb>) -> Result<Json<World>, HttpError> {
    Ok(Json(db.world()?))
}

#[get("/sync/queries")]
fn sync_queries(req: &Request, State(db): State<SyncDb>) -> Result<Json<Vec<World>>, HttpError> {
    Ok(Json(db.worlds(query_count(req.query("queries")))?))
}

#[get("/sync/fortunes")]
fn sync_fortunes(State(db): State<SyncDb>) -> Result<Template, HttpError> {
    Ok(fortunes_page(db.fortunes()?))
}

#[get("/sync/updates")]
fn sync_updates(req: &Request, State(db): State<SyncDb>) -> Result<Json<Vec<World>>, HttpError> {
    Ok(Json(db.update(query_count(req.query("queries")))?))
}

// The sync views once more, on the async pool: plain `fn`s whose queries run as a task
// on the runtime, pipelined as the async views' are, while the worker waits for the
// result through `erlen::run_on_runtime` (it wakes once, when the task is done; polled on
// the worker through `erlen::block_on`, the queries would wake it for every row).

#[get("/bridge/db")]
fn bridge_db(State(db): State<Db>) -> Result<Json<World>, HttpError> {
    let db = db.clone();
    Ok(Json(erlen::run_on_runtime(async move { db.world().await })?))
}

#[get("/bridge/queries")]
fn bridge_queries(req: &Request, State(db): State<Db>) -> Result<Json<Vec<World>>, HttpError> {
    let (db, n) = (db.clone(), query_count(req.query("queries")));
    Ok(Json(erlen::run_on_runtime(async move { db.worlds(n).await })?))
}

#[get("/bridge/fortunes")]
fn bridge_fortunes(State(db): State<Db>) -> Result<Template, HttpError> {
    let db = db.clone();
    Ok(fortunes_page(erlen::run_on_runtime(async move { db.fortunes().await })?))
}

#[get("/bridge/updates")]
fn bridge_updates(req: &Request, State(db): State<Db>) -> Result<Json<Vec<World>>, HttpError> {
    let (db, n) = (db.clone(), query_count(req.query("queries")));
    Ok(Json(erlen::run_on_runtime(async move { db.update(n).await })?))
}

pub(crate) fn register(app: App) -> App {
    app.register(handlers![
        server_header,
        plaintext,
        json,
        db,
        queries,
        fortunes,
        updates,
        memory_fortunes,
        sync_plaintext,
        sync_json,
        sync_db,
        sync_queries,
        sync_fortunes,
        sync_updates,
        bridge_db,
        bridge_queries,
        bridge_fortunes,
        bridge_updates,
    ])
}
