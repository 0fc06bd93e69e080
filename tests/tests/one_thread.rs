//! `ERLEN_THREADS=1`: the shared runtime is tokio's current-thread runtime on one thread
//! of its own (`erlen-rt`), and everything that works on the multi-thread runtime works
//! on it: async views on both backends, sync views awaiting through `erlen::block_on`
//! and `erlen::run_on_runtime`, the test client. Alone in its own test binary, since the
//! runtime is made once per process, from the environment it finds.

use std::time::Duration;

use erlen::Backend;
use erlen::prelude::*;
use erlen_tests::Http;

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("unnamed").to_string()
}

#[get("/async")]
async fn async_view() -> String {
    tokio::time::sleep(Duration::from_millis(2)).await;
    thread_name()
}

#[get("/sync")]
fn sync_view() -> String {
    erlen::block_on(async { tokio::time::sleep(Duration::from_millis(2)).await });
    thread_name()
}

/// Its work runs as a task on the runtime's thread, and the worker waits for the result.
#[get("/spawned")]
fn spawned() -> String {
    erlen::run_on_runtime(async {
        tokio::time::sleep(Duration::from_millis(2)).await;
        thread_name()
    })
}

/// The task's panic is resumed in the view: a 500, as any view's.
#[get("/spawned-panic")]
fn spawned_panic() -> String {
    erlen::run_on_runtime(async { panic!("the task failed") })
}

/// Waits for itself: on the only runtime thread, `block_on` would never return.
#[get("/misused")]
async fn misused() -> String {
    erlen::block_on(async { "never".to_string() })
}

fn app() -> App {
    App::new().register(handlers![async_view, sync_view, spawned, spawned_panic, misused])
}

fn get(http: &Http, path: &str) -> (u16, String) {
    let req = http.client.get(http.url(path));
    erlen::block_on(async {
        let resp = req.send().await.expect("the server answers");
        (resp.status().as_u16(), resp.text().await.expect("a body"))
    })
}

#[test]
fn one_runtime_thread_serves_both_backends_and_the_test_client() {
    // SAFETY: the only test of this binary sets the variable before anything reads it.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("ERLEN_THREADS", "1")
    };
    let flavor = erlen::runtime::handle().runtime_flavor();
    assert_eq!(flavor, tokio::runtime::RuntimeFlavor::CurrentThread);

    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let http = Http::start(app(), backend);
        // Async views run on the runtime's thread on the async backend, on a worker
        // parked on the runtime on the threaded one; sync views never on the runtime's.
        let (status, on) = get(&http, "/async");
        assert_eq!(status, 200);
        if backend == Backend::Async {
            assert_eq!(on, "erlen-rt", "an async view ran off the runtime's thread");
        } else {
            assert_ne!(on, "erlen-rt", "the threaded backend ran an async view on the runtime's thread");
        }
        let (status, on) = get(&http, "/sync");
        assert_eq!(status, 200);
        assert_ne!(on, "erlen-rt", "a sync view ran on the runtime's only thread");

        // A sync view's task runs on the runtime's thread; its panic is the view's 500,
        // and the runtime's thread lives on.
        assert_eq!(get(&http, "/spawned"), (200, "erlen-rt".to_string()), "{backend:?}");
        assert_eq!(get(&http, "/spawned-panic").0, 500, "{backend:?}");
        assert_eq!(get(&http, "/spawned"), (200, "erlen-rt".to_string()), "{backend:?}");

        // Many at once, half of them sync views waiting on the runtime's timers.
        let statuses = erlen::block_on(futures::future::join_all((0..200).map(|i| {
            let req = http.client.get(http.url(if i % 2 == 0 { "/async" } else { "/sync" }));
            async move { req.send().await.map(|r| r.status().as_u16()) }
        })));
        assert!(statuses.iter().all(|s| s.as_ref().ok() == Some(&200)), "{backend:?}: {statuses:?}");

        // The misuse is a 500 at once, not a server that waits for itself; the next
        // request is served.
        let (status, _) = get(&http, "/misused");
        let expected = if backend == Backend::Async { 500 } else { 200 };
        assert_eq!(status, expected, "{backend:?}: block_on from an async view");
        assert_eq!(get(&http, "/async").0, 200);
    }

    let client = app().test_client();
    assert_eq!(client.get("/async").send().status(), 200);
    assert_eq!(client.get("/sync").send().status(), 200);
    assert_eq!(client.get("/spawned").send().text(), "erlen-rt");
}
