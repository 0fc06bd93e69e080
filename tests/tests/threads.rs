//! The threaded backend creates no thread per request or per async call (Flask's
//! `AsyncToSync` starts a thread and an event loop for each). Alone in its own test binary
//! so that no other test's threads are counted.

use std::time::Duration;

use erlen::Backend;
use erlen::prelude::*;
use erlen_tests::Http;

#[get("/async")]
async fn async_view() -> &'static str {
    tokio::time::sleep(Duration::from_millis(1)).await;
    "async"
}

#[get("/sync")]
fn sync_view() -> String {
    erlen::block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
    "sync".to_string()
}

#[cfg(target_os = "linux")]
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

#[cfg(target_os = "linux")]
#[test]
fn no_thread_is_created_per_request_or_async_call() {
    let http =
        Http::start(App::new().register(handlers![async_view, sync_view]), Backend::Threaded { workers: 4 });
    let burst = |n: usize| {
        erlen::block_on(futures::future::join_all((0..n).map(|i| {
            let path = if i % 2 == 0 { "/async" } else { "/sync" };
            let req = http.client.get(http.url(path));
            async move { req.send().await.map(|r| r.status().as_u16()) }
        })))
    };
    // Warm up: the runtime, the workers and the connection pool reach their steady state.
    assert!(burst(64).into_iter().all(|s| s.ok() == Some(200)));
    let before = threads();
    for _ in 0..10 {
        assert!(burst(50).into_iter().all(|s| s.ok() == Some(200)));
    }
    let after = threads();
    // 500 requests, half of them async handlers through the bridge: the thread count stays.
    assert!(after <= before + 1, "threads grew from {before} to {after} over 500 requests");
}
