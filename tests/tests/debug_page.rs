//! Debug mode's error page: an unhandled error or panic renders the error, its chain, the
//! backtrace and the request (secrets masked, everything escaped), and a template error
//! its template's lines; in-process and over a socket on both backends. Without debug
//! mode the plain 500 stays, and a debug server is refused on an address other than
//! loopback unless `ERLEN_DEBUG_ANY_HOST=1`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use erlen::prelude::*;

#[get("/panic")]
fn explode() -> &'static str {
    let items: Vec<u8> = Vec::new();
    if items.is_empty() {
        panic!("nothing to show <yet>");
    }
    "unreachable"
}

/// An error with a cause, to show the chain.
#[derive(Debug)]
struct Outer(std::io::Error);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("loading the <profile> failed")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[post("/fail")]
async fn fail() -> Result<&'static str, HttpError> {
    Err(Outer(std::io::Error::other("disk & cable unplugged")))?
}

#[get("/template")]
fn broken() -> Template {
    render_template("broken.html", context! { title => "x" })
}

#[get("/missing")]
fn missing() -> Result<&'static str, HttpError> {
    Err(abort(404))
}

fn templates() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("erlen-debug-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.html"),
        "<h1>{{ title }}</h1>\n<p>one</p>\n<p>two</p>\n<p>{{ title.upper( }}</p>\n<p>after</p>\n",
    )
    .unwrap();
    dir
}

fn app() -> App {
    App::new().template_folder(templates()).register(handlers![explode, fail, broken, missing])
}

#[test]
fn a_panic_shows_its_message_and_backtrace() {
    let client = app().debug(true).test_client();
    let page = client.get("/panic").send();
    assert_eq!(page.status(), 500);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let text = page.text();
    assert!(text.contains("A panic in <code>explode</code>"), "{text}");
    assert!(text.contains("panic: nothing to show &lt;yet&gt;"), "escaped: {text}");
    assert!(!text.contains("<yet>"), "nothing unescaped: {text}");
    assert!(text.contains("<h2>Backtrace</h2>"));
    assert!(text.contains("debug_page::explode"), "the view's frame is in the backtrace: {text}");
    assert!(text.contains("tests/debug_page.rs"), "with its file: {text}");
}

#[test]
fn an_error_shows_its_chain() {
    let client = app().debug(true).test_client();
    let text = client.post("/fail").send().text();
    assert!(text.contains("An unhandled error in <code>fail</code>"), "{text}");
    assert!(text.contains("loading the &lt;profile&gt; failed"), "{text}");
    assert!(text.contains("caused by</span> disk &amp; cable unplugged"), "{text}");
}

#[test]
fn a_template_error_shows_the_templates_lines() {
    let client = app().debug(true).test_client();
    let text = client.get("/template").send().text();
    assert!(text.contains("Template <code>broken.html</code>, line 4"), "{text}");
    assert!(
        text.contains("<span class=failing>    4  &lt;p&gt;{{ title.upper( }}&lt;/p&gt;</span>"),
        "{text}"
    );
    assert!(text.contains("    1  &lt;h1&gt;{{ title }}&lt;/h1&gt;"), "the lines before: {text}");
    assert!(text.contains("    5  &lt;p&gt;after&lt;/p&gt;"), "and after: {text}");
}

#[test]
fn the_request_is_shown_with_its_secrets_masked() {
    let client = app().debug(true).test_client();
    let text = client
        .post("/fail?q=%3Cscript%3E")
        .header("cookie", "session=s3cr3t-cookie; theme=dark")
        .header("authorization", "Bearer t0p-s3cr3t")
        .header("x-note", "<b>bold</b><script>x</script>")
        .form(&[("title", "<i>hi</i>"), ("password", "hunter2")])
        .send()
        .text();
    for secret in ["s3cr3t-cookie", "t0p-s3cr3t", "hunter2", "dark"] {
        assert!(!text.contains(secret), "`{secret}` is masked: {text}");
    }
    for shown in [
        "<tr><th>Method</th><td>POST</td></tr>",
        "session=••••••; theme=••••••",
        "Bearer ••••••",
        "<tr><th>x-note</th><td>&lt;b&gt;bold&lt;/b&gt;&lt;script&gt;x&lt;/script&gt;</td></tr>",
        "<tr><th>title</th><td>&lt;i&gt;hi&lt;/i&gt;</td></tr>",
        "<tr><th>password</th><td>••••••</td></tr>",
        "<tr><th>Query</th><td>q=%3Cscript%3E</td></tr>",
    ] {
        assert!(text.contains(shown), "`{shown}` in: {text}");
    }
    assert!(!text.contains("<script>"), "{text}");
}

#[test]
fn without_debug_the_plain_500_stays() {
    let client = app().debug(false).test_client();
    for path in ["/panic", "/template"] {
        let page = client.get(path).send();
        assert_eq!(page.status(), 500);
        let text = page.text();
        assert!(text.contains("<h1>Internal Server Error</h1>"), "{text}");
        assert!(
            !text.contains("Backtrace") && !text.contains("nothing to show") && !text.contains("broken.html")
        );
    }
}

