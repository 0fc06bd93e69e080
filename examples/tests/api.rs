//! The guide's first app, tested as `docs/first-app.md` shows.

use erlen_examples::api::{self, Message};

#[test]
fn echo_returns_the_json_it_was_sent() {
    let client = api::app("secret").test_client();
    let resp = client
        .post("/echo")
        .header("authorization", "Bearer secret")
        .json(&Message { text: "hi".to_string() })
        .send();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json::<Message>(), Message { text: "hi".to_string() });
}

#[test]
fn without_the_token_it_is_a_401() {
    let client = api::app("secret").test_client();
    assert_eq!(client.post("/echo").json(&Message { text: "hi".to_string() }).send().status(), 401);
    assert_eq!(client.get("/").send().status(), 200, "the index is public");
}

#[test]
fn an_unknown_path_is_a_json_404() {
    let client = api::app("secret").test_client();
    let resp = client.get("/nope").header("authorization", "Bearer secret").send();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<serde_json::Value>()["path"], "/nope");
}

#[test]
fn a_form_sent_to_the_json_route_is_a_415() {
    let client = api::app("secret").test_client();
    let resp = client
        .post("/echo")
        .header("authorization", "Bearer secret")
        .form(&Message { text: "hi".to_string() })
        .send();
    assert_eq!(resp.status(), 415);
}
