//! The guide's login walk-through (`docs/sessions.md`), as a user would click through it.

use erlen_examples::login::app;

#[test]
fn login_required_pages_redirect_until_the_user_logs_in() {
    let client = app().test_client();
    let resp = client.get("/").send();
    assert_eq!((resp.status().as_u16(), resp.header("location")), (302, Some("/login")));

    let wrong =
        client.post("/login").form(&[("username", "ada"), ("password", "nope")]).follow_redirects().send();
    assert_eq!(wrong.request_path(), "/login");
    assert!(wrong.text().contains("Incorrect username or password."), "{}", wrong.text());
    assert!(!client.get("/login").send().text().contains("Incorrect"), "the message shows once");

    let ok = client
        .post("/login")
        .form(&[("username", "ada"), ("password", "lovelace")])
        .follow_redirects()
        .send();
    assert_eq!(ok.text(), "Hello, ada!");
    assert_eq!(client.get("/").send().text(), "Hello, ada!", "the session remembers");

    client.post("/logout").send();
    assert_eq!(client.get("/").send().status(), 302);
}
