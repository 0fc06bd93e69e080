//! The README's quick start (`examples/quickstart.rs`, included as is) answers as shown.

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

#[test]
fn the_quick_start_answers() {
    let client = quickstart::app().test_client();
    let resp = client.get("/users/7").send();
    assert_eq!(resp.text(), r#"{"id":7}"#);
    assert_eq!(resp.header("x-powered-by"), Some("erlen"));
    assert_eq!(client.get("/users/0").send().status(), 404);
    assert_eq!(client.get("/").send().text(), "Hello from erlen");
}
