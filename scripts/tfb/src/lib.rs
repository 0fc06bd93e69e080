//! What the axum and actix-web peers share, as erlen's example (examples/techempower) has
//! it: the rows, the `queries` parameter's rule, the database (tokio-postgres in a
//! deadpool pool, the same SQL, the queries of one request pipelined on its connection)
//! and the fortunes template, rendered by minijinja as erlen renders it.

use std::sync::OnceLock;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use tokio_postgres::NoTls;

pub const HELLO: &str = "Hello, World!";
pub const DEFAULT_DATABASE_URL: &str =
    "postgres://benchmarkdbuser:benchmarkdbpass@127.0.0.1:5432/hello_world";

pub const SELECT_WORLD: &str = "SELECT id, randomnumber FROM world WHERE id = $1";
pub const SELECT_FORTUNES: &str = "SELECT id, message FROM fortune";
pub const UPDATE_WORLDS: &str = "UPDATE world SET randomnumber = new.randomnumber \
     FROM UNNEST($1::int[], $2::int[]) AS new(id, randomnumber) WHERE world.id = new.id";
const TEMPLATE: &str = include_str!("../../../examples/techempower/templates/fortunes.html");

/// The `queries` parameter of `/queries` and `/updates`, as written.
#[derive(Deserialize)]
pub struct Params {
    pub queries: Option<String>,
}

#[derive(Serialize)]
pub struct Message {
    pub message: &'static str,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct World {
    pub id: i32,
    #[serde(rename = "randomNumber")]
    pub random_number: i32,
}

#[derive(Debug, Serialize)]
pub struct Fortune {
    pub id: i32,
    pub message: String,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub fn random_id() -> i32 {
    fastrand::i32(1..=10_000)
}

/// A number clamped to 1..=500; 1 for anything else.
pub fn query_count(queries: Option<&str>) -> usize {
    let n = queries.and_then(|q| q.trim().parse::<i64>().ok()).unwrap_or(1);
    usize::try_from(n.clamp(1, 500)).unwrap_or(1)
}

/// `DATABASE_URL`, `TFB_POOL_SIZE` (16) and `TFB_THREADS` (1) from the environment.
pub fn settings() -> (String, usize, usize) {
    let number = |name: &str, default: usize| {
        std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(default)
    };
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_string());
    (url, number("TFB_POOL_SIZE", 16), number("TFB_THREADS", 1))
}

#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl Db {
    pub fn new(url: &str, size: usize) -> Result<Db, Error> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        Ok(Db { pool: Pool::builder(manager).max_size(size).build()? })
    }

    pub async fn world(&self) -> Result<World, Error> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(SELECT_WORLD).await?;
        let row = client.query_one(&select, &[&random_id()]).await?;
        Ok(World { id: row.try_get(0)?, random_number: row.try_get(1)? })
    }

    pub async fn worlds(&self, n: usize) -> Result<Vec<World>, Error> {
        let client = self.pool.get().await?;
        read_worlds(&client, n).await
    }

    pub async fn fortunes(&self) -> Result<Vec<Fortune>, Error> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(SELECT_FORTUNES).await?;
        let rows = client.query(&select, &[]).await?;
        rows.iter().map(|row| Ok(Fortune { id: row.try_get(0)?, message: row.try_get(1)? })).collect()
    }

    pub async fn update(&self, n: usize) -> Result<Vec<World>, Error> {
        let client = self.pool.get().await?;
        let mut worlds = read_worlds(&client, n).await?;
        for world in &mut worlds {
            world.random_number = random_id();
        }
        let (ids, numbers) = update_arrays(&worlds);
        let update = client.prepare_cached(UPDATE_WORLDS).await?;
        client.execute(&update, &[&ids, &numbers]).await?;
        Ok(worlds)
    }
}

