//! Every form the macros accept, registered together.

use erlen::prelude::*;
use serde::Deserialize;

#[derive(Debug)]
struct AppError;
impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("app error")
    }
}
impl std::error::Error for AppError {}

#[derive(Deserialize)]
struct Params {
    q: Option<String>,
}

#[derive(Clone)]
struct Config;

#[route("/")]
#[route("/home", methods = ["GET", "POST"])]
#[erlen::get("/index")]
async fn index(req: &Request) -> String {
    req.method().to_string()
}

#[get("/users/<int:id>/<name>/<float:score>/<uuid:key>/<path:rest>")]
fn user(id: i64, name: String, score: f64, key: String, rest: std::path::PathBuf, req: &Request) -> String {
    format!("{id} {name} {score} {key} {} {}", rest.display(), req.path())
}

#[post("/json")]
async fn json(Json(v): Json<serde_json::Value>, Query(p): Query<Params>, State(_c): State<Config>) -> Json<serde_json::Value> {
    let _ = p.q;
    Json(v)
}

#[put("/form")]
fn form(Form(p): Form<Params>, body: Bytes, method: Method, headers: HeaderMap) -> (StatusCode, String) {
    (StatusCode::CREATED, format!("{:?} {} {method} {}", p.q, body.len(), headers.len()))
}

#[patch("/patch")]
fn patch_it() -> Result<Html<String>, HttpError> {
    Ok(Html("<p>ok</p>".to_string()))
}

#[delete("/delete")]
async fn delete_it() -> Result<(u16, &'static str), AppError> {
    Err(AppError)
}

#[get("/nothing")]
fn nothing() {}

#[get("/maybe")]
fn maybe() -> Option<Vec<u8>> {
    None
}

#[get("/redirect")]
fn redirect() -> Redirect {
    Redirect::to("/")
}

#[before_request]
fn before_unit() {}

#[before_request]
async fn before_option(req: &mut Request) -> Option<Response> {
    let _ = req.extensions_mut();
    None
}

#[before_request]
fn before_result(req: &Request) -> Result<Option<&'static str>, HttpError> {
    Ok(req.header("x-stop").map(|_| "stopped"))
}

#[after_request]
async fn after(resp: Response) -> Response {
    resp
}

#[after_request]
fn after_with_request(req: &Request, resp: Response) -> Result<Response, HttpError> {
    let _ = req;
    Ok(resp)
}

#[teardown_request]
fn teardown() {}

#[teardown_request]
async fn teardown_err(err: Option<&HttpError>, req: &Request) {
    let _ = (err, req);
}

#[teardown_request]
fn teardown_result(_err: Option<&HttpError>) -> Result<(), std::io::Error> {
    Ok(())
}

#[errorhandler(404)]
async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "nope")
}

#[errorhandler(500)]
fn internal(err: &HttpError, req: &Request) -> String {
    format!("{err} at {}", req.path())
}

#[errorhandler(AppError)]
async fn app_error(err: &AppError) -> (u16, String) {
    (412, err.to_string())
}

#[errorhandler(std::io::Error)]
fn io_error(err: &std::io::Error) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response()
}

#[before_serving]
fn before_serving_unit() {}

#[before_serving]
async fn before_serving_result(State(_c): State<Config>) -> Result<(), std::io::Error> {
    Ok(())
}

#[after_serving]
fn after_serving_result(State(_c): State<Config>, missing: Option<State<u8>>) -> Result<(), HttpError> {
    assert!(missing.is_none());
    Ok(())
}

#[after_serving]
async fn after_serving_unit() {}

#[get("/links")]
fn links() -> String {
    let key = String::from("67e55044-10b1-426f-9247-bb680e5fe0c8");
    let user = url_for!(user, id = 7_u8, name = "a b", score = 1.5, key = key, rest = "x/y");
    [user, url_for!(nested::nested), url_for!(index, _external = true, _anchor = "top")].join(" ")
}

#[template_filter]
fn shout(value: String) -> String {
    value.to_uppercase()
}

#[template_global("answer")]
fn forty_two() -> u32 {
    42
}

mod nested {
    use erlen::prelude::*;

    #[get("/nested")]
    pub async fn nested() -> &'static str {
        "nested"
    }
}

fn main() {
    let bp = Blueprint::new("bp").url_prefix("/bp").register(handlers![nested::nested, before_unit]);
    let client = App::new()
        .state(Config)
        .register(handlers![
            index, user, json, form, patch_it, delete_it, nothing, maybe, redirect, before_unit, before_option,
            before_result, after, after_with_request, teardown, teardown_err, teardown_result, not_found, internal,
            app_error, io_error, links, shout, forty_two, before_serving_unit, before_serving_result,
            after_serving_result, after_serving_unit,
        ])
        .register_blueprint(bp)
        .test_client();
    assert_eq!(client.post("/home").send().text(), "POST");
    assert_eq!(client.delete("/delete").send().status(), 412);
    assert_eq!(client.get("/bp/nested").send().text(), "nested");
    assert_eq!(
        client.get("/links").send().text(),
        "/users/7/a%20b/1.5/67e55044-10b1-426f-9247-bb680e5fe0c8/x/y /bp/nested http://localhost/#top"
    );
    // The user's functions stay ordinary, callable functions.
    assert_eq!(erlen::block_on(not_found()).1, "nope");
    assert_eq!(form_free(), 2);
    nothing();
}

fn form_free() -> usize {
    let (_, body) = erlen::block_on(app_error(&AppError));
    body.len() - 7
}
