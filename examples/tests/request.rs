//! The guide's tour of the request (`docs/request.md`) and of the test client
//! (`docs/first-app.md`).

use erlen_examples::request::{self, Login, Note};

#[test]
fn path_query_json_form_and_request() {
    let client = request::app(false).test_client();
    assert_eq!(client.get("/users/7").send().text(), "user 7");
    assert_eq!(client.get("/users/seven").send().status(), 404);
    assert_eq!(client.get("/search?q=rust&page=2").send().text(), "rust page 2");
    assert_eq!(client.get("/search").send().status(), 400, "q is required");

    let resp = client.put("/notes/3").json(&Note { title: "tea".to_string() }).send();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json::<serde_json::Value>(), serde_json::json!({ "id": 3, "title": "tea" }));

    let resp = client.post("/login").form(&Login { user: "ada".to_string() }).send();
    assert_eq!(resp.text(), "welcome, ada");

    let resp = client.get("/whoami?lang=en").header("x-user", "ada").header("user-agent", "curl").send();
    assert_eq!(resp.text(), r#"ada with curl, GET /whoami lang=Some("en")"#);
}

#[test]
fn the_wrong_content_type_is_a_415() {
    let client = request::app(false).test_client();
    let as_form = client.put("/notes/3").form(&Note { title: "tea".to_string() }).send();
    assert_eq!(as_form.status(), 415);
    let as_json = client.post("/login").json(&Login { user: "ada".to_string() }).send();
    assert_eq!(as_json.status(), 415);
}

#[test]
fn a_hook_that_answers_skips_the_view() {
    let client = request::app(true).test_client();
    let resp = client.get("/users/7").send();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.text(), "down for maintenance");
}
