//! flaskr over real sockets, on both backends: register, log in, write a post and see it
//! on the index, as a browser without JavaScript would (the session cookie is carried by
//! hand, and each form sends the CSRF token its page gave).

use erlen::{Backend, Server};

use super::conftest::Fixture;

/// A response's status, `Location`, session cookie (`name=value`) and body.
struct Reply {
    status: u16,
    location: Option<String>,
    cookie: Option<String>,
    text: String,
}

fn send(request: reqwest::RequestBuilder) -> Reply {
    erlen::block_on(async {
        let resp = request.send().await.expect("the server answers");
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let location = header("location");
        let cookie = header("set-cookie").and_then(|c| c.split(';').next().map(str::to_owned));
        Reply { status: resp.status().as_u16(), location, cookie, text: resp.text().await.expect("a body") }
    })
}

/// A urlencoded form body (the test's values need only spaces encoded).
fn form(request: reqwest::RequestBuilder, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", v.replace(' ', "+"))).collect();
    request.header("content-type", "application/x-www-form-urlencoded").body(body.join("&"))
}

/// The CSRF token a page's form carries.
fn token_in(page: &Reply) -> String {
    let needle = r#"name="csrf_token" value=""#;
    let start = page.text.find(needle).expect("the form carries a CSRF token") + needle.len();
    page.text[start..].split('"').next().unwrap().to_string()
}

/// A form page, with the session cookie when there is one: its token, and the cookie as
/// it is after the page (the token's value goes into the session).
fn open_form(client: &reqwest::Client, url: String, cookie: Option<&str>) -> (String, String) {
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let page = send(request);
    assert_eq!(page.status, 200);
    let cookie = page.cookie.clone().or(cookie.map(str::to_owned)).expect("the session cookie");
    (token_in(&page), cookie)
}

fn walk_through(backend: Backend) {
    let fixture = Fixture::new();
    let server = Server::bind("127.0.0.1:0").backend(backend).spawn(fixture.app()).unwrap();
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let (token, cookie) = open_form(&client, format!("{base}/auth/register"), None);
    let refused = send(form(
        client.post(format!("{base}/auth/register")).header("cookie", &cookie),
        &[("username", "ada"), ("password", "lovelace")],
    ));
    assert_eq!(refused.status, 400, "{backend:?}: a form without its token");
    let registered = send(form(
        client.post(format!("{base}/auth/register")).header("cookie", &cookie),
        &[("username", "ada"), ("password", "lovelace"), ("csrf_token", &token)],
    ));
    assert_eq!(
        (registered.status, registered.location.as_deref()),
        (302, Some("/auth/login")),
        "{backend:?}"
    );

    let (token, cookie) = open_form(&client, format!("{base}/auth/login"), Some(&cookie));
    let logged_in = send(form(
        client.post(format!("{base}/auth/login")).header("cookie", &cookie),
        &[("username", "ada"), ("password", "lovelace"), ("csrf_token", &token)],
    ));
    assert_eq!((logged_in.status, logged_in.location.as_deref()), (302, Some("/")), "{backend:?}");
    let cookie = logged_in.cookie.expect("the login sets the session cookie");

    let (token, cookie) = open_form(&client, format!("{base}/create"), Some(&cookie));
    let created = send(form(
        client.post(format!("{base}/create")).header("cookie", &cookie),
        &[("title", "Over a socket"), ("body", "served by erlen"), ("csrf_token", &token)],
    ));
    assert_eq!((created.status, created.location.as_deref()), (302, Some("/")), "{backend:?}");

    let index = send(client.get(format!("{base}/")).header("cookie", &cookie));
    assert_eq!(index.status, 200, "{backend:?}");
    for expected in
        ["<h1>Over a socket</h1>", "by ada on ", "served by erlen", "<li><span>ada</span>", "test title"]
    {
        assert!(index.text.contains(expected), "{backend:?}: {expected:?} not in {}", index.text);
    }
    let css = send(client.get(format!("{base}/static/style.css")));
    assert!(css.status == 200 && css.text.contains("#377ba8"), "{backend:?}");
    server.shutdown();
}

#[test]
fn register_login_create_and_index_on_the_async_backend() {
    walk_through(Backend::Async);
}

#[test]
fn register_login_create_and_index_on_the_threaded_backend() {
    walk_through(Backend::Threaded { workers: 4 });
}
