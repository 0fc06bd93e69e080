//! CSRF protection (`App::csrf_protect`), Flask-WTF's `CSRFProtect`: the token from a form
//! field, a header and a multipart field; every reason a request fails, through the error
//! handlers; exempt routes and blueprints; WebSocket origins; tokens in a server-side
//! session; a rate limit beside it; and a form round trip over real sockets on both
//! backends. The referrer rule over HTTPS is in `tests/tls`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use erlen::csrf::{CsrfConfig, CsrfError};
use erlen::prelude::*;
use erlen::{Backend, Server};

#[route("/form", methods = ["GET", "POST", "PUT", "PATCH", "DELETE"])]
fn form(req: &Request) -> Result<Template, HttpError> {
    let _ = req;
    Ok(render_template("csrf_form.html", context! {}))
}

#[post("/save")]
async fn save() -> &'static str {
    "saved"
}

#[post("/webhook", csrf = false)]
fn webhook() -> &'static str {
    "received"
}

#[post("/upload")]
fn upload(form: Multipart) -> String {
    format!("{} fields", form.fields().len())
}

#[get("/token")]
fn token() -> Result<String, HttpError> {
    erlen::csrf::csrf_token()
}

#[websocket("/ws")]
async fn ws(mut socket: WebSocket) {
    let _ = socket.send_text("hello").await;
}

static HOOK_RUNS: AtomicUsize = AtomicUsize::new(0);

#[before_request]
fn count(req: &Request) {
    if req.path() == "/save" {
        HOOK_RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[post("/hook")]
fn api_hook() -> &'static str {
    "api"
}

#[post("/checked")]
fn checked() -> &'static str {
    "checked"
}

#[post("/login", rate_limit = "2/minute")]
fn login() -> &'static str {
    "welcome"
}

#[post("/ping", rate_limit = "2/minute", csrf = false)]
fn ping() -> &'static str {
    "pong"
}

fn templates() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/templates").to_string()
}

fn app_with(config: CsrfConfig) -> App {
    let api = Blueprint::new("api").url_prefix("/api").csrf_exempt().register(handlers![api_hook]);
    let admin = Blueprint::new("admin").url_prefix("/admin").register(handlers![checked]);
    App::new()
        .secret_key("test secret")
        .template_folder(templates())
        .csrf_protect_with(config)
        .register(handlers![form, save, webhook, upload, token, ws, count])
        .register_blueprint(api)
        .register_blueprint(admin)
}

fn app() -> App {
    app_with(CsrfConfig::default())
}

/// The token a page of the app wrote into its form's hidden field.
fn token_in_page(page: &str) -> String {
    let start = page.find("name=\"csrf_token\" value=\"").expect("the page has a token field") + 25;
    page[start..].split('"').next().unwrap().to_string()
}

fn reason(resp: &erlen::TestResponse) -> String {
    assert_eq!(resp.status(), 400, "{}", resp.text());
    let text = resp.text();
    let start = text.find("<p>").map_or(0, |i| i + 3);
    text[start..].split("</p>").next().unwrap_or_default().to_string()
}

#[test]
fn a_form_with_the_token_of_its_page_is_accepted() {
    let client = app().test_client();
    let page = client.get("/form").send();
    assert_eq!(page.status(), 200);
    let token = token_in_page(&page.text());
    assert!(client.cookie("session").is_some(), "the token's value is kept in the session");
    let sent = client.post("/form").form(&[("csrf_token", token.as_str()), ("title", "t")]).send();
    assert_eq!(sent.status(), 200, "{}", sent.text());
    // A page's token stays good for the next forms of the session.
    let again = client.post("/save").form(&[("csrf_token", token.as_str())]).send();
    assert_eq!(again.text(), "saved");
}

#[test]
fn every_unsafe_method_is_checked_and_the_safe_ones_are_not() {
    let client = app().test_client();
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let resp = client.request(method.clone(), "/form").send();
        assert_eq!(reason(&resp), "The CSRF token is missing.", "{method}");
    }
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        assert_eq!(client.request(method.clone(), "/form").send().status(), 200, "{method}");
    }
    let token = client.csrf_token();
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let resp = client.request(method.clone(), "/form").header("X-CSRFToken", &token).send();
        assert_eq!(resp.status(), 200, "{method}: {}", resp.text());
    }
}

