//! The sync views' database: connections of the blocking `postgres` crate in an r2d2
//! pool, each preparing its three statements when it connects.

use std::time::Duration;

use postgres::{Client, NoTls, Statement};

use crate::db::{ConfigError, Error, SELECT_FORTUNES, SELECT_WORLD, UPDATE_WORLDS, update_arrays};
use crate::{Fortune, World, random_id};

/// A connection and its prepared statements.
struct Connection {
    client: Client,
    world: Statement,
    fortunes: Statement,
    update: Statement,
}

/// Connects and prepares, for r2d2.
#[derive(Debug)]
struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        let world = client.prepare(SELECT_WORLD)?;
        let fortunes = client.prepare(SELECT_FORTUNES)?;
        let update = client.prepare(UPDATE_WORLDS)?;
        Ok(Connection { client, world, fortunes, update })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.client.is_closed()
    }
}

/// The blocking pool: `App::state(db)`, then `State<SyncDb>` in a sync view.
#[derive(Clone)]
pub struct SyncDb {
    pool: r2d2::Pool<Manager>,
}

impl std::fmt::Debug for SyncDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncDb").field("state", &self.pool.state()).finish()
    }
}

impl SyncDb {
    /// A pool of up to `size` connections to `url`, made on first use. A connection is
    /// checked only for being closed when taken, as deadpool's fast recycling does.
    ///
    /// # Errors
    ///
    /// When `url` is not a PostgreSQL URL.
    pub fn new(url: &str, size: usize) -> Result<SyncDb, ConfigError> {
        let config: postgres::Config = url.parse()?;
        let pool = r2d2::Pool::builder()
            .max_size(u32::try_from(size).unwrap_or(u32::MAX))
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build_unchecked(Manager { config });
        Ok(SyncDb { pool })
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, Error> {
        Ok(self.pool.get()?)
    }

    /// One random row.
    ///
    /// # Errors
    ///
    /// When there is no connection or the query fails.
    pub fn world(&self) -> Result<World, Error> {
        let mut conn = self.connection()?;
        read_world(&mut conn)
    }

    /// `n` random rows, each read by a query of its own, one after another.
    ///
    /// # Errors
    ///
    /// When there is no connection or a query fails.
    pub fn worlds(&self, n: usize) -> Result<Vec<World>, Error> {
        let mut conn = self.connection()?;
        (0..n).map(|_| read_world(&mut conn)).collect()
    }

    /// Every fortune, as stored.
    ///
    /// # Errors
    ///
    /// When there is no connection or the query fails.
    pub fn fortunes(&self) -> Result<Vec<Fortune>, Error> {
        let mut conn = self.connection()?;
        let Connection { client, fortunes, .. } = &mut *conn;
        let rows = client.query(&*fortunes, &[])?;
        rows.iter().map(|row| Ok(Fortune { id: row.try_get(0)?, message: row.try_get(1)? })).collect()
    }

    /// `n` random rows read one by one, each given a new random number, written back in
    /// one statement; the rows as written.
    ///
    /// # Errors
    ///
    /// When there is no connection or a query fails.
    pub fn update(&self, n: usize) -> Result<Vec<World>, Error> {
        let mut conn = self.connection()?;
        let mut worlds = (0..n).map(|_| read_world(&mut conn)).collect::<Result<Vec<_>, _>>()?;
        for world in &mut worlds {
            world.random_number = random_id();
        }
        let (ids, numbers) = update_arrays(&worlds);
        let Connection { client, update, .. } = &mut *conn;
        client.execute(&*update, &[&ids, &numbers])?;
        Ok(worlds)
    }
}

fn read_world(conn: &mut Connection) -> Result<World, Error> {
    let row = conn.client.query_one(&conn.world, &[&random_id()])?;
    Ok(World { id: row.try_get(0)?, random_number: row.try_get(1)? })
}
