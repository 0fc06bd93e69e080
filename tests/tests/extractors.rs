//! Handler parameters: path converters, extractors, state, request references; failures
//! are clear 4xx answers, never panics.

use bytes::Bytes;
use erlen::prelude::*;
use serde::{Deserialize, Serialize};

#[get("/int/<int:id>")]
fn int(id: i64) -> String {
    format!("int {id}")
}

#[get("/small/<int:n>")]
fn small(n: u8) -> String {
    format!("u8 {n}")
}

#[get("/float/<float:x>")]
fn float(x: f64) -> String {
    format!("float {x}")
}

#[get("/files/<path:rest>")]
async fn files(rest: String) -> String {
    format!("path {rest}")
}

#[get("/uuid/<uuid:id>")]
fn uuid(id: String) -> String {
    format!("uuid {id}")
}

#[get("/name/<name>")]
fn name(name: String) -> String {
    format!("name {name}")
}

#[get("/name/<int:id>")]
fn name_id(id: u32) -> String {
    format!("name id {id}")
}

#[derive(Deserialize, Serialize, Debug, PartialEq)]
struct Item {
    name: String,
    qty: u32,
}

#[post("/json")]
async fn json(Json(item): Json<Item>) -> Json<Item> {
    Json(Item { name: item.name.to_uppercase(), qty: item.qty * 2 })
}

#[derive(Deserialize)]
struct Search {
    q: String,
    page: Option<u32>,
}

#[get("/search")]
fn search(Query(s): Query<Search>) -> String {
    format!("{} {:?}", s.q, s.page)
}

#[post("/form")]
fn form(Form(item): Form<Item>) -> String {
    format!("{} x{}", item.name, item.qty)
}

#[post("/bytes")]
async fn raw(body: Bytes, req: &Request) -> String {
    format!("{} bytes, header {:?}", body.len(), req.header("x-a"))
}

#[derive(Clone)]
struct Counter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

#[get("/state")]
fn state(State(counter): State<Counter>) -> String {
    let n = counter.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    format!("count {n}")
}

#[derive(Clone)]
struct Missing;

#[get("/missing_state")]
fn missing_state(State(_m): State<Missing>) -> &'static str {
    "unreachable"
}

#[derive(Clone, Debug)]
struct User(String);

#[before_request]
fn load_user(req: &mut Request) {
    if let Some(name) = req.header("x-user").map(str::to_string) {
        req.extensions_mut().insert(User(name));
    }
}

#[get("/whoami")]
async fn whoami(req: &Request) -> Option<String> {
    req.extensions().get::<User>().map(|u| u.0.clone())
}

#[get("/users/<int:id>")]
fn user(id: i64) -> Result<Json<serde_json::Value>, HttpError> {
    if id == 0 {
        return Err(abort(404));
    }
    Ok(Json(serde_json::json!({ "id": id })))
}

#[get("/query")]
fn query(req: &Request) -> String {
    format!("{:?} {:?}", req.query("a"), req.query("missing"))
}

fn client() -> TestClient {
    App::new()
        .state(Counter(Default::default()))
        .register(handlers![
            int,
            small,
            float,
            files,
            uuid,
            name,
            name_id,
            json,
            search,
            form,
            raw,
            state,
            missing_state,
            load_user,
            whoami,
            user,
            query
        ])
        .test_client()
}

#[test]
fn converters_match_like_flask() {
    let c = client();
    assert_eq!(c.get("/int/42").send().text(), "int 42");
    assert_eq!(c.get("/int/x").send().status(), 404);
    assert_eq!(c.get("/int/-1").send().status(), 404);
    assert_eq!(c.get("/float/1.5").send().text(), "float 1.5");
    assert_eq!(c.get("/float/1").send().status(), 404);
    assert_eq!(c.get("/files/a/b/c.txt").send().text(), "path a/b/c.txt");
    assert_eq!(c.get("/uuid/67e55044-10b1-426f-9247-bb680e5fe0c8").send().status(), 200);
    assert_eq!(c.get("/uuid/not-a-uuid").send().status(), 404);
    assert_eq!(c.get("/name/bob").send().text(), "name bob");
    assert_eq!(c.get("/name/7").send().text(), "name id 7", "int wins over string");
    assert_eq!(c.get("/name/hello%20world").send().text(), "name hello world", "paths are percent-decoded");
}

#[test]
fn a_value_that_does_not_fit_the_type_is_a_404() {
    let c = client();
    assert_eq!(c.get("/small/255").send().text(), "u8 255");
    assert_eq!(c.get("/small/256").send().status(), 404);
}