#[test]
fn the_token_comes_from_either_header_or_the_form() {
    let client = app().test_client();
    let token = client.csrf_token();
    assert_eq!(client.post("/save").header("X-CSRFToken", &token).send().text(), "saved");
    assert_eq!(client.post("/save").header("X-CSRF-Token", &token).send().text(), "saved");
    assert_eq!(client.post("/save").form(&[("csrf_token", token.as_str())]).send().text(), "saved");
    // A JSON body carries it in the header; a form field of an empty value is no token.
    let json = client.post("/save").header("X-CSRFToken", &token).json(&serde_json::json!({"a": 1})).send();
    assert_eq!(json.text(), "saved");
    let empty = client.post("/save").form(&[("csrf_token", "")]).send();
    assert_eq!(reason(&empty), "The CSRF token is missing.");
    // A view can hand the token to a page's JavaScript.
    let from_view = client.get("/token").send().text();
    assert_eq!(client.post("/save").header("X-CSRFToken", &from_view).send().text(), "saved");
}

#[test]
fn a_forged_token_is_invalid() {
    let client = app().test_client();
    let token = client.csrf_token();
    let (payload, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{payload}.{flipped}{}", &signature[1..]);
    assert_eq!(
        reason(&client.post("/save").header("X-CSRFToken", &forged).send()),
        "The CSRF token is invalid."
    );
    for garbage in ["x", "a.b", "a.b.c", "....", "abc.123.!!"] {
        let resp = client.post("/save").header("X-CSRFToken", garbage).send();
        assert_eq!(reason(&resp), "The CSRF token is invalid.", "{garbage}");
    }
    // Signed with another app's key.
    let stranger = App::new().secret_key("another secret").csrf_protect().test_client();
    let theirs = stranger.csrf_token();
    client.session_transaction(|s| s.insert("csrf_token", theirs.split('.').next().unwrap()));
    assert_eq!(
        reason(&client.post("/save").header("X-CSRFToken", &theirs).send()),
        "The CSRF token is invalid."
    );
}

#[test]
fn another_sessions_token_does_not_match() {
    let app_client = app().test_client();
    let mine = app_client.csrf_token();
    let other = app().test_client();
    // Without a session value at all, then with one of its own.
    assert_eq!(
        reason(&other.post("/save").header("X-CSRFToken", &mine).send()),
        "The CSRF session token is missing."
    );
    other.csrf_token();
    assert_eq!(
        reason(&other.post("/save").header("X-CSRFToken", &mine).send()),
        "The CSRF tokens do not match."
    );
    // A logout (the session cleared) ends the tokens of the session.
    app_client.session_transaction(|s| s.clear());
    assert_eq!(
        reason(&app_client.post("/save").header("X-CSRFToken", &mine).send()),
        "The CSRF session token is missing."
    );
}

#[test]
fn tokens_are_tied_to_a_server_side_session_as_to_a_cookie_one() {
    let server_side = || app().session_store(erlen::SessionStore::Memory);
    let client = server_side().test_client();
    let token = token_in_page(&client.get("/form").send().text());
    let cookie = client.cookie("session").expect("the session's cookie");
    assert!(!cookie.contains(token.split('.').next().unwrap()), "the cookie holds an id, not the value");
    assert_eq!(client.post("/save").form(&[("csrf_token", token.as_str())]).send().text(), "saved");
    let other = server_side().test_client();
    other.csrf_token();
    assert_eq!(
        reason(&other.post("/save").header("X-CSRFToken", &token).send()),
        "The CSRF tokens do not match."
    );
    // A logout deletes the record: the old token has no session value to match any more.
    client.session_transaction(|s| s.clear());
    assert_eq!(
        reason(&client.post("/save").header("X-CSRFToken", &token).send()),
        "The CSRF session token is missing."
    );
}

#[test]
fn a_rate_limit_counts_the_requests_csrf_refuses_and_sits_beside_csrf_false() {
    let client = app().register(handlers![login, ping]).test_client();
    // Admission counts a request before the hooks check its token: guessing tokens is
    // limited as logging in is.
    let statuses: Vec<u16> = (0..3).map(|_| client.post("/login").send().status().as_u16()).collect();
    assert_eq!(statuses, [400, 400, 429]);
    let statuses: Vec<u16> = (0..3).map(|_| client.post("/ping").send().status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 429], "exempt, and limited");
}