#[test]
fn http_errors_and_the_apps_own_500_handler_keep_their_pages() {
    #[errorhandler(500)]
    fn oops(_: &HttpError) -> (u16, &'static str) {
        (500, "our own 500")
    }
    let client = app().debug(true).test_client();
    let not_found = client.get("/missing").send();
    assert_eq!(not_found.status(), 404);
    assert!(!not_found.text().contains("Backtrace"));
    let client = app().debug(true).register(handlers![oops]).test_client();
    assert_eq!(client.get("/panic").send().text(), "our own 500");
}

#[test]
fn the_page_is_served_over_sockets_on_both_backends() {
    for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app().debug(true)).unwrap();
        let base = format!("http://{}", server.addr());
        let (status, text) = erlen::block_on(async {
            let resp = reqwest::get(format!("{base}/panic")).await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        });
        assert_eq!(status, 500, "{backend:?}");
        assert!(text.contains("panic: nothing to show &lt;yet&gt;"), "{backend:?}: {text}");
        let form = erlen::block_on(async {
            let resp = reqwest::Client::new()
                .post(format!("{base}/fail"))
                .header("authorization", "Basic dXNlcjpwYXNz")
                .send()
                .await
                .unwrap();
            resp.text().await.unwrap()
        });
        assert!(form.contains("Basic ••••••") && !form.contains("dXNlcjpwYXNz"), "{backend:?}: {form}");
        let template = erlen::block_on(async {
            let resp = reqwest::get(format!("{base}/template")).await.unwrap();
            resp.text().await.unwrap()
        });
        assert!(template.contains("Template <code>broken.html</code>, line 4"), "{backend:?}: {template}");
        server.shutdown();
    }
}

#[test]
fn debug_mode_is_refused_beyond_loopback() {
    let err = Server::bind("0.0.0.0:0").spawn(app().debug(true)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    let message = err.to_string();
    assert!(
        message.contains("not a loopback address") && message.contains("ERLEN_DEBUG_ANY_HOST=1"),
        "{message}"
    );
    // Without debug mode, any address is served.
    drop(Server::bind("0.0.0.0:0").spawn(app()).unwrap());
}

#[test]
fn the_command_line_refuses_it_too_unless_any_host_is_set() {
    let refused = Command::new(env!("CARGO_BIN_EXE_cli_fixture"))
        .args(["run", "--debug", "--no-reload", "--host", "0.0.0.0", "--port", "0"])
        .env_remove("ERLEN_DEBUG_ANY_HOST")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("debug mode is refused on 0.0.0.0:"), "{stderr}");

    let mut allowed = Command::new(env!("CARGO_BIN_EXE_cli_fixture"))
        .args(["run", "--debug", "--no-reload", "--host", "0.0.0.0", "--port", "0"])
        .env("ERLEN_DEBUG_ANY_HOST", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(allowed.stderr.take().unwrap()).read_line(&mut banner).unwrap();
    let _ = allowed.kill();
    let _ = allowed.wait();
    assert!(banner.contains("Running on http://0.0.0.0:"), "{banner}");
}

/// The fixture serving on a free loopback port with `env`, and its address.
fn fixture_serving(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cli_fixture"));
    command.args(args).env_remove("ERLEN_DEBUG").stdout(Stdio::null()).stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut banner = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut banner).unwrap();
    let addr = banner.split("http://").nth(1).and_then(|a| a.split_whitespace().next());
    let Some(addr) = addr.map(str::to_string) else {
        let _ = child.kill();
        panic!("no address in the banner: {banner}");
    };
    (child, addr)
}

#[test]
fn erlen_debug_turns_it_on_for_the_command_line_and_app_run() {
    /// The fixture's arguments, its environment, and whether its page is the debug page.
    type Case = (&'static [&'static str], &'static [(&'static str, &'static str)], bool);
    let cases: [Case; 4] = [
        (&["run", "--no-reload", "--port", "0"], &[("ERLEN_DEBUG", "1")], true),
        (&["run", "--port", "0"], &[], false),
        (&[], &[("ERLEN_DEBUG", "1"), ("FIXTURE_APP_RUN", "1"), ("ERLEN_ADDR", "127.0.0.1:0")], true),
        (&[], &[("FIXTURE_APP_RUN", "1"), ("ERLEN_ADDR", "127.0.0.1:0")], false),
    ];
    for (args, env, debug) in cases {
        let (mut child, addr) = fixture_serving(args, env);
        let page = erlen::block_on(async {
            let resp = reqwest::get(format!("http://{addr}/panic")).await;
            resp.unwrap().text().await.unwrap()
        });
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(page.contains("<h2>Backtrace</h2>"), debug, "{args:?} {env:?}: {page}");
        assert_eq!(page.contains("panic: the fixture&#39;s &lt;panic&gt;"), debug, "{page}");
    }
}