async fn read_worlds(client: &Object, n: usize) -> Result<Vec<World>, Error> {
    let select = &client.prepare_cached(SELECT_WORLD).await?;
    let rows = try_join_all((0..n).map(|_| {
        let id = random_id();
        async move { client.query_one(select, &[&id]).await }
    }))
    .await?;
    rows.iter().map(|row| Ok(World { id: row.try_get(0)?, random_number: row.try_get(1)? })).collect()
}

/// Ids ascending, each once, with the number it was given last.
pub fn update_arrays(worlds: &[World]) -> (Vec<i32>, Vec<i32>) {
    let mut sorted: Vec<(usize, World)> = worlds.iter().copied().enumerate().collect();
    sorted.sort_unstable_by_key(|&(at, world)| (world.id, at));
    let (mut ids, mut numbers): (Vec<i32>, Vec<i32>) = (Vec::new(), Vec::new());
    for (_, world) in sorted {
        if ids.last() == Some(&world.id) {
            if let Some(last) = numbers.last_mut() {
                *last = world.random_number;
            }
        } else {
            ids.push(world.id);
            numbers.push(world.random_number);
        }
    }
    (ids, numbers)
}

/// The rows of `Fortune`, held in memory: the fortunes test without the database
/// (`/memory/fortunes`), for counting the framework's instructions per request
/// (scripts/instructions.sh).
pub fn memory_fortunes() -> Vec<Fortune> {
    const ROWS: [(i32, &str); 12] = [
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
    ROWS.iter().map(|&(id, message)| Fortune { id, message: message.to_string() }).collect()
}

/// The page: the added fortune, sorted by message, rendered with HTML escaping.
pub fn fortunes_page(mut fortunes: Vec<Fortune>) -> Result<String, Error> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.add_template("fortunes.html", TEMPLATE).expect("the fortunes template parses");
        env
    });
    fortunes.push(Fortune { id: 0, message: "Additional fortune added at request time.".to_string() });
    fortunes.sort_unstable_by(|a, b| a.message.cmp(&b.message));
    Ok(env.get_template("fortunes.html")?.render(
        minijinja::context! { fortunes => minijinja::Value::from(minijinja::value::Serde(&fortunes)) },
    )?)
}

/// What the axum peers (on tokio-postgres and on sqlx) share besides the database: the
/// error response, the two tests without a database and the `Server` header.
pub mod axum_parts {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::{Json, Router, middleware};

    use crate::{HELLO, Message};

    /// Serves an axum peer on the address of the first argument (127.0.0.1:8080 by
    /// default), on a tokio runtime of `TFB_THREADS` workers, as `#[tokio::main]` users
    /// write it: `database` makes the routes that read `DATABASE_URL` with a pool of
    /// `TFB_POOL_SIZE` (inside the runtime, which sqlx's pool needs), and the tests
    /// without the database and the `Server` header are added here.
    pub fn serve(
        name: &str,
        database: impl FnOnce(&str, usize) -> Result<Router, crate::Error>,
    ) -> Result<(), crate::Error> {
        let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let (url, pool_size, threads) = crate::settings();
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
        runtime.block_on(async {
            let app = database(&url, pool_size)?
                .route("/plaintext", get(plaintext))
                .route("/json", get(json))
                .layer(middleware::map_response(server_header));
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            eprintln!("{name} listening on http://{addr}, database {url}");
            axum::serve(listener, app).await?;
            Ok(())
        })
    }

    /// A failure as a 500 with its text.
    pub struct Failed(crate::Error);

    impl IntoResponse for Failed {
        fn into_response(self) -> Response {
            (StatusCode::INTERNAL_SERVER_ERROR, self.0.to_string()).into_response()
        }
    }

    impl<E: Into<crate::Error>> From<E> for Failed {
        fn from(e: E) -> Failed {
            Failed(e.into())
        }
    }

    async fn plaintext() -> &'static str {
        HELLO
    }

    async fn json() -> Json<Message> {
        Json(Message { message: HELLO })
    }

    async fn server_header(mut resp: Response) -> Response {
        resp.headers_mut().insert(header::SERVER, HeaderValue::from_static("axum"));
        resp
    }
}
