//! TechEmpower's six tests on axum 0.8, written as axum's guide writes handlers.
//!
//! ```sh
//! DATABASE_URL=... TFB_POOL_SIZE=16 TFB_THREADS=1 axum 127.0.0.1:18301
//! ```

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router, middleware};
use tfb_peers::axum_parts::{Failed, json, plaintext, server_header};
use tfb_peers::{Db, Params, World, fortunes_page, memory_fortunes, query_count, settings};

async fn db(State(db): State<Db>) -> Result<Json<World>, Failed> {
    Ok(Json(db.world().await?))
}

async fn queries(State(db): State<Db>, Query(p): Query<Params>) -> Result<Json<Vec<World>>, Failed> {
    Ok(Json(db.worlds(query_count(p.queries.as_deref())).await?))
}

async fn fortunes(State(db): State<Db>) -> Result<Html<String>, Failed> {
    Ok(Html(fortunes_page(db.fortunes().await?)?))
}

async fn updates(State(db): State<Db>, Query(p): Query<Params>) -> Result<Json<Vec<World>>, Failed> {
    Ok(Json(db.update(query_count(p.queries.as_deref())).await?))
}

async fn fortunes_in_memory() -> Result<Html<String>, Failed> {
    Ok(Html(fortunes_page(memory_fortunes())?))
}

fn main() -> Result<(), tfb_peers::Error> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let (url, pool_size, threads) = settings();
    let pool = Db::new(&url, pool_size)?;
    let app = Router::new()
        .route("/plaintext", get(plaintext))
        .route("/json", get(json))
        .route("/db", get(db))
        .route("/queries", get(queries))
        .route("/fortunes", get(fortunes))
        .route("/updates", get(updates))
        .route("/memory/fortunes", get(fortunes_in_memory))
        .layer(middleware::map_response(server_header))
        .with_state(pool);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("axum listening on http://{addr}, database {url}");
        axum::serve(listener, app).await
    })?;
    Ok(())
}
