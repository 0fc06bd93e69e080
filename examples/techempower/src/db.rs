//! The async views' database: tokio-postgres connections in a deadpool pool, each
//! preparing its statements once (deadpool's statement cache) and reading one row per
//! query.

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures::future::try_join_all;
use tokio_postgres::NoTls;

use crate::{Fortune, World, random_id};

/// One row of `World` by its id.
pub(crate) const SELECT_WORLD: &str = "SELECT id, randomnumber FROM world WHERE id = $1";
/// Every row of `Fortune`.
pub(crate) const SELECT_FORTUNES: &str = "SELECT id, message FROM fortune";
/// Many rows of `World` changed by one statement: the ids and their new numbers as two
/// arrays of the same length, each id once.
pub(crate) const UPDATE_WORLDS: &str = "UPDATE world SET randomnumber = new.randomnumber \
     FROM UNNEST($1::int[], $2::int[]) AS new(id, randomnumber) WHERE world.id = new.id";

/// What a database call fails with: the pool gave no connection, or a query failed. A
/// view's `?` makes either a 500.
#[derive(Debug)]
pub enum Error {
    /// No connection: the database is unreachable, or every connection stayed busy past
    /// the pool's timeout.
    Pool(String),
    /// A query failed.
    Query(tokio_postgres::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Pool(e) => write!(f, "no database connection: {e}"),
            Error::Query(e) => write!(f, "database query: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Pool(_) => None,
            Error::Query(e) => Some(e),
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Error {
        Error::Query(e)
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Error {
        Error::Pool(e.to_string())
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Error {
        Error::Pool(e.to_string())
    }
}

/// What making a pool fails with: the URL is not a PostgreSQL URL.
pub type ConfigError = Box<dyn std::error::Error + Send + Sync>;

/// The async pool: `App::state(db)`, then `State<Db>` in a view.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("status", &self.pool.status()).finish()
    }
}

impl Db {
    /// A pool of up to `size` connections to `url`, made on first use.
    ///
    /// # Errors
    ///
    /// When `url` is not a PostgreSQL URL.
    pub fn new(url: &str, size: usize) -> Result<Db, ConfigError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        Ok(Db { pool: Pool::builder(manager).max_size(size).build()? })
    }

    async fn client(&self) -> Result<Object, Error> {
        Ok(self.pool.get().await?)
    }

    /// One random row.
    ///
    /// # Errors
    ///
    /// When there is no connection or the query fails.
    pub async fn world(&self) -> Result<World, Error> {
        let client = self.client().await?;
        let select = client.prepare_cached(SELECT_WORLD).await?;
        let row = client.query_one(&select, &[&random_id()]).await?;
        Ok(World { id: row.try_get(0)?, random_number: row.try_get(1)? })
    }

    /// `n` random rows, each read by a query of its own. The queries go out together on
    /// the one connection (tokio-postgres pipelines them) and are answered in order.
    ///
    /// # Errors
    ///
    /// When there is no connection or a query fails.
    pub async fn worlds(&self, n: usize) -> Result<Vec<World>, Error> {
        let client = self.client().await?;
        read_worlds(&client, n).await
    }

    /// Every fortune, as stored.
    ///
    /// # Errors
    ///
    /// When there is no connection or the query fails.
    pub async fn fortunes(&self) -> Result<Vec<Fortune>, Error> {
        let client = self.client().await?;
        let select = client.prepare_cached(SELECT_FORTUNES).await?;
        let rows = client.query(&select, &[]).await?;
        rows.iter().map(|row| Ok(Fortune { id: row.try_get(0)?, message: row.try_get(1)? })).collect()
    }

    /// `n` random rows read one by one, each given a new random number, written back in
    /// one statement; the rows as written.
    ///
    /// # Errors
    ///
    /// When there is no connection or a query fails.
    pub async fn update(&self, n: usize) -> Result<Vec<World>, Error> {
        let client = self.client().await?;
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

/// The arrays [`UPDATE_WORLDS`] takes: ids in ascending order (so that concurrent
/// updates lock rows in one order and never deadlock), each once, with the number it was
/// given last, as one update after another would leave it.
pub(crate) fn update_arrays(worlds: &[World]) -> (Vec<i32>, Vec<i32>) {
    let mut sorted: Vec<(usize, World)> = worlds.iter().copied().enumerate().collect();
    sorted.sort_unstable_by_key(|&(at, world)| (world.id, at));
    let mut ids = Vec::with_capacity(sorted.len());
    let mut numbers: Vec<i32> = Vec::with_capacity(sorted.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_arrays_sort_and_keep_the_last_number() {
        let w = |id, random_number| World { id, random_number };
        let (ids, numbers) = update_arrays(&[w(7, 1), w(3, 2), w(7, 3), w(5, 4)]);
        assert_eq!(ids, [3, 5, 7]);
        assert_eq!(numbers, [2, 4, 3]);
    }
}