#[test]
fn a_token_expires_after_its_time_limit() {
    let client = app_with(CsrfConfig::default().time_limit(Some(Duration::ZERO))).test_client();
    let token = client.csrf_token();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        reason(&client.post("/save").header("X-CSRFToken", &token).send()),
        "The CSRF token has expired."
    );
    let forever = app_with(CsrfConfig::default().time_limit(None)).test_client();
    let token = forever.csrf_token();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(forever.post("/save").header("X-CSRFToken", &token).send().text(), "saved");
}

#[test]
fn exempt_routes_and_blueprints_are_not_checked() {
    let client = app().test_client();
    assert_eq!(client.post("/webhook").send().text(), "received");
    assert_eq!(client.post("/api/hook").send().text(), "api");
    assert_eq!(reason(&client.post("/admin/checked").send()), "The CSRF token is missing.");
    // Routing errors are left to routing, as Flask-WTF leaves them.
    assert_eq!(client.post("/nowhere").send().status(), 404);
    assert_eq!(client.post("/token").send().status(), 405);
}

#[test]
fn the_check_runs_before_the_apps_hooks() {
    let client = app().test_client();
    let before = HOOK_RUNS.load(Ordering::SeqCst);
    assert_eq!(client.post("/save").send().status(), 400);
    assert_eq!(HOOK_RUNS.load(Ordering::SeqCst), before, "a refused request reaches no hook");
}

#[errorhandler(CsrfError)]
fn csrf_failed(err: &CsrfError, req: &Request) -> (StatusCode, String) {
    (StatusCode::FORBIDDEN, format!("{} refused: {}", req.path(), err.reason()))
}

#[errorhandler(400)]
fn bad_request(err: &HttpError) -> (u16, String) {
    (400, format!("bad request: {}", err.message().unwrap_or_default()))
}

#[test]
fn failures_go_through_the_error_handlers_by_type_or_by_code() {
    let by_type = app().register(handlers![csrf_failed]).test_client();
    let resp = by_type.post("/save").send();
    assert_eq!(
        (resp.status().as_u16(), resp.text()),
        (403, "/save refused: The CSRF token is missing.".into())
    );
    let by_code = app().register(handlers![bad_request]).test_client();
    by_code.csrf_token();
    let resp = by_code.post("/save").header("X-CSRFToken", "x.1.y").send();
    assert_eq!(
        (resp.status().as_u16(), resp.text()),
        (400, "bad request: The CSRF token is invalid.".into())
    );
}

fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!("--X\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    body.push_str(
        "--X\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nfile\r\n--X--\r\n",
    );
    ("multipart/form-data; boundary=X".to_string(), body)
}

#[test]
fn a_multipart_forms_token_is_its_field() {
    let client = app().test_client();
    let token = client.csrf_token();
    let (kind, body) = multipart(&[("title", "t"), ("csrf_token", &token)]);
    let resp = client.post("/upload").header("content-type", &kind).body(body).send();
    assert_eq!(resp.text(), "2 fields");
    let (kind, body) = multipart(&[("title", "t")]);
    let resp = client.post("/upload").header("content-type", &kind).body(body.clone()).send();
    assert_eq!(reason(&resp), "The CSRF token is missing.");
    let (kind, wrong) = multipart(&[("csrf_token", "x.1.y")]);
    let resp = client.post("/upload").header("content-type", &kind).body(wrong).send();
    assert_eq!(reason(&resp), "The CSRF token is invalid.");
    // The header still works for a multipart form sent by a script.
    let resp =
        client.post("/upload").header("content-type", &kind).header("X-CSRFToken", &token).body(body).send();
    assert_eq!(resp.text(), "1 fields");
    // A view that does not take the form cannot see its field: its token must be a header.
    let resp = client.post("/save").header("content-type", &kind).body("--X--\r\n").send();
    assert_eq!(reason(&resp), "The CSRF token is missing.");
}

