//! Pages: the request context, url_for!, templates, static files and streaming bodies,
//! in-process and over sockets on both backends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen_tests::{Http, Reply, Transport};
use http::Method;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

#[get("/")]
async fn index() -> String {
    url_for!(index)
}

#[get("/links")]
fn links(req: &Request) -> Result<String, HttpError> {
    Ok([
        url_for!(item, id = 3),
        url_for!(file, name = "a b/c?.txt"),
        url_for!(tree, rest = "dir one/two.css"),
        url_for!(index, _external = true, _anchor = "top"),
        req.url_for("shop.item", &[("id", "4")])?,
        req.url_for("static", &[("filename", "css/app.css")])?,
    ]
    .join(" "))
}

#[get("/bad_endpoint")]
fn bad_endpoint(req: &Request) -> Result<String, HttpError> {
    req.url_for("no_such_view", &[])
}

#[get("/bad_value")]
fn bad_value(req: &Request) -> Result<String, HttpError> {
    req.url_for("shop.item", &[("id", "seven")])
}

#[get("/files/<name>")]
fn file(name: String) -> String {
    name
}

#[get("/tree/<path:rest>")]
fn tree(rest: String) -> String {
    rest
}

#[get("/unregistered")]
fn unregistered() -> String {
    url_for!(not_in_the_app)
}

#[get("/nowhere")]
fn not_in_the_app() -> &'static str {
    "never registered"
}

#[post("/go")]
fn go() -> Redirect {
    redirect(url_for!(index))
}

mod shop {
    use erlen::prelude::*;

    #[get("/items/<int:id>")]
    pub async fn item(id: u32) -> String {
        // Relative to the current blueprint, as Flask's `.item`.
        format!("{id} {}", url_for!(item, id = id + 1))
    }

    #[before_request]
    pub fn shop_hook(req: &mut Request) {
        let here = url_for!(super::index);
        req.extensions_mut().insert(here);
    }
}
use shop::item;

#[get("/page")]
fn page() -> Template {
    render_template("page.html", context! { title => "hello", body => "<b>bold</b>" })
}

#[get("/page_async")]
async fn page_async() -> Template {
    tokio::task::yield_now().await;
    render_template("page.html", context! { title => "async", body => "x" })
}

#[route("/form", methods = ["GET", "POST"])]
fn form_page() -> Template {
    render_template("form.html", context! {})
}

#[get("/xml")]
fn xml() -> Template {
    render_template("notes.xml", context! { text => "a < b" })
}

#[get("/broken")]
fn broken() -> Template {
    render_template("broken.html", context! {})
}

#[get("/missing")]
async fn missing() -> Template {
    render_template("no_such_template.html", context! {})
}

#[template_filter]
fn shout(value: String) -> String {
    value.to_uppercase() + "!"
}

#[template_global("answer")]
fn forty_two() -> u32 {
    42
}

#[get("/download")]
fn download() -> SendFile {
    send_file(fixtures().join("static/digits.txt")).as_attachment("digits.txt")
}

#[get("/count")]
fn count() -> Body {
    Body::from_iter((1..=5).map(|n| format!("line {n}\n")))
}

#[get("/ticks")]
async fn ticks() -> Body {
    Body::from_stream(futures::stream::iter(["a", "b", "c"]))
}

#[get("/shouted")]
fn shouted() -> Body {
    Body::from_iter(["quiet ", "words"])
}

#[after_request]
fn wrap_shouted(req: &Request, resp: Response) -> Response {
    if req.path() != "/shouted" {
        return resp;
    }
    use futures::TryStreamExt;
    resp.map(|body| {
        Body::from_stream(body.into_data_stream().map_ok(|chunk| Bytes::from(chunk.to_ascii_uppercase())))
    })
}

