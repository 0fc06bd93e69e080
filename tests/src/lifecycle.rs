//! The exact order of Flask's lifecycle, in every case: plain requests, blueprints,
//! short-circuits, routing errors, typed and status error handlers, panics anywhere,
//! error handlers that fail, and what `teardown_request` receives. Sync and async hooks
//! are mixed on purpose: the order must not depend on which is which.

use erlen::prelude::*;

use crate::{Connect, Reply, record};

fn describe(err: Option<&HttpError>) -> String {
    match err {
        None => "none".into(),
        Some(e) if e.is_panic() => format!("panic {}", e.status().as_u16()),
        Some(e) => format!("error {}", e.status().as_u16()),
    }
}

crate::test_error!(AppError, "app error");

crate::test_error!(BpError, "bp error");

// ---- app hooks -------------------------------------------------------------------------

#[before_request]
fn before_a1(req: &Request) {
    record(req, "before a1");
    if req.header("x-before-panic").is_some() {
        panic!("before a1 panicked");
    }
}

#[before_request]
async fn before_a2(req: &mut Request) -> Option<(u16, &'static str)> {
    record(req, "before a2");
    (req.header("x-short") == Some("app")).then_some((203, "short app"))
}

#[after_request]
async fn after_a1(req: &Request, resp: Response) -> Response {
    record(req, "after a1");
    resp
}

#[after_request]
fn after_a2(req: &Request, mut resp: Response) -> Response {
    record(req, "after a2");
    if req.header("x-after-panic").is_some() {
        panic!("after a2 panicked");
    }
    resp.headers_mut().insert("x-after", "a2".parse().unwrap());
    resp
}

#[teardown_request]
fn teardown_a1(req: &Request, err: Option<&HttpError>) {
    record(req, format!("teardown a1 {}", describe(err)));
}

#[teardown_request]
async fn teardown_a2(req: &Request, err: Option<&HttpError>) {
    record(req, format!("teardown a2 {}", describe(err)));
    if req.header("x-teardown-panic").is_some() {
        panic!("teardown a2 panicked");
    }
}

#[errorhandler(404)]
async fn app_404(req: &Request) -> (u16, &'static str) {
    record(req, "handler app 404");
    (404, "app 404")
}

#[errorhandler(405)]
fn app_405(req: &Request, err: &HttpError) -> Response {
    record(req, "handler app 405");
    let mut resp = (405, "app 405").into_response();
    for (k, v) in err.headers() {
        resp.headers_mut().insert(k, v.clone());
    }
    resp
}

#[errorhandler(500)]
fn app_500(req: &Request, err: &HttpError) -> (StatusCode, String) {
    record(req, "handler app 500");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("app 500: {}", describe(Some(err))))
}

#[errorhandler(AppError)]
async fn app_typed(req: &Request, _err: &AppError) -> (u16, &'static str) {
    record(req, "handler app typed");
    (412, "app typed")
}

#[errorhandler(409)]
async fn failing_409(req: &Request) -> &'static str {
    record(req, "handler 409 panics");
    panic!("the 409 handler panicked")
}

#[errorhandler(410)]
fn failing_410(req: &Request) -> Result<&'static str, HttpError> {
    record(req, "handler 410 fails");
    Err(abort(400))
}

// ---- app views -------------------------------------------------------------------------

#[get("/ok")]
fn ok(req: &Request) -> &'static str {
    record(req, "view ok");
    "ok"
}

#[get("/async_ok")]
async fn async_ok(req: &Request) -> &'static str {
    tokio::task::yield_now().await;
    record(req, "view async_ok");
    "async ok"
}

#[get("/io_error")]
fn io_error(req: &Request) -> Result<&'static str, std::io::Error> {
    record(req, "view io_error");
    Err(std::io::Error::other("disk on fire"))
}

#[get("/panic")]
fn panics(req: &Request) -> &'static str {
    record(req, "view panic");
    panic!("the view panicked")
}

#[get("/async_panic")]
async fn async_panics(req: &Request) -> &'static str {
    record(req, "view async_panic");
    tokio::task::yield_now().await;
    panic!("the async view panicked")
}

#[get("/typed")]
async fn typed(req: &Request) -> Result<&'static str, AppError> {
    record(req, "view typed");
    Err(AppError)
}

#[get("/abort/<int:code>")]
fn aborts(req: &Request, code: u16) -> Result<&'static str, HttpError> {
    record(req, format!("view abort {code}"));
    Err(abort(code))
}

#[post("/only_post")]
fn only_post(req: &Request) -> &'static str {
    record(req, "view only_post");
    "posted"
}

#[get("/slash/")]
fn slash(req: &Request) -> &'static str {
    record(req, "view slash");
    "slash"
}

// ---- blueprint -------------------------------------------------------------------------

#[before_request]
async fn before_b1(req: &Request) -> Option<&'static str> {
    record(req, "before b1");
    (req.header("x-short") == Some("bp")).then_some("short bp")
}

#[after_request]
fn after_b1(req: &Request, resp: Response) -> Response {
    record(req, "after b1");
    resp
}