#[test]
fn a_websocket_upgrade_needs_an_origin_of_the_apps_own() {
    let client = app().test_client();
    let mut same =
        client.websocket("/ws").header("origin", "http://localhost").connect().expect("same origin");
    assert_eq!(same.receive(), Some(erlen::Message::text("hello")));
    let mut bare = client.websocket("/ws").connect().expect("a client that sends no Origin is no browser");
    assert_eq!(bare.receive(), Some(erlen::Message::text("hello")));
    let refused = client.websocket("/ws").header("origin", "https://evil.example").connect().err().unwrap();
    assert_eq!(reason(&refused), "The origin does not match the host.");
    let port = client.websocket("/ws").header("origin", "http://localhost:8080").connect().err().unwrap();
    assert_eq!(reason(&port), "The origin does not match the host.");
}

#[test]
fn an_app_without_a_secret_key_cannot_protect_itself() {
    let err = App::new().csrf_protect().try_test_client().expect_err("a build error");
    assert!(err.problems().iter().any(|p| p.contains("secret key")), "{err}");
}

/// Over real sockets: the page's token and the session cookie travel as a browser sends
/// them, on both backends.
fn round_trip(backend: Backend) {
    let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).unwrap();
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::new();
    erlen::block_on(async {
        let page = client.get(format!("{base}/form")).send().await.unwrap();
        let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let token = token_in_page(&page.text().await.unwrap());
        let post = |body: String| {
            client
                .post(format!("{base}/save"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", &cookie)
                .body(body)
                .send()
        };
        let ok = post(format!("csrf_token={token}")).await.unwrap();
        assert_eq!(ok.text().await.unwrap(), "saved", "{backend:?}");
        let refused = post("title=x".into()).await.unwrap();
        assert_eq!(refused.status(), 400, "{backend:?}");
        assert!(refused.text().await.unwrap().contains("The CSRF token is missing."), "{backend:?}");
    });
    server.shutdown();
}

#[test]
fn a_form_round_trip_over_sockets_on_the_async_backend() {
    round_trip(Backend::Async);
}

#[test]
fn a_form_round_trip_over_sockets_on_the_threaded_backend() {
    round_trip(Backend::Threaded { workers: 2 });
}

/// Behind a proxy that ends TLS (`trust_proxy`, `X-Forwarded-Proto: https`), the request is
/// an HTTPS one: its `Referer` must be of the app's origin, as the proxy forwards it.
#[test]
fn behind_a_trusted_proxy_that_ends_tls_the_referrer_rule_applies() {
    let server = Server::bind("127.0.0.1:0").trust_proxy(1).spawn(app()).unwrap();
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::new();
    let statuses = erlen::block_on(async {
        let forwarded = |req: reqwest::RequestBuilder| {
            req.header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "shop.example")
                .header("x-forwarded-for", "192.0.2.7")
        };
        let page = forwarded(client.get(format!("{base}/form"))).send().await.unwrap();
        let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let token = token_in_page(&page.text().await.unwrap());
        let mut seen = Vec::new();
        for referrer in [
            Some("https://shop.example/form"),
            None,
            Some("https://evil.example/"),
            Some("http://shop.example/form"),
        ] {
            let mut req = forwarded(client.post(format!("{base}/save")))
                .header("cookie", &cookie)
                .header("x-csrftoken", &token);
            if let Some(referrer) = referrer {
                req = req.header("referer", referrer);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            let reason = ["The referrer header is missing.", "The referrer does not match the host."]
                .into_iter()
                .find(|r| text.contains(r));
            seen.push((status, reason));
        }
        // Without the proxy's word the request is plain HTTP: no referrer needed.
        let direct = client
            .post(format!("{base}/save"))
            .header("cookie", &cookie)
            .header("x-csrftoken", &token)
            .send()
            .await
            .unwrap();
        seen.push((direct.status().as_u16(), None));
        seen
    });
    server.shutdown();
    assert_eq!(
        statuses,
        [
            (200, None),
            (400, Some("The referrer header is missing.")),
            (400, Some("The referrer does not match the host.")),
            (400, Some("The referrer does not match the host.")),
            (200, None),
        ]
    );
}