fn app() -> App {
    App::new()
        .template_folder(fixtures().join("templates"))
        .static_folder(fixtures().join("static"))
        .register(handlers![
            index,
            links,
            bad_endpoint,
            bad_value,
            file,
            tree,
            unregistered,
            go,
            page,
            page_async,
            xml,
            form_page,
            broken,
            missing,
            shout,
            forty_two,
            download,
            count,
            ticks,
            shouted,
            wrap_shouted,
        ])
        .register_blueprint(
            Blueprint::new("shop").url_prefix("/shop").register(handlers![shop::item, shop::shop_hook]),
        )
}

fn transports() -> Vec<(&'static str, Box<dyn Transport>)> {
    vec![
        ("test client", Box::new(app().test_client())),
        ("async backend", Box::new(Http::start(app(), Backend::Async))),
        ("threaded backend", Box::new(Http::start(app(), Backend::Threaded { workers: 4 }))),
    ]
}

fn get(t: &dyn Transport, path: &str, headers: &[(&str, &str)]) -> Reply {
    t.send(Method::GET, path, headers, Vec::new())
}

#[test]
fn url_for_builds_encoded_paths_with_blueprint_prefixes() {
    for (name, t) in transports() {
        let t = &*t;
        assert_eq!(get(t, "/", &[]).text(), "/", "{name}");
        let links = get(t, "/links", &[("host", "example.test:8080")]);
        assert_eq!(
            links.text(),
            "/shop/items/3 /files/a%20b%2Fc%3F.txt /tree/dir%20one/two.css http://example.test:8080/#top /shop/items/4 /static/css/app.css",
            "{name}"
        );
        assert_eq!(get(t, "/shop/items/3", &[]).text(), "3 /shop/items/4", "{name}");
        // The encoded URLs route back to their views.
        assert_eq!(
            get(t, "/files/a%20b%2Fc%3F.txt", &[]).status,
            404,
            "{name}: a slash in <name> is not a match"
        );
        assert_eq!(get(t, "/tree/dir%20one/two.css", &[]).text(), "dir one/two.css", "{name}");
        let redirect = t.send(Method::POST, "/go", &[], Vec::new());
        assert_eq!((redirect.status, redirect.header("location")), (302, Some("/")), "{name}");
    }
}

#[test]
fn url_for_mistakes_at_run_time_are_logged_500s_that_leak_nothing() {
    for (name, t) in transports() {
        for path in ["/bad_endpoint", "/bad_value", "/unregistered"] {
            let reply = get(&*t, path, &[]);
            assert_eq!(reply.status, 500, "{name} {path}");
            for secret in ["no_such_view", "seven", "not_in_the_app", "url_for"] {
                assert!(!reply.text().contains(secret), "{name} {path} leaked {secret}: {}", reply.text());
            }
        }
    }
}

#[test]
fn url_for_outside_a_request_panics_with_a_clear_message() {
    let panic = std::panic::catch_unwind(|| erlen::block_on(index())).unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("url_for! was used outside a request"), "{message}");
}

#[test]
fn templates_inherit_include_escape_and_see_the_request() {
    for (name, t) in transports() {
        let t = &*t;
        let reply = get(t, "/page?q=1&q=2", &[]);
        assert_eq!(reply.status, 200, "{name}");
        assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{name}");
        let html = reply.text();
        for expected in [
            "<title>HELLO! - pages</title>",
            r#"<link rel="stylesheet" href="/static/css/app.css">"#,
            r#"<a href="/">home</a> <a href="/shop/items/3?sort=new">item</a>"#,
            "<p>&lt;b&gt;bold&lt;/b&gt;</p>",
            "<p>GET /page q=1 endpoint=page</p>",
            "<p>42 X</p>",
        ] {
            assert!(html.contains(expected), "{name}: {expected:?} not in {html}");
        }
        assert!(get(t, "/page_async", &[]).text().contains("<title>ASYNC! - pages</title>"), "{name}");
        assert_eq!(get(t, "/xml", &[]).text().trim(), "<note>a &lt; b</note>", "{name}");
    }
}

