//! Flask's own `tests/test_async.py`, ported: async routes on `/`, `/home` and a
//! blueprint, async error handlers answering 412, async before/after hooks on the app and
//! on a blueprint.

use erlen::prelude::*;

use crate::{Connect, record};

crate::test_error!(AppError, "app error");

crate::test_error!(BlueprintError, "blueprint error");

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

pub fn async_app() -> App {
    let blueprint = Blueprint::new("bp").url_prefix("/bp").register(handlers![bp_index, bp_handle, bp_error]);
    App::new().register(handlers![index, handle, error]).register_blueprint(blueprint)
}

pub fn async_route(connect: &Connect) {
    let client = connect(async_app());
    for path in ["/", "/home", "/bp/"] {
        let resp = client.get(path);
        assert_eq!(resp.status, 200, "{path}");
        assert!(resp.text().contains("GET"), "{path}: {}", resp.text());
        let resp = client.post(path);
        assert!(resp.text().contains("POST"), "{path}: {}", resp.text());
    }
}

pub fn async_error_handler(connect: &Connect) {
    let client = connect(async_app());
    for path in ["/error", "/bp/error"] {
        assert_eq!(client.get(path).status, 412, "{path}");
    }
}

mod hooks {
    use super::*;

    #[route("/")]
    pub fn index() -> &'static str {
        ""
    }

    #[before_request]
    pub async fn before(req: &Request) {
        record(req, "app before");
    }

    #[after_request]
    pub async fn after(req: &Request, response: Response) -> Response {
        record(req, "app after");
        response
    }

    #[route("/")]
    pub fn bp_index() -> &'static str {
        ""
    }

    #[before_request]
    pub async fn bp_before(req: &Request) {
        record(req, "bp before");
    }

    #[after_request]
    pub async fn bp_after(req: &Request, response: Response) -> Response {
        record(req, "bp after");
        response
    }
}

pub fn async_before_after_request(connect: &Connect) {
    let blueprint = Blueprint::new("bp").url_prefix("/bp").register(handlers![
        hooks::bp_index,
        hooks::bp_before,
        hooks::bp_after
    ]);
    let client = connect(
        App::new()
            .register(handlers![hooks::index, hooks::before, hooks::after])
            .register_blueprint(blueprint),
    );
    let (_, events) = crate::send_recorded(&*client, Method::GET, "/", &[]);
    assert_eq!(events, ["app before", "app after"], "blueprint hooks must not run for app routes");
    let (_, events) = crate::send_recorded(&*client, Method::GET, "/bp/", &[]);
    assert_eq!(events, ["app before", "bp before", "bp after", "app after"]);
}
