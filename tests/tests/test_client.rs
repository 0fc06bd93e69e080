//! The test client in `#[test]` and in `#[tokio::test]` (both flavors), blocking and
//! awaited, created and dropped inside a runtime; `erlen::block_on` in sync handlers; and
//! app build errors.

use std::time::{Duration, Instant};

use erlen::prelude::*;

#[get("/sync")]
fn sync_view() -> &'static str {
    "sync"
}

#[get("/async")]
async fn async_view() -> &'static str {
    tokio::time::sleep(Duration::from_millis(5)).await;
    "async"
}

#[get("/bridge")]
fn bridge() -> String {
    // The Flask 1.x pattern: a sync view that runs async code to completion.
    erlen::block_on(async {
        let tasks = (0..10).map(|i| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            i
        });
        let total: i32 = futures::future::join_all(tasks).await.into_iter().sum();
        format!("sum {total}")
    })
}

fn client() -> TestClient {
    App::new().register(handlers![sync_view, async_view, bridge]).test_client()
}

#[test]
fn blocking_send_in_a_plain_test() {
    let c = client();
    assert_eq!(c.get("/sync").send().text(), "sync");
    assert_eq!(c.get("/async").send().text(), "async");
}

#[tokio::test]
async fn awaited_in_a_current_thread_runtime() {
    let c = client();
    assert_eq!(c.get("/sync").await.text(), "sync");
    assert_eq!(c.get("/async").await.text(), "async");
    // Blocking send inside a runtime does not panic either.
    assert_eq!(c.get("/async").send().text(), "async");
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaited_in_a_multi_thread_runtime() {
    let c = client();
    let (a, b) = tokio::join!(c.get("/sync").into_future(), c.get("/async").into_future());
    assert_eq!((a.text(), b.text()), ("sync".to_string(), "async".to_string()));
    assert_eq!(c.get("/bridge").send().text(), "sum 45");
}

#[test]
fn block_on_runs_the_fan_out_concurrently_inside_a_sync_view() {
    let c = client();
    let start = Instant::now();
    assert_eq!(c.get("/bridge").send().text(), "sum 45");
    // Ten 100 ms sleeps, concurrently: far below the 1 s they take one after another.
    assert!(start.elapsed() < Duration::from_millis(800), "took {:?}", start.elapsed());
}

#[test]
fn a_client_dropped_inside_a_runtime_does_not_panic() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = client();
        assert_eq!(c.get("/sync").await.status(), 200);
        drop(c);
    });
}

mod dupes {
    use erlen::prelude::*;

    #[get("/same/<int:id>")]
    pub fn first(id: i64) -> String {
        id.to_string()
    }

    #[route("/same/<int:other>", methods = ["GET", "POST"])]
    pub fn second(other: i64) -> String {
        other.to_string()
    }

    #[get("/same/<name>")]
    pub fn by_name(name: String) -> String {
        name
    }
}

#[test]
fn duplicate_routes_are_a_build_error_naming_both_functions() {
    let err = App::new()
        .register(handlers![dupes::first, dupes::second, dupes::by_name])
        .try_test_client()
        .unwrap_err();
    assert_eq!(err.problems().len(), 1, "{err}");
    let problem = &err.problems()[0];
    assert!(problem.contains("GET \"/same/<int:other>\" is registered twice"), "{problem}");
    assert!(problem.contains("`first`") && problem.contains("`second`"), "{problem}");
}

#[test]
fn bad_blueprint_prefixes_and_duplicate_blueprints_are_build_errors() {
    let err = App::new()
        .register_blueprint(Blueprint::new("bp").url_prefix("api").register(handlers![sync_view]))
        .register_blueprint(Blueprint::new("bp").register(handlers![async_view]))
        .try_test_client()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("must start with `/`"), "{text}");
    assert!(text.contains("two blueprints are named `bp`"), "{text}");
}

#[test]
fn blueprint_endpoints_are_prefixed_with_its_name() {
    #[get("/where")]
    fn whereami(req: &Request) -> String {
        format!("{:?} {:?}", req.endpoint(), req.blueprint())
    }
    let c = App::new()
        .register(handlers![whereami])
        .register_blueprint(Blueprint::new("admin").url_prefix("/admin").register(handlers![whereami]))
        .test_client();
    assert_eq!(c.get("/where").send().text(), "Some(\"whereami\") None");
    assert_eq!(c.get("/admin/where").send().text(), "Some(\"admin.whereami\") Some(\"admin\")");
}
