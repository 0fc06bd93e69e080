//! flaskr's `test_auth.py`.

use rusqlite::OptionalExtension;

use super::conftest::{AuthActions, Fixture, csrf_post};

/// `test_register`.
#[test]
fn register() {
    let fixture = Fixture::new();
    let client = fixture.client();
    // Viewing the page renders without template errors.
    assert_eq!(client.get("/auth/register").send().status(), 200);

    // A successful registration redirects to the login page. (Werkzeug 2.1 and later
    // send the relative `Location` erlen sends; flaskr's older tests compared it with
    // `http://localhost/auth/login`.)
    let response = csrf_post(&client, "/auth/register").form(&[("username", "a"), ("password", "a")]).send();
    assert_eq!(response.header("location"), Some("/auth/login"));

    // The user was inserted into the database.
    let user: Option<i64> = fixture
        .db()
        .query_row("select id from user where username = 'a'", [], |row| row.get(0))
        .optional()
        .unwrap();
    assert!(user.is_some());
}

/// `test_register_validate_input`, one case: posts the form and looks for `message`.
fn register_validate_input(username: &str, password: &str, message: &str) {
    let fixture = Fixture::new();
    let client = fixture.client();
    let response =
        csrf_post(&client, "/auth/register").form(&[("username", username), ("password", password)]).send();
    assert!(response.text().contains(message), "{message:?} not in {}", response.text());
}

/// `test_register_validate_input["", "", "Username is required."]`.
#[test]
fn register_validate_input_username_required() {
    register_validate_input("", "", "Username is required.");
}

/// `test_register_validate_input["a", "", "Password is required."]`.
#[test]
fn register_validate_input_password_required() {
    register_validate_input("a", "", "Password is required.");
}

/// `test_register_validate_input["test", "test", "already registered"]`.
#[test]
fn register_validate_input_already_registered() {
    register_validate_input("test", "test", "already registered");
}

/// `test_login`.
#[test]
fn login() {
    let fixture = Fixture::new();
    let client = fixture.client();
    let auth = AuthActions::new(&client);
    // Viewing the page renders without template errors.
    assert_eq!(client.get("/auth/login").send().status(), 200);

    // A successful login redirects to the index page.
    let response = auth.login();
    assert_eq!(response.header("location"), Some("/"));

    // The login set the user id in the session, and the user is loaded from it: the
    // page shows `g.user['username']`.
    let page = client.get("/").send();
    assert_eq!(client.session_transaction(|session| session.get::<i64>("user_id")), Some(1));
    assert!(page.text().contains("<li><span>test</span>"), "g.user is test: {}", page.text());
}

/// `test_login_validate_input`, one case.
fn login_validate_input(username: &str, password: &str, message: &str) {
    let fixture = Fixture::new();
    let client = fixture.client();
    let response = AuthActions::new(&client).login_as(username, password);
    assert!(response.text().contains(message), "{message:?} not in {}", response.text());
}

/// `test_login_validate_input["a", "test", "Incorrect username."]`.
#[test]
fn login_validate_input_incorrect_username() {
    login_validate_input("a", "test", "Incorrect username.");
}

/// `test_login_validate_input["test", "a", "Incorrect password."]`.
#[test]
fn login_validate_input_incorrect_password() {
    login_validate_input("test", "a", "Incorrect password.");
}

/// `test_logout`.
#[test]
fn logout() {
    let fixture = Fixture::new();
    let client = fixture.client();
    let auth = AuthActions::new(&client);
    auth.login();
    auth.logout();
    assert!(!client.session_transaction(|session| session.contains("user_id")));
}

// Beyond flaskr's suite: what Flask does without being tested there.

/// A form without a field the view reads is a 400, as `request.form["password"]` is.
#[test]
fn a_form_without_a_needed_field_is_400() {
    let fixture = Fixture::new();
    let client = fixture.client();
    assert_eq!(csrf_post(&client, "/auth/register").form(&[("username", "a")]).send().status(), 400);
    assert_eq!(csrf_post(&client, "/auth/login").send().status(), 400, "no form at all");
    AuthActions::new(&client).login();
    assert_eq!(csrf_post(&client, "/create").form(&[("title", "t")]).send().status(), 400);
}

/// A new user can log in with the password they registered with, and only with it.
#[test]
fn a_registered_user_logs_in() {
    let fixture = Fixture::new();
    let client = fixture.client();
    csrf_post(&client, "/auth/register").form(&[("username", "ada"), ("password", "lovelace")]).send();
    let auth = AuthActions::new(&client);
    assert!(auth.login_as("ada", "babbage").text().contains("Incorrect password."));
    let page = csrf_post(&client, "/auth/login")
        .form(&[("username", "ada"), ("password", "lovelace")])
        .follow_redirects()
        .send();
    assert!(page.text().contains("<li><span>ada</span>"), "{}", page.text());
}

/// Password guessing is slowed down: twenty requests a minute from one address to the login
/// page, then a 429 that says when to come back; register has its own count.
#[test]
fn login_is_rate_limited() {
    let fixture = Fixture::new();
    // Counted per minute: start again, with a new app, if the minute turns in the middle.
    for _ in 0..2 {
        let client = fixture.client();
        let auth = AuthActions::new(&client);
        let minute = now_secs() / 60;
        let statuses: Vec<u16> = (0..21).map(|_| auth.login_as("test", "guess").status().as_u16()).collect();
        if now_secs() / 60 != minute {
            continue;
        }
        assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
        assert_eq!(statuses[20], 429);
        let refused = auth.login_as("test", "test");
        assert_eq!(refused.status(), 429, "the right password too, until the minute ends");
        assert!(refused.header("retry-after").is_some());
        assert_eq!(client.get("/auth/register").send().status(), 200, "register has its own count");
        return;
    }
    panic!("the minute turned twice");
}

/// Logging in gives the browser a new session id (as a server-side store shows), so a
/// session planted before the login is not the logged-in one.
#[test]
fn login_regenerates_the_session() {
    let fixture = Fixture::new();
    let client = fixture.app().session_store(erlen::SessionStore::Memory).test_client();
    client.session_transaction(|s| s.insert("planted", true));
    let before = client.cookie("session");
    AuthActions::new(&client).login();
    assert_ne!(client.cookie("session"), before, "a new id");
    assert!(client.session_transaction(|s| s.contains("user_id")));
    assert!(!client.session_transaction(|s| s.contains("planted")), "login clears what was there");
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// flaskr on erlen protects its forms against CSRF: a POST without the token its page
/// gave is refused before the view, and the page's token is accepted.
#[test]
fn a_post_without_the_forms_token_is_refused() {
    let fixture = Fixture::new();
    let client = fixture.client();
    let refused = client.post("/auth/login").form(&[("username", "test"), ("password", "test")]).send();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().contains("The CSRF token is missing."), "{}", refused.text());
    let page = client.get("/auth/login").send().text();
    let needle = r#"name="csrf_token" value=""#;
    let start = page.find(needle).expect("the login form carries the token") + needle.len();
    let token = page[start..].split('"').next().unwrap();
    let login = client
        .post("/auth/login")
        .form(&[("username", "test"), ("password", "test"), ("csrf_token", token)])
        .send();
    assert_eq!(login.header("location"), Some("/"));
}