#[test]
fn templates_see_the_posted_form_as_request_form() {
    let client = app().test_client();
    let posted = client.post("/form?q=1").form(&[("title", "<a&b>"), ("title", "second")]).send();
    assert_eq!(
        posted.text().trim(),
        r#"<input value="&lt;a&amp;b&gt;"> none q=1"#,
        "the first value, escaped"
    );
    let fetched = client.get("/form").send();
    assert_eq!(fetched.text().trim(), r#"<input value=""> none q="#, "a GET has an empty form");
    let json = client.post("/form").json(&serde_json::json!({ "title": "x" })).send();
    assert_eq!(json.text().trim(), r#"<input value=""> none q="#, "a JSON body is not a form");
}

#[test]
fn broken_and_missing_templates_are_logged_500s() {
    erlen_tests::logs();
    for (name, t) in transports() {
        for (path, template) in [("/broken", "broken.html"), ("/missing", "no_such_template.html")] {
            let reply = get(&*t, path, &[]);
            assert_eq!(reply.status, 500, "{name} {path}");
            assert!(reply.text().contains("Internal Server Error"), "{name}: the plain 500 page");
            assert!(!reply.text().contains(template), "{name}: the client sees no template name");
        }
    }
    let logged = String::from_utf8_lossy(&erlen_tests::logs().lock().unwrap()).into_owned();
    assert!(
        logged.contains("template=\"broken.html\" line=2"),
        "the log names the template and line: {logged}"
    );
    assert!(logged.contains("syntax error"), "{logged}");
    assert!(logged.contains("template=\"no_such_template.html\""), "{logged}");
    assert!(logged.contains("a template was not found"), "{logged}");
}

#[test]
fn static_files_are_typed_validated_and_ranged() {
    for (name, t) in transports() {
        let t = &*t;
        let css = get(t, "/static/css/app.css", &[]);
        assert_eq!(css.status, 200, "{name}");
        assert_eq!(css.text(), "body { color: teal; }\n", "{name}");
        assert_eq!(css.header("content-type"), Some("text/css"), "{name}");
        let etag = css.header("etag").expect("an ETag").to_string();
        let modified = css.header("last-modified").expect("a Last-Modified").to_string();

        let cached = get(t, "/static/css/app.css", &[("if-none-match", &etag)]);
        assert_eq!((cached.status, cached.body.len()), (304, 0), "{name}");
        let cached = get(t, "/static/css/app.css", &[("if-modified-since", &modified)]);
        assert_eq!(cached.status, 304, "{name}");
        let stale = get(t, "/static/css/app.css", &[("if-none-match", "\"other\"")]);
        assert_eq!(stale.status, 200, "{name}");

        let part = get(t, "/static/digits.txt", &[("range", "bytes=2-5")]);
        assert_eq!((part.status, part.text().as_str()), (206, "2345"), "{name}");
        assert_eq!(part.header("content-range"), Some("bytes 2-5/10"), "{name}");
        let tail = get(t, "/static/digits.txt", &[("range", "bytes=-3")]);
        assert_eq!(tail.text(), "789", "{name}");
        let beyond = get(t, "/static/digits.txt", &[("range", "bytes=50-")]);
        assert_eq!(beyond.status, 416, "{name}");
        assert_eq!(beyond.header("content-range"), Some("bytes */10"), "{name}");
        let changed = get(t, "/static/digits.txt", &[("range", "bytes=0-1"), ("if-range", "\"old\"")]);
        assert_eq!((changed.status, changed.body.len()), (200, 10), "{name}: a stale If-Range gets it all");

        let head = t.send(Method::HEAD, "/static/digits.txt", &[], Vec::new());
        assert_eq!((head.status, head.body.len()), (200, 0), "{name}");
        assert_eq!(head.header("content-length"), Some("10"), "{name}");

        let download = get(t, "/download", &[]);
        assert_eq!(download.text(), "0123456789", "{name}");
        assert!(
            download.header("content-disposition").is_some_and(|v| v.starts_with("attachment")),
            "{name}"
        );
    }
}

/// Paths that try to leave the static folder: each must be a 404.
const HOSTILE: &[&str] = &[
    "/static/../Cargo.toml",
    "/static/..%2fCargo.toml",
    "/static/%2e%2e/Cargo.toml",
    "/static/%2e%2e%2fCargo.toml",
    "/static/css/../../Cargo.toml",
    "/static/css/%2e%2e/%2e%2e/Cargo.toml",
    "/static/%2fetc%2fpasswd",
    "/static//etc/passwd",
    "/static/..%5cCargo.toml",
    "/static/%5c..%5c..%5cCargo.toml",
    "/static/css%00/app.css",
    "/static/%00",
    "/static/.",
    "/static/css/.",
    "/static/css//app.css",
    "/static/css",
    "/static/%252e%252e/Cargo.toml",
    "/static/C:%5cWindows",
];

#[test]
fn traversal_never_leaves_the_static_folder() {
    for (name, t) in transports() {
        for path in HOSTILE {
            let reply = get(&*t, path, &[]);
            assert!(reply.status == 404 || reply.status == 400, "{name} {path}: {}", reply.status);
            assert!(!reply.text().contains("[package]"), "{name} {path} served a file outside the folder");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever the path, the static view serves a file under the folder or nothing.
    #[test]
    fn random_paths_only_ever_serve_files_under_the_folder(path in "[a-z./%\\\\:\\x00-\\x1f 25ecf]{0,24}") {
        let client = static_client();
        let encoded: String = path
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"./%".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let resp = client.get(&format!("/static/{encoded}")).send();
        if resp.status() == 200 {
            let served = resp.bytes().clone();
            let inside = [&b"body { color: teal; }\n"[..], b"0123456789"];
            proptest::prop_assert!(inside.contains(&&served[..]), "{path:?} served {served:?}");
        }
    }
}

fn static_client() -> &'static TestClient {
    static CLIENT: OnceLock<TestClient> = OnceLock::new();
    CLIENT.get_or_init(|| app().test_client())
}

#[test]
fn streamed_bodies_arrive_whole_and_after_hooks_can_wrap_them() {
    for (name, t) in transports() {
        let t = &*t;
        let count = get(t, "/count", &[]);
        assert_eq!(count.text(), "line 1\nline 2\nline 3\nline 4\nline 5\n", "{name}");
        assert_eq!(get(t, "/ticks", &[]).text(), "abc", "{name}");
        assert_eq!(get(t, "/shouted", &[]).text(), "QUIET WORDS", "{name}");
        let head = t.send(Method::HEAD, "/count", &[], Vec::new());
        assert_eq!((head.status, head.body.len()), (200, 0), "{name}");
    }
}

#[test]
fn streams_are_chunked_over_http1() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let server = Http::start(app(), backend);
        let raw = raw_get(&server, "/count");
        assert!(raw.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{backend:?}: {raw}");
        assert!(raw.contains("line 5"), "{backend:?}: {raw}");
    }
}

fn raw_get(server: &Http, path: &str) -> String {
    let mut stream = TcpStream::connect(server.server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

/// Set when an endless stream or iterator is dropped, counting what it produced.
static STREAM_DROPPED: AtomicBool = AtomicBool::new(false);
static ITER_DROPPED: AtomicBool = AtomicBool::new(false);
static ITER_ITEMS: AtomicUsize = AtomicUsize::new(0);

struct SetOnDrop(&'static AtomicBool);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[get("/endless_stream")]
async fn endless_stream() -> Body {
    let guard = Arc::new(SetOnDrop(&STREAM_DROPPED));
    Body::from_stream(futures::stream::unfold(0u64, move |n| {
        let _keep = guard.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Some((format!("{n}\n"), n + 1))
        }
    }))
}

#[get("/endless_iter")]
fn endless_iter() -> Body {
    let guard = SetOnDrop(&ITER_DROPPED);
    Body::from_iter((0u64..).map(move |n| {
        let _keep = &guard;
        std::thread::sleep(Duration::from_millis(10));
        ITER_ITEMS.fetch_add(1, Ordering::SeqCst);
        format!("{n}\n")
    }))
}

fn wait_for(flag: &AtomicBool, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if flag.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn a_client_that_leaves_drops_the_stream() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let app = App::new().register(handlers![endless_stream, endless_iter]);
        let server = Http::start(app, backend);
        for (path, flag) in [("/endless_stream", &STREAM_DROPPED), ("/endless_iter", &ITER_DROPPED)] {
            flag.store(false, Ordering::SeqCst);
            let mut stream = TcpStream::connect(server.server.addr()).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(stream, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
            let mut buf = [0u8; 256];
            let n = stream.read(&mut buf).unwrap();
            assert!(
                n > 0 && String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
                "{backend:?} {path}"
            );
            drop(stream);
            assert!(
                wait_for(flag, Duration::from_secs(5)),
                "{backend:?} {path}: the stream outlived its client"
            );
        }
        // The iterator stopped: it produces nothing more once dropped.
        let produced = ITER_ITEMS.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(ITER_ITEMS.load(Ordering::SeqCst), produced, "{backend:?}");
    }
}

#[test]
fn the_test_client_reads_an_endless_stream_piece_by_piece() {
    let client = App::new().register(handlers![endless_stream]).test_client();
    let mut body = client.get("/endless_stream").send().into_stream();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.extend_from_slice(&body.next_blocking().expect("the stream goes on"));
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("0\n1\n"));
}

#[get("/live")]
fn live() -> Template {
    render_template("live.html", context! {})
}

fn template_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erlen-templates-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("live.html"), "first").unwrap();
    dir
}

#[test]
fn templates_are_parsed_once_and_reload_in_debug_mode() {
    let still = template_dir("still");
    let client = App::new().debug(false).template_folder(&still).register(handlers![live]).test_client();
    assert_eq!(client.get("/live").send().text(), "first");
    std::fs::write(still.join("live.html"), "second, not seen: parsed once").unwrap();
    assert_eq!(client.get("/live").send().text(), "first");

    let debug = template_dir("debug");
    let client = App::new().debug(true).template_folder(&debug).register(handlers![live]).test_client();
    assert_eq!(client.get("/live").send().text(), "first");
    // A new modification time: file systems may keep whole seconds.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(debug.join("live.html"), "second").unwrap();
    assert_eq!(client.get("/live").send().text(), "second");
    let _ = std::fs::remove_dir_all(still);
    let _ = std::fs::remove_dir_all(debug);
}

#[test]
fn streams_arrive_as_data_frames_over_h2() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let server = Http::start(app(), backend);
        let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
        let (version, text) = erlen::block_on(async {
            let resp = client.get(server.url("/count")).send().await.unwrap();
            (resp.version(), resp.text().await.unwrap())
        });
        assert_eq!(version, http::Version::HTTP_2, "{backend:?}");
        assert_eq!(text, "line 1\nline 2\nline 3\nline 4\nline 5\n", "{backend:?}");
    }
}