#[teardown_request]
async fn teardown_b1(req: &Request, err: Option<&HttpError>) {
    record(req, format!("teardown b1 {}", describe(err)));
}

#[errorhandler(404)]
fn bp_404(req: &Request) -> (u16, &'static str) {
    record(req, "handler bp 404");
    (404, "bp 404")
}

#[errorhandler(BpError)]
fn bp_typed(req: &Request, _err: &BpError) -> (u16, &'static str) {
    record(req, "handler bp typed");
    (412, "bp typed")
}

#[get("/ok")]
async fn bp_ok(req: &Request) -> &'static str {
    record(req, "view bp_ok");
    "bp ok"
}

#[get("/missing")]
fn bp_missing(req: &Request) -> Result<&'static str, HttpError> {
    record(req, "view bp_missing");
    Err(abort(404))
}

#[get("/typed")]
fn bp_typed_view(req: &Request) -> Result<&'static str, BpError> {
    record(req, "view bp_typed");
    Err(BpError)
}

#[get("/app_typed")]
fn bp_app_typed(req: &Request) -> Result<&'static str, AppError> {
    record(req, "view bp_app_typed");
    Err(AppError)
}

pub fn app() -> App {
    let bp = Blueprint::new("bp").url_prefix("/bp").register(handlers![
        before_b1,
        after_b1,
        teardown_b1,
        bp_404,
        bp_typed,
        bp_ok,
        bp_missing,
        bp_typed_view,
        bp_app_typed
    ]);
    App::new()
        .register(handlers![
            before_a1,
            before_a2,
            after_a1,
            after_a2,
            teardown_a1,
            teardown_a2,
            app_404,
            app_405,
            app_500,
            app_typed,
            failing_409,
            failing_410,
            ok,
            async_ok,
            io_error,
            panics,
            async_panics,
            typed,
            aborts,
            only_post,
            slash
        ])
        .register_blueprint(bp)
}

/// Sends a request tagged with a fresh id; returns the response and the events recorded.
fn run(connect: &Connect, method: Method, path: &str, headers: &[(&str, &str)]) -> (Reply, Vec<String>) {
    crate::send_recorded(&*connect(app()), method, path, headers)
}

const APP_AFTER: [&str; 2] = ["after a2", "after a1"];

fn app_teardown(err: &str) -> Vec<String> {
    vec![format!("teardown a2 {err}"), format!("teardown a1 {err}")]
}

fn seq(parts: &[&[&str]]) -> Vec<String> {
    parts.iter().flat_map(|p| p.iter().map(|s| s.to_string())).collect()
}

pub fn plain_request_runs_hooks_in_flask_order(connect: &Connect) {
    for (path, view) in [("/ok", "view ok"), ("/async_ok", "view async_ok")] {
        let (resp, events) = run(connect, Method::GET, path, &[]);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-after"), Some("a2"));
        let mut expected = seq(&[&["before a1", "before a2", view], &APP_AFTER]);
        expected.extend(app_teardown("none"));
        assert_eq!(events, expected);
    }
}

pub fn blueprint_hooks_wrap_app_hooks(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/bp/ok", &[]);
    assert_eq!(resp.text(), "bp ok");
    assert_eq!(
        events,
        seq(&[
            &["before a1", "before a2", "before b1", "view bp_ok", "after b1"],
            &APP_AFTER,
            &["teardown b1 none", "teardown a2 none", "teardown a1 none"]
        ])
    );
}

pub fn before_hook_short_circuits_the_view_and_later_hooks(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/ok", &[("x-short", "app")]);
    assert_eq!(resp.status, 203);
    assert_eq!(resp.text(), "short app");
    let mut expected = seq(&[&["before a1", "before a2"], &APP_AFTER]);
    expected.extend(app_teardown("none"));
    assert_eq!(events, expected);

    let (resp, events) = run(connect, Method::GET, "/bp/ok", &[("x-short", "bp")]);
    assert_eq!(resp.text(), "short bp");
    assert!(!events.contains(&"view bp_ok".to_string()), "{events:?}");
    assert_eq!(events[3], "after b1");
}

pub fn routing_errors_run_app_before_hooks_then_app_handlers_only(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/nope", &[]);
    assert_eq!((resp.status, resp.text()), (404, "app 404".into()));
    let mut expected = seq(&[&["before a1", "before a2", "handler app 404"], &APP_AFTER]);
    expected.extend(app_teardown("none"));
    assert_eq!(events, expected);

    // A path under the blueprint's prefix that no route matches: still the app's handler.
    let (resp, events) = run(connect, Method::GET, "/bp/nope", &[]);
    assert_eq!(resp.text(), "app 404");
    assert!(!events.iter().any(|e| e.contains("b1")), "{events:?}");
}

pub fn method_not_allowed_carries_allow(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/only_post", &[]);
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("OPTIONS, POST"));
    assert_eq!(&events[..3], ["before a1", "before a2", "handler app 405"]);
}

