//! Flask's own `tests/test_async.py`, ported: async routes on `/`, `/home` and a
//! blueprint, async error handlers answering 412, async before/after hooks on the app and
//! on a blueprint.

use std::sync::atomic::{AtomicBool, Ordering};

use erlen::prelude::*;

#[derive(Debug)]
struct AppError;
impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("app error")
    }
}
impl std::error::Error for AppError {}

#[derive(Debug)]
struct BlueprintError;
impl std::fmt::Display for BlueprintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("blueprint error")
    }
}
impl std::error::Error for BlueprintError {}

#[route("/", methods = ["GET", "POST"])]
#[route("/home", methods = ["GET", "POST"])]
async fn index(req: &Request) -> String {
    tokio::time::sleep(std::time::Duration::ZERO).await;
    req.method().to_string()
}

#[errorhandler(AppError)]
async fn handle(_err: &AppError) -> (u16, &'static str) {
    (412, "")
}

#[route("/error")]
async fn error() -> Result<String, AppError> {
    Err(AppError)
}

#[route("/", methods = ["GET", "POST"])]
async fn bp_index(req: &Request) -> String {
    tokio::time::sleep(std::time::Duration::ZERO).await;
    req.method().to_string()
}

#[errorhandler(BlueprintError)]
async fn bp_handle(_err: &BlueprintError) -> (u16, &'static str) {
    (412, "")
}

#[route("/error")]
async fn bp_error() -> Result<String, BlueprintError> {
    Err(BlueprintError)
}

fn async_app() -> App {
    let blueprint = Blueprint::new("bp").url_prefix("/bp").register(handlers![bp_index, bp_handle, bp_error]);
    App::new().register(handlers![index, handle, error]).register_blueprint(blueprint)
}

#[test]
fn async_route() {
    let client = async_app().test_client();
    for path in ["/", "/home", "/bp/"] {
        let resp = client.get(path).send();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.text().contains("GET"), "{path}: {}", resp.text());
        let resp = client.post(path).send();
        assert!(resp.text().contains("POST"), "{path}: {}", resp.text());
    }
}

#[test]
fn async_error_handler() {
    let client = async_app().test_client();
    for path in ["/error", "/bp/error"] {
        assert_eq!(client.get(path).send().status(), 412, "{path}");
    }
}

static APP_BEFORE: AtomicBool = AtomicBool::new(false);
static APP_AFTER: AtomicBool = AtomicBool::new(false);
static BP_BEFORE: AtomicBool = AtomicBool::new(false);
static BP_AFTER: AtomicBool = AtomicBool::new(false);

mod hooks {
    use super::*;

    #[route("/")]
    pub fn index() -> &'static str {
        ""
    }

    #[before_request]
    pub async fn before() {
        APP_BEFORE.store(true, Ordering::SeqCst);
    }

    #[after_request]
    pub async fn after(response: Response) -> Response {
        APP_AFTER.store(true, Ordering::SeqCst);
        response
    }

    #[route("/")]
    pub fn bp_index() -> &'static str {
        ""
    }

    #[before_request]
    pub async fn bp_before() {
        BP_BEFORE.store(true, Ordering::SeqCst);
    }

    #[after_request]
    pub async fn bp_after(response: Response) -> Response {
        BP_AFTER.store(true, Ordering::SeqCst);
        response
    }
}

#[test]
fn async_before_after_request() {
    let blueprint = Blueprint::new("bp").url_prefix("/bp").register(handlers![
        hooks::bp_index,
        hooks::bp_before,
        hooks::bp_after
    ]);
    let client = App::new()
        .register(handlers![hooks::index, hooks::before, hooks::after])
        .register_blueprint(blueprint)
        .test_client();
    client.get("/").send();
    assert!(APP_BEFORE.load(Ordering::SeqCst));
    assert!(APP_AFTER.load(Ordering::SeqCst));
    assert!(!BP_BEFORE.load(Ordering::SeqCst), "blueprint hooks must not run for app routes");
    client.get("/bp/").send();
    assert!(BP_BEFORE.load(Ordering::SeqCst));
    assert!(BP_AFTER.load(Ordering::SeqCst));
}
