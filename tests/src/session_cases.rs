//! The session suite: every behaviour of the session, flash and cookies, run against each
//! session store (`tests/tests/sessions.rs` for the cookie and memory stores,
//! `tests/many` for Redis), in-process and over sockets on both backends.

use crate::Http;
use erlen::prelude::*;
use std::sync::Mutex;

#[post("/login/<name>")]
fn login(name: String, session: Session) -> Redirect {
    session.insert("user", name);
    flash(&session, "Welcome");
    flash_category(&session, "info", "You have 2 messages");
    redirect("/")
}

#[get("/")]
async fn index(session: Session) -> String {
    let user = session.get::<String>("user").unwrap_or_else(|| "nobody".to_string());
    let flashes: Vec<String> =
        get_flashed_messages(&session).into_iter().map(|(c, m)| format!("{c}:{m}")).collect();
    format!("{user} [{}]", flashes.join(", "))
}

#[get("/peek")]
fn peek(session: Session) -> String {
    session.get::<String>("user").unwrap_or_default()
}

#[get("/plain")]
fn plain() -> &'static str {
    "no session here"
}

#[post("/relogin/<name>")]
fn relogin(name: String, session: Session) -> &'static str {
    session.regenerate();
    session.insert("user", name);
    "ok"
}

#[post("/logout")]
async fn logout(session: Session) -> Redirect {
    session.clear();
    redirect("/")
}

#[post("/remember")]
fn remember(session: Session) -> &'static str {
    session.set_permanent(true);
    session.insert("remember", true);
    "ok"
}

#[get("/cookies")]
fn cookies(req: &Request) -> Response {
    let seen = format!("theme={:?}", req.cookie("theme"));
    let mut resp = seen.into_response();
    resp.set_cookie(
        Cookie::build(("theme", "dark")).path("/").max_age(erlen::cookie::time::Duration::hours(1)),
    );
    resp.set_cookie(Cookie::new("lang", "en"));
    resp.delete_cookie("old");
    resp
}

#[get("/flashes")]
fn flashes() -> Template {
    render_template("flashes.html", context! {})
}

/// The app of these cases, with its sessions kept in `store`.
pub fn app_with(store: &Store) -> App {
    let app = App::new()
        .secret_key("test secret")
        .template_folder(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/templates"))
        .register(handlers![login, relogin, index, peek, plain, logout, remember, cookies, flashes]);
    store(app)
}

/// How an app keeps its sessions: `|app| app.session_store(SessionStore::Memory)`.
pub type Store = dyn Fn(App) -> App + Send + Sync;

/// A minimal browser over a socket: it keeps the cookies of `Set-Cookie` headers.
pub struct Browser {
    http: Http,
    jar: Mutex<Vec<(String, String)>>,
}

impl Browser {
    pub fn new(app: App, backend: Backend) -> Browser {
        Browser { http: Http::start(app, backend), jar: Mutex::new(Vec::new()) }
    }

    /// The value of the cookie `name` in its jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// Puts a cookie in its jar, as another browser's (a second instance, a thief).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let mut jar = self.jar.lock().unwrap();
        jar.retain(|(k, _)| k != name);
        jar.push((name.to_string(), value.to_string()));
    }

    pub fn send(&self, method: http::Method, path: &str) -> (u16, http::HeaderMap, String) {
        let cookie =
            self.jar.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut req = self.http.client.request(method, self.http.url(path));
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        erlen::block_on(async {
            let resp = req.send().await.expect("the server answers");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            for value in headers.get_all("set-cookie") {
                let parsed = Cookie::parse(value.to_str().unwrap().to_string()).unwrap();
                let mut jar = self.jar.lock().unwrap();
                jar.retain(|(k, _)| k != parsed.name());
                if parsed.max_age() != Some(erlen::cookie::time::Duration::ZERO) {
                    jar.push((parsed.name().to_string(), parsed.value().to_string()));
                }
            }
            (status, headers, resp.text().await.unwrap())
        })
    }
}