#[test]
fn body_extractors_parse_and_reject_with_400() {
    let c = client();
    let resp = c.post("/json").json(&Item { name: "tea".into(), qty: 2 }).send();
    assert_eq!(resp.json::<Item>(), Item { name: "TEA".into(), qty: 4 });
    let bad = c.post("/json").header("content-type", "application/json").body("{not json").send();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().contains("invalid JSON body"), "{}", bad.text());
    let wrong_shape = c.post("/json").json(&serde_json::json!({"name": 1})).send();
    assert_eq!(wrong_shape.status(), 400);

    assert_eq!(c.post("/form").form(&Item { name: "cup".into(), qty: 3 }).send().text(), "cup x3");
    assert_eq!(c.post("/form").body("name=cup&qty=3").send().status(), 415);
    // Media types compare in any case and ignore parameters, for forms as for JSON.
    let shouted = c.post("/form").header("content-type", "Application/X-WWW-Form-Urlencoded; charset=utf-8");
    assert_eq!(shouted.body("name=cup&qty=3").send().text(), "cup x3");
    let lookalike = c.post("/form").header("content-type", "application/x-www-form-urlencodedx");
    assert_eq!(lookalike.body("name=cup&qty=3").send().status(), 415);
    assert_eq!(
        c.post("/bytes").header("x-a", "b").body(vec![0u8; 10]).send().text(),
        "10 bytes, header Some(\"b\")"
    );
}

#[test]
fn json_takes_json_content_types_only_as_flask_does() {
    let c = client();
    let body = r#"{"name": "tea", "qty": 1}"#;
    for content_type in
        ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
    {
        let resp = c.post("/json").header("content-type", content_type).body(body).send();
        assert_eq!(resp.status(), 200, "{content_type}: {}", resp.text());
    }
    let form = c.post("/json").header("content-type", "application/x-www-form-urlencoded").body(body).send();
    assert_eq!(form.status(), 415);
    assert!(form.text().contains("application/json"), "the page says what to send: {}", form.text());
    assert_eq!(c.post("/json").header("content-type", "text/plain").body(body).send().status(), 415);
    assert_eq!(c.post("/json").body(body).send().status(), 415, "no content type");
}

#[test]
fn query_extractors() {
    let c = client();
    assert_eq!(c.get("/search?q=rust&page=2").send().text(), "rust Some(2)");
    assert_eq!(c.get("/search?page=2").send().status(), 400);
    assert_eq!(c.get("/query?a=x%20y&a=2").send().text(), "Some(\"x y\") None");
}

#[test]
fn state_is_shared_and_missing_state_says_how_to_fix_it() {
    let c = client();
    assert_eq!(c.get("/state").send().text(), "count 1");
    assert_eq!(c.get("/state").send().text(), "count 2");
    assert_eq!(c.get("/missing_state").send().status(), 500);
}

#[test]
fn before_hooks_can_change_the_request() {
    let c = client();
    assert_eq!(c.get("/whoami").header("x-user", "ada").send().text(), "ada");
    assert_eq!(c.get("/whoami").send().status(), 404, "None is a 404");
}

#[test]
fn the_design_example_user_route() {
    let c = client();
    let resp = c.get("/users/7").send();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json::<serde_json::Value>(), serde_json::json!({"id": 7}));
    assert_eq!(c.get("/users/0").send().status(), 404);
}

#[test]
fn invalid_utf8_in_the_path_is_a_400() {
    assert_eq!(client().get("/name/%FF").send().status(), 400);
}

#[derive(serde::Deserialize)]
struct Filter {
    q: String,
}

#[derive(Clone)]
struct NeverAdded;

#[get("/optional_query")]
fn optional_query(query: Option<Query<Filter>>) -> String {
    query.map_or_else(|| "no query".to_string(), |Query(f)| f.q)
}

#[post("/optional_json")]
fn optional_json(body: Option<Json<serde_json::Value>>) -> String {
    body.map_or_else(|| "no body".to_string(), |Json(v)| v.to_string())
}

#[get("/optional_state")]
fn optional_state(state: Option<State<NeverAdded>>) -> &'static str {
    if state.is_some() { "state" } else { "none" }
}

#[test]
fn option_means_absent_not_failed() {
    let c = App::new().register(handlers![optional_query, optional_json, optional_state]).test_client();
    assert_eq!(c.get("/optional_query").send().text(), "no query");
    assert_eq!(c.get("/optional_query?q=rust").send().text(), "rust");
    assert_eq!(c.get("/optional_query?x=1").send().status(), 400, "a query that does not fit stays a 400");
    assert_eq!(c.post("/optional_json").send().text(), "no body");
    assert_eq!(c.post("/optional_json").json(&serde_json::json!({"a": 1})).send().text(), r#"{"a":1}"#);
    let malformed = c.post("/optional_json").header("content-type", "application/json").body("{oops").send();
    assert_eq!(malformed.status(), 400, "malformed JSON stays a 400");
    let missing = c.get("/optional_state").send();
    assert_eq!(missing.status(), 500, "a missing state stays a programming error");
    assert!(!missing.text().contains("NeverAdded"), "no type name reaches the client: {}", missing.text());
}

#[test]
fn internal_errors_show_the_plain_500_page() {
    let missing = client().get("/missing_state").send();
    assert_eq!(missing.status(), 500);
    assert!(!missing.text().contains("state of type"), "{}", missing.text());
    assert!(missing.text().contains("Internal Server Error"));
}
