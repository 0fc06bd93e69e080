//! The article's first example: an async route awaiting a one-second task, next to a
//! plain sync route, in one app.

use std::time::Duration;

use erlen::prelude::*;

async fn async_get_data() -> &'static str {
    tokio::time::sleep(Duration::from_secs(1)).await;
    "Done!"
}

#[route("/data")]
async fn get_data() -> &'static str {
    async_get_data().await
}

#[route("/sync_data")]
fn get_sync_data() -> &'static str {
    "Done, without waiting!"
}

/// The app: one async and one sync route.
pub fn app() -> App {
    App::new().register(handlers![get_data, get_sync_data])
}
