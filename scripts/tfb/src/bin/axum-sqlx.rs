//! The axum peer on sqlx 0.8 instead of tokio-postgres + deadpool: the driver choice of
//! erlen's example, measured on one framework. sqlx caches each connection's prepared
//! statements; it runs one query at a time on a connection, so the rows of one request
//! are read one after another (tokio-postgres pipelines them).
//!
//! ```sh
//! cargo build --release --features sqlx
//! DATABASE_URL=... TFB_POOL_SIZE=16 TFB_THREADS=1 axum-sqlx 127.0.0.1:18301
//! ```

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tfb_peers::axum_parts::{self, Failed};
use tfb_peers::{
    Fortune, Params, SELECT_FORTUNES, SELECT_WORLD, UPDATE_WORLDS, World, fortunes_page, query_count,
    random_id, update_arrays,
};

async fn read_world<'c, E: sqlx::PgExecutor<'c>>(executor: E) -> Result<World, sqlx::Error> {
    let (id, random_number): (i32, i32) =
        sqlx::query_as(SELECT_WORLD).bind(random_id()).fetch_one(executor).await?;
    Ok(World { id, random_number })
}

async fn read_worlds(pool: &PgPool, n: usize) -> Result<Vec<World>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut worlds = Vec::with_capacity(n);
    for _ in 0..n {
        worlds.push(read_world(&mut *conn).await?);
    }
    Ok(worlds)
}

async fn db(State(pool): State<PgPool>) -> Result<Json<World>, Failed> {
    Ok(Json(read_world(&pool).await?))
}

async fn queries(State(pool): State<PgPool>, Query(p): Query<Params>) -> Result<Json<Vec<World>>, Failed> {
    Ok(Json(read_worlds(&pool, query_count(p.queries.as_deref())).await?))
}

async fn fortunes(State(pool): State<PgPool>) -> Result<Html<String>, Failed> {
    let rows: Vec<(i32, String)> = sqlx::query_as(SELECT_FORTUNES).fetch_all(&pool).await?;
    let fortunes = rows.into_iter().map(|(id, message)| Fortune { id, message }).collect();
    Ok(Html(fortunes_page(fortunes)?))
}

async fn updates(State(pool): State<PgPool>, Query(p): Query<Params>) -> Result<Json<Vec<World>>, Failed> {
    let mut worlds = read_worlds(&pool, query_count(p.queries.as_deref())).await?;
    for world in &mut worlds {
        world.random_number = random_id();
    }
    let (ids, numbers) = update_arrays(&worlds);
    sqlx::query(UPDATE_WORLDS).bind(&ids).bind(&numbers).execute(&pool).await?;
    Ok(Json(worlds))
}

fn main() -> Result<(), tfb_peers::Error> {
    axum_parts::serve("axum on sqlx", |url, pool_size| {
        let pool = PgPoolOptions::new().max_connections(u32::try_from(pool_size)?).connect_lazy(url)?;
        Ok(Router::new()
            .route("/db", get(db))
            .route("/queries", get(queries))
            .route("/fortunes", get(fortunes))
            .route("/updates", get(updates))
            .with_state(pool))
    })
}
