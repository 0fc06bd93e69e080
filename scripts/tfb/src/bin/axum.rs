//! TechEmpower's six tests on axum 0.8, written as axum's guide writes handlers.
//!
//! ```sh
//! DATABASE_URL=... TFB_POOL_SIZE=16 TFB_THREADS=1 axum 127.0.0.1:18301
//! ```

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use tfb_peers::axum_parts::{self, Failed};
use tfb_peers::{Db, Params, World, fortunes_page, memory_fortunes, query_count};

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
    axum_parts::serve("axum", |url, pool_size| {
        Ok(Router::new()
            .route("/db", get(db))
            .route("/queries", get(queries))
            .route("/fortunes", get(fortunes))
            .route("/updates", get(updates))
            .route("/memory/fortunes", get(fortunes_in_memory))
            .with_state(Db::new(url, pool_size)?))
    })
}