pub fn the_session_and_flashes_work_over_sockets_on_both_backends(store: &Store) {
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let browser = Browser::new(app_with(store), backend);
        assert_eq!(browser.send(http::Method::GET, "/").2, "nobody []", "{backend:?}");
        let (status, headers, _) = browser.send(http::Method::POST, "/login/ada");
        assert_eq!(status, 302, "{backend:?}");
        let set = headers.get("set-cookie").unwrap().to_str().unwrap();
        assert!(set.starts_with("session=") && set.contains("HttpOnly") && set.contains("Path=/"), "{set}");
        assert_eq!(browser.send(http::Method::GET, "/").2, "ada [message:Welcome, info:You have 2 messages]");
        assert_eq!(browser.send(http::Method::GET, "/").2, "ada []", "{backend:?}: flashes show once");
        let (_, headers, body) = browser.send(http::Method::GET, "/peek");
        assert_eq!(body, "ada");
        assert!(headers.get("set-cookie").is_none(), "{backend:?}: an unmodified session sends no cookie");
        assert_eq!(headers.get("vary").map(|v| v.to_str().unwrap()), Some("Cookie"), "{backend:?}");
        let (_, headers, _) = browser.send(http::Method::GET, "/plain");
        assert!(headers.get("vary").is_none() && headers.get("set-cookie").is_none(), "{backend:?}");
        browser.send(http::Method::POST, "/logout");
        assert!(browser.jar.lock().unwrap().is_empty(), "{backend:?}: an emptied session deletes its cookie");
        assert_eq!(browser.send(http::Method::GET, "/peek").2, "", "{backend:?}");
    }
}

pub fn tampered_truncated_and_foreign_cookies_are_empty_sessions(store: &Store) {
    let client = app_with(store).test_client();
    client.post("/login/ada").send();
    let good = client.cookie("session").expect("a session cookie");
    let mut changed = good.clone().into_bytes();
    changed[4] = if changed[4] == b'x' { b'y' } else { b'x' };
    let foreign = {
        let other = store(App::new().secret_key("another secret").register(handlers![login])).test_client();
        other.post("/login/eve").send();
        other.cookie("session").unwrap()
    };
    for bad in
        [String::from_utf8(changed).unwrap(), good[..good.len() / 2].to_string(), foreign, "%%%".into()]
    {
        client.set_cookie(Cookie::new("session", bad.clone()));
        let resp = client.get("/peek").send();
        assert_eq!((resp.status().as_u16(), resp.text().as_str()), (200, ""), "{bad:?}");
    }
    client.set_cookie(Cookie::new("session", good));
    assert_eq!(client.get("/peek").send().text(), "ada");
}

pub fn rotated_keys_keep_old_sessions_valid(store: &Store) {
    let old = app_with(store).test_client();
    old.post("/login/ada").send();
    let cookie = old.cookie("session").unwrap();
    let rotated = store(
        App::new()
            .secret_key("a new secret")
            .secret_key_fallbacks(["test secret"])
            .register(handlers![login, index, peek]),
    )
    .test_client();
    rotated.set_cookie(Cookie::new("session", cookie.clone()));
    assert_eq!(rotated.get("/peek").send().text(), "ada");
    let forgotten = store(App::new().secret_key("a new secret").register(handlers![peek])).test_client();
    forgotten.set_cookie(Cookie::new("session", cookie));
    assert_eq!(forgotten.get("/peek").send().text(), "");
}

pub fn permanent_sessions_get_a_max_age(store: &Store) {
    let client = app_with(store).test_client();
    let resp = client.post("/remember").send();
    let set = resp.header("set-cookie").unwrap();
    assert!(set.contains("Max-Age=2678400"), "31 days, as Flask: {set}");
    let resp = client.post("/login/ada").send();
    assert!(resp.header("set-cookie").unwrap().contains("Max-Age"), "it stays permanent");
}

pub fn a_session_without_a_secret_key_is_a_logged_500(store: &Store) {
    crate::logs();
    if std::env::var_os("ERLEN_SECRET_KEY").is_some() {
        return; // the environment provides a key: nothing to test here
    }
    let client = store(App::new().register(handlers![peek, plain])).test_client();
    let resp = client.get("/peek").send();
    assert_eq!(resp.status(), 500);
    assert!(!resp.text().contains("secret"), "the client sees the plain 500 page");
    assert_eq!(client.get("/plain").send().text(), "no session here");
    let logged = String::from_utf8_lossy(&crate::logs().lock().unwrap()).into_owned();
    assert!(logged.contains("App::secret_key"), "the log says how to fix it: {logged}");
}

