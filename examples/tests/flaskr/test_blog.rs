//! flaskr's `test_blog.py`.

use rusqlite::OptionalExtension;

use super::conftest::{AuthActions, Fixture, csrf_post};

/// `test_index`.
#[test]
fn index() {
    let fixture = Fixture::new();
    let client = fixture.client();
    let response = client.get("/").send();
    assert!(response.text().contains("Log In"));
    assert!(response.text().contains("Register"));

    AuthActions::new(&client).login();
    let text = client.get("/").send().text();
    assert!(text.contains("test title"), "{text}");
    assert!(text.contains("by test on 2018-01-01"), "{text}");
    assert!(text.contains("test\nbody"), "{text}");
    assert!(text.contains(r#"href="/1/update""#), "{text}");
}

/// `test_login_required`, one case: a POST without a user redirects to the login page.
fn login_required(path: &str) {
    let fixture = Fixture::new();
    let client = fixture.client();
    let response = csrf_post(&client, path).send();
    assert_eq!(response.header("location"), Some("/auth/login"), "{path}");
}

/// `test_login_required["/create"]`.
#[test]
fn login_required_create() {
    login_required("/create");
}

/// `test_login_required["/1/update"]`.
#[test]
fn login_required_update() {
    login_required("/1/update");
}

/// `test_login_required["/1/delete"]`.
#[test]
fn login_required_delete() {
    login_required("/1/delete");
}

/// `test_author_required`.
#[test]
fn author_required() {
    let fixture = Fixture::new();
    // Change the post's author to the other user.
    fixture.db().execute("UPDATE post SET author_id = 2 WHERE id = 1", []).unwrap();

    let client = fixture.client();
    AuthActions::new(&client).login();
    // The current user can't modify another user's post...
    assert_eq!(csrf_post(&client, "/1/update").send().status(), 403);
    assert_eq!(csrf_post(&client, "/1/delete").send().status(), 403);
    // ...and doesn't see the edit link.
    assert!(!client.get("/").send().text().contains(r#"href="/1/update""#));
}

/// `test_exists_required`, one case: a post that does not exist is a 404.
fn exists_required(path: &str) {
    let fixture = Fixture::new();
    let client = fixture.client();
    AuthActions::new(&client).login();
    assert_eq!(csrf_post(&client, path).send().status(), 404, "{path}");
}

/// `test_exists_required["/2/update"]`.
#[test]
fn exists_required_update() {
    exists_required("/2/update");
}

/// `test_exists_required["/2/delete"]`.
#[test]
fn exists_required_delete() {
    exists_required("/2/delete");
}

/// `test_create`.
#[test]
fn create() {
    let fixture = Fixture::new();
    let client = fixture.client();
    AuthActions::new(&client).login();
    assert_eq!(client.get("/create").send().status(), 200);
    csrf_post(&client, "/create").form(&[("title", "created"), ("body", "")]).send();

    let count: i64 = fixture.db().query_row("SELECT COUNT(id) FROM post", [], |row| row.get(0)).unwrap();
    assert_eq!(count, 2);
}

/// `test_update`.
#[test]
fn update() {
    let fixture = Fixture::new();
    let client = fixture.client();
    AuthActions::new(&client).login();
    assert_eq!(client.get("/1/update").send().status(), 200);
    csrf_post(&client, "/1/update").form(&[("title", "updated"), ("body", "")]).send();

    let title: String =
        fixture.db().query_row("SELECT title FROM post WHERE id = 1", [], |row| row.get(0)).unwrap();
    assert_eq!(title, "updated");
}

/// `test_create_update_validate`, one case: an empty title is flashed on the form.
fn create_update_validate(path: &str) {
    let fixture = Fixture::new();
    let client = fixture.client();
    AuthActions::new(&client).login();
    let response = csrf_post(&client, path).form(&[("title", ""), ("body", "")]).send();
    assert!(response.text().contains("Title is required."), "{path}: {}", response.text());
}

/// `test_create_update_validate["/create"]`.
#[test]
fn create_update_validate_create() {
    create_update_validate("/create");
}

/// `test_create_update_validate["/1/update"]`.
#[test]
fn create_update_validate_update() {
    create_update_validate("/1/update");
}

/// `test_delete`.
#[test]
fn delete() {
    let fixture = Fixture::new();
    let client = fixture.client();
    AuthActions::new(&client).login();
    let response = csrf_post(&client, "/1/delete").send();
    assert_eq!(response.header("location"), Some("/"));

    let post: Option<i64> =
        fixture.db().query_row("SELECT id FROM post WHERE id = 1", [], |row| row.get(0)).optional().unwrap();
    assert!(post.is_none());
}