/// Flask's default folders: `templates/` and `static/` next to the app (the crate's
/// directory, as cargo gives it in `CARGO_MANIFEST_DIR`) are used without being named,
/// and an explicit setting or `without_*` overrides them. Run in a child process of this
/// test binary, whose `CARGO_MANIFEST_DIR` is a temporary crate folder.
#[test]
fn the_default_folders_are_used_when_they_exist() {
    let root = std::env::temp_dir().join(format!("erlen-default-folders-{}", std::process::id()));
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::create_dir_all(root.join("static")).unwrap();
    std::fs::write(root.join("templates/hello.html"), "<p>Hello {{ name }}</p>").unwrap();
    std::fs::write(root.join("static/app.css"), "body {}").unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "default_folders_in_a_crate", "--ignored", "--nocapture"])
        .env("CARGO_MANIFEST_DIR", &root)
        .env("ERLEN_DEFAULT_FOLDERS_CHILD", "1")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("1 passed"), "the child ran no test: {report}");
}

/// The child of [`the_default_folders_are_used_when_they_exist`]; run on its own (with
/// `--include-ignored`), outside the temporary crate folder, it has nothing to check.
#[test]
#[ignore = "run by the_default_folders_are_used_when_they_exist, in a temporary crate folder"]
fn default_folders_in_a_crate() {
    if std::env::var_os("ERLEN_DEFAULT_FOLDERS_CHILD").is_none() {
        return;
    }
    #[get("/hello")]
    fn hello() -> Template {
        render_template("hello.html", context! { name => "erlen" })
    }
    let client = App::new().register(handlers![hello]).test_client();
    assert_eq!(client.get("/hello").send().text(), "<p>Hello erlen</p>");
    assert_eq!(client.get("/static/app.css").send().text(), "body {}");

    let without = App::new().without_static_folder().without_template_folder().register(handlers![hello]);
    let client = without.test_client();
    assert_eq!(client.get("/static/app.css").send().status(), 404);
    assert_eq!(client.get("/hello").send().status(), 500);

    let elsewhere = std::env::temp_dir().join(format!("erlen-other-templates-{}", std::process::id()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("hello.html"), "<p>Other {{ name }}</p>").unwrap();
    let client = App::new().template_folder(&elsewhere).register(handlers![hello]).test_client();
    assert_eq!(client.get("/hello").send().text(), "<p>Other erlen</p>");
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

/// `context!` and `render_template` take any `Serialize` value as it is, as Flask's
/// `render_template(name, **values)` takes any object: a map with integer keys of the
/// app's own structs, with no wrapper.
#[test]
fn any_serializable_value_goes_in_a_template_context() {
    #[derive(serde::Serialize)]
    struct Note {
        title: String,
        done: bool,
    }
    #[get("/notes")]
    fn notes() -> Template {
        let notes = std::collections::BTreeMap::from([
            (1_i64, Note { title: "milk".into(), done: true }),
            (2, Note { title: "<eggs>".into(), done: false }),
        ]);
        render_template("notes.html", context! { notes, heading => "Notes" })
    }
    #[get("/struct")]
    fn page() -> Template {
        render_template("note.html", Note { title: "bread".into(), done: false })
    }
    let dir = std::env::temp_dir().join(format!("erlen-context-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("notes.html"),
        "{{ heading }}:{% for id, note in notes|items %} {{ id }}={{ note.title }}{% if note.done %}!{% endif %}{% endfor %}",
    )
    .unwrap();
    std::fs::write(dir.join("note.html"), "{{ title }} {{ done }}").unwrap();
    let client = App::new().template_folder(&dir).register(handlers![notes, page]).test_client();
    assert_eq!(client.get("/notes").send().text(), "Notes: 1=milk! 2=&lt;eggs&gt;");
    assert_eq!(client.get("/struct").send().text(), "bread False", "as Jinja2 prints a bool");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An error inside an error handler is a plain 500 (DESIGN's lifecycle, step 4), whatever
/// status the handler meant to set, and the handler's failure is logged with its name:
/// a 404 page whose own template is missing is not a 404 with a 500's body.
#[test]
fn an_error_handler_that_fails_is_a_logged_500() {
    #[errorhandler(404)]
    fn not_found_page(_e: &HttpError) -> (StatusCode, Template) {
        (StatusCode::NOT_FOUND, render_template("missing-404.html", context! {}))
    }
    #[errorhandler(403)]
    fn forbidden_page(_e: &HttpError) -> (u16, Json<serde_json::Value>) {
        (403, Json(serde_json::json!({ "error": "forbidden" })))
    }
    #[get("/secret")]
    fn secret() -> Result<&'static str, HttpError> {
        Err(abort(403))
    }
    let logs = erlen_tests::logs();
    let client = App::new()
        .template_folder(fixtures().join("templates"))
        .register(handlers![not_found_page, forbidden_page, secret])
        .test_client();
    let resp = client.get("/nowhere").send();
    assert_eq!(resp.status(), 500, "{}", resp.text());
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line = logged
        .lines()
        .find(|l| l.contains("an error handler failed"))
        .unwrap_or_else(|| panic!("not logged: {logged}"));
    assert!(line.contains("handler=\"not_found_page\"") || line.contains("handler=not_found_page"), "{line}");
    assert!(line.contains("missing-404.html"), "{line}");
    // A handler whose status and body are fine keeps its status.
    let resp = client.get("/secret").send();
    assert_eq!((resp.status().as_u16(), resp.text()), (403, r#"{"error":"forbidden"}"#.to_string()));
}

/// A streamed body runs inside its request's context, as Flask's `stream_with_context`:
/// `url_for!` (which needs the app and the request's host) works in a sync generator
/// (on another thread, after the view returned), an async stream and an event stream,
/// in-process and on both backends; `erlen::spawn` copies the context into a task.
mod streamed_in_context {
    use super::*;
    use futures::StreamExt;

    #[get("/gen/<int:n>")]
    pub fn generated(n: i64) -> Body {
        Body::from_iter((0..n).map(|i| format!("{};", url_for!(generated, n = i, _external = true))))
    }

    #[get("/stream/<int:n>")]
    pub async fn streamed(n: i64) -> Body {
        Body::from_stream(futures::stream::iter(0..n).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            format!("{};", url_for!(streamed, n = i))
        }))
    }

    #[get("/events")]
    pub fn events() -> Sse {
        Sse::new(
            futures::stream::iter(0..2).map(|i| Event::default().data(format!("{}#{i}", url_for!(events)))),
        )
    }

    #[get("/spawned")]
    pub async fn spawned() -> String {
        let task = erlen::spawn(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            url_for!(spawned, _external = true)
        });
        let blocking = erlen::spawn_blocking(|| url_for!(spawned));
        format!("{} {}", task.await.unwrap(), blocking.await.unwrap())
    }

    fn app() -> App {
        App::new().register(handlers![generated, streamed, events, spawned])
    }

    #[test]
    fn streamed_bodies_and_spawned_tasks_keep_the_request_context() {
        let transports: Vec<(&str, Box<dyn Transport>)> = vec![
            ("test client", Box::new(app().test_client())),
            ("async backend", Box::new(Http::start(app(), Backend::Async))),
            ("threaded backend", Box::new(Http::start(app(), Backend::Threaded { workers: 4 }))),
        ];
        for (name, t) in &transports {
            let host = [("host", "ctx.test")];
            let r = get(t.as_ref(), "/gen/2", &host);
            assert_eq!(r.text(), "http://ctx.test/gen/0;http://ctx.test/gen/1;", "{name}");
            assert_eq!(get(t.as_ref(), "/stream/2", &[]).text(), "/stream/0;/stream/1;", "{name}");
            let events = get(t.as_ref(), "/events", &[]).text();
            assert!(
                events.contains("data: /events#0") && events.contains("data: /events#1"),
                "{name}: {events}"
            );
            assert_eq!(
                get(t.as_ref(), "/spawned", &host).text(),
                "http://ctx.test/spawned /spawned",
                "{name}"
            );
        }
    }

    #[test]
    fn spawn_outside_a_request_says_so() {
        let panic = std::panic::catch_unwind(|| erlen::spawn(async {})).expect_err("a panic");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("erlen::spawn was used outside a request"), "{message}");
        assert!(message.contains("erlen::runtime::handle()"), "{message}");
    }
}