pub fn cookies_are_read_set_and_deleted(store: &Store) {
    let client = app_with(store).test_client();
    let resp = client.get("/cookies").send();
    assert_eq!(resp.text(), "theme=None");
    let set: Vec<&str> = resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(set.len(), 3, "one header per cookie: {set:?}");
    assert!(set[0].starts_with("theme=dark") && set[0].contains("Max-Age=3600"), "{set:?}");
    assert!(set[2].starts_with("old=;") && set[2].contains("Max-Age=0"), "{set:?}");
    assert_eq!(client.cookie("theme").as_deref(), Some("dark"));
    assert_eq!(client.get("/cookies").send().text(), "theme=Some(\"dark\")");
    client.delete_cookie("theme");
    assert_eq!(client.get("/cookies").send().text(), "theme=None");
    let fresh = app_with(store).test_client().without_cookies();
    fresh.get("/cookies").send();
    assert_eq!(fresh.get("/cookies").send().text(), "theme=None");
}

pub fn follow_redirects_goes_through_post_redirect_get(store: &Store) {
    let client = app_with(store).test_client();
    let resp = client.post("/login/ada").follow_redirects().send();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.request_path(), "/");
    assert_eq!(resp.text(), "ada [message:Welcome, info:You have 2 messages]");
    assert_eq!(resp.history().len(), 1);
    assert_eq!(resp.history()[0].status(), 302);
    assert_eq!(client.post("/logout").send().status(), 302, "not followed unless asked");
}

pub fn session_transaction_reads_and_changes_the_clients_session(store: &Store) {
    let client = app_with(store).test_client();
    client.session_transaction(|session| session.insert("user", "grace"));
    assert_eq!(client.get("/peek").send().text(), "grace");
    client.post("/login/ada").send();
    let user = client.session_transaction(|session| session.get::<String>("user"));
    assert_eq!(user.as_deref(), Some("ada"));
}

pub fn templates_see_flashes_once_per_request_and_the_session(store: &Store) {
    let client = app_with(store).test_client();
    client.post("/login/ada").send();
    assert_eq!(
        client.get("/flashes").send().text().trim(),
        "message=Welcome;info=You have 2 messages;|2|1|ada"
    );
    assert_eq!(client.get("/flashes").send().text().trim(), "|0|0|ada", "shown once");
}

/// A server-side store's point: after a logout, the old cookie (stolen, or kept by another
/// tab) is an empty session, wherever it is replayed.
pub fn a_logout_revokes_the_old_cookie(store: &Store) {
    let client = app_with(store).test_client();
    client.post("/login/ada").send();
    let stolen = client.cookie("session").expect("a session cookie");
    assert_eq!(client.get("/peek").send().text(), "ada");
    client.post("/logout").send();
    let thief = app_with(store).test_client();
    thief.set_cookie(Cookie::new("session", stolen.clone()));
    assert_eq!(thief.get("/peek").send().text(), "", "the record is gone");
    client.set_cookie(Cookie::new("session", stolen));
    assert_eq!(client.get("/peek").send().text(), "");
}

/// `regenerate` (at login, against session fixation): a new id, the values moved, the old
/// id worth nothing.
pub fn regenerate_moves_the_session(store: &Store) {
    let client = app_with(store).test_client();
    client.post("/login/ada").send();
    let before = client.cookie("session").expect("a session cookie");
    assert_eq!(client.post("/relogin/grace").send().text(), "ok");
    let after = client.cookie("session").expect("a session cookie");
    assert_ne!(before, after, "a new id");
    assert_eq!(client.get("/peek").send().text(), "grace");
    let old = app_with(store).test_client();
    old.set_cookie(Cookie::new("session", before));
    assert_eq!(old.get("/peek").send().text(), "", "the old id is worth nothing");
}