pub fn strict_slashes_redirect_with_308(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/slash?a=1", &[]);
    assert_eq!(resp.status, 308);
    assert_eq!(resp.header("location"), Some("/slash/?a=1"));
    assert_eq!(&events[..2], ["before a1", "before a2"]);
    assert!(events.contains(&"after a1".to_string()));
    let (resp, _) = run(connect, Method::GET, "/slash/", &[]);
    assert_eq!(resp.text(), "slash");
    let (resp, _) = run(connect, Method::GET, "/ok/", &[]);
    assert_eq!(resp.status, 404, "a route without a slash does not answer with one");
}

pub fn head_and_options_are_automatic(connect: &Connect) {
    let (resp, events) = run(connect, Method::HEAD, "/ok", &[]);
    assert_eq!(resp.status, 200);
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("content-length"), Some("2"));
    assert!(events.contains(&"view ok".to_string()));

    let (resp, events) = run(connect, Method::OPTIONS, "/ok", &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert!(!events.contains(&"view ok".to_string()));
    assert!(events.contains(&"after a1".to_string()));
}

pub fn typed_errors_are_handled_and_not_passed_to_teardown(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/typed", &[]);
    assert_eq!((resp.status, resp.text()), (412, "app typed".into()));
    let mut expected = seq(&[&["before a1", "before a2", "view typed", "handler app typed"], &APP_AFTER]);
    expected.extend(app_teardown("none"));
    assert_eq!(events, expected);
}

pub fn unhandled_errors_render_with_the_500_handler_and_reach_teardown(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/io_error", &[]);
    assert_eq!((resp.status, resp.text()), (500, "app 500: error 500".into()));
    let mut expected = seq(&[&["before a1", "before a2", "view io_error", "handler app 500"], &APP_AFTER]);
    expected.extend(app_teardown("error 500"));
    assert_eq!(events, expected);
}

pub fn panics_in_views_are_500s_and_reach_teardown(connect: &Connect) {
    for (path, view) in [("/panic", "view panic"), ("/async_panic", "view async_panic")] {
        let (resp, events) = run(connect, Method::GET, path, &[]);
        assert_eq!(resp.text(), "app 500: panic 500", "{path}");
        let mut expected = seq(&[&["before a1", "before a2", view, "handler app 500"], &APP_AFTER]);
        expected.extend(app_teardown("panic 500"));
        assert_eq!(events, expected, "{path}");
    }
}

pub fn panic_in_a_before_hook_skips_the_view(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/ok", &[("x-before-panic", "1")]);
    assert_eq!(resp.status, 500);
    let mut expected = seq(&[&["before a1", "handler app 500"], &APP_AFTER]);
    expected.extend(app_teardown("panic 500"));
    assert_eq!(events, expected);
}

pub fn panic_in_an_after_hook_is_handled_and_skips_the_rest(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/ok", &[("x-after-panic", "1")]);
    assert_eq!(resp.text(), "app 500: panic 500");
    let mut expected = seq(&[&["before a1", "before a2", "view ok", "after a2", "handler app 500"]]);
    expected.extend(app_teardown("panic 500"));
    assert_eq!(events, expected);
}

pub fn panic_in_a_teardown_hook_is_ignored(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/ok", &[("x-teardown-panic", "1")]);
    assert_eq!(resp.text(), "ok");
    assert_eq!(events.last().map(String::as_str), Some("teardown a1 none"));
}

pub fn failing_error_handlers_give_a_plain_500(connect: &Connect) {
    for (code, event) in [(409, "handler 409 panics"), (410, "handler 410 fails")] {
        let (resp, events) = run(connect, Method::GET, &format!("/abort/{code}"), &[]);
        assert_eq!(resp.status, 500, "{code}");
        assert!(resp.text().contains("Internal Server Error"), "{}", resp.text());
        assert!(events.contains(&event.to_string()), "{events:?}");
        assert!(events.contains(&"after a1".to_string()));
        assert!(events.last().unwrap().starts_with("teardown a1 "), "{events:?}");
    }
    // And the app keeps serving.
    assert_eq!(run(connect, Method::GET, "/ok", &[]).0.text(), "ok");
}

pub fn abort_without_a_handler_gets_the_default_page(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/abort/403", &[]);
    assert_eq!(resp.status, 403);
    assert!(resp.text().contains("<title>403 Forbidden</title>"), "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(events.ends_with(&app_teardown("none")));
}

pub fn blueprint_error_handlers_come_first_for_its_routes(connect: &Connect) {
    let (resp, events) = run(connect, Method::GET, "/bp/missing", &[]);
    assert_eq!(resp.text(), "bp 404");
    assert!(events.contains(&"handler bp 404".to_string()));

    let (resp, _) = run(connect, Method::GET, "/bp/typed", &[]);
    assert_eq!((resp.status, resp.text()), (412, "bp typed".into()));

    // No blueprint handler for AppError: the app's takes it.
    let (resp, _) = run(connect, Method::GET, "/bp/app_typed", &[]);
    assert_eq!(resp.text(), "app typed");

    // App routes never see the blueprint's handlers.
    let (resp, _) = run(connect, Method::GET, "/abort/404", &[]);
    assert_eq!(resp.text(), "app 404");
}
