use erlen::prelude::*;

struct Db;

/// Clear the existing data and create new tables.
#[command]
fn init_db(State(_db): State<Db>) -> Result<(), std::io::Error> {
    echo!("Initialized the database.");
    Ok(())
}

/// Seed COUNT rows.
#[command("seed-rows")]
async fn seed(count: usize, prefix: Option<String>, dry_run: bool, _db: Option<State<Db>>) -> String {
    format!("{count} {prefix:?} {dry_run}")
}

/// Tell the subscribers.
#[command]
fn announce(channels: Channels, text: String) -> Result<(), erlen::StoreError> {
    channels.publish_blocking("news", text)
}

#[command]
fn nothing() {}

#[command]
fn unit() -> () {}

fn main() {
    let runner = App::new().state(Db).register(handlers![init_db, seed, announce, nothing, unit]).test_cli_runner();
    assert!(runner.invoke(["init-db"]).success());
    assert_eq!(runner.invoke(["seed-rows", "3", "--dry-run"]).output(), "3 None true\n");
    assert!(runner.invoke(["announce", "hello"]).success());
    let _ = init_db(State(std::sync::Arc::new(Db)));
}
