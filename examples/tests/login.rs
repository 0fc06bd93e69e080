//! The guide's login walk-through (`docs/sessions.md`), as a user would click through it.

use erlen_examples::login::app;

#[test]
fn login_required_pages_redirect_until_the_user_logs_in() {
    let client = app().test_client();
    let resp = client.get("/").send();
    assert_eq!((resp.status().as_u16(), resp.header("location")), (302, Some("/login")));

    // The app checks a CSRF token on every POST: the login page's form carries one, and
    // the test client makes one for its session as that page would.
    let refused = client.post("/login").form(&[("username", "ada"), ("password", "lovelace")]).send();
    assert_eq!(refused.status(), 400, "no token: {}", refused.text());
    assert!(client.get("/login").send().text().contains("name=csrf_token"));
    let token = client.csrf_token();

    let wrong = client
        .post("/login")
        .form(&[("username", "ada"), ("password", "nope"), ("csrf_token", &token)])
        .follow_redirects()
        .send();
    assert_eq!(wrong.request_path(), "/login");
    assert!(wrong.text().contains("Incorrect username or password."), "{}", wrong.text());
    assert!(!client.get("/login").send().text().contains("Incorrect"), "the message shows once");

    let ok = client
        .post("/login")
        .form(&[("username", "ada"), ("password", "lovelace"), ("csrf_token", &token)])
        .follow_redirects()
        .send();
    assert_eq!(ok.text(), "Hello, ada!");
    assert_eq!(client.get("/").send().text(), "Hello, ada!", "the session remembers");

    // The login cleared the session, and the token's value with it: a new page, a new one.
    client.post("/logout").header("X-CSRFToken", &client.csrf_token()).send();
    assert_eq!(client.get("/").send().status(), 302);
}
