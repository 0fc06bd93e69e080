//! Debug mode's error page: what the lifecycle answers, in debug mode, for an unhandled
//! error or panic that no error handler took, in place of the plain 500.
//!
//! The page shows the error and its chain of sources, the backtrace (where a panic was
//! raised, or where an error was converted, see `panics`), the request (method, path,
//! headers, form fields: cookie values, credentials and password-like fields masked) and,
//! for a template error, the template's name and its lines around the failing one. When
//! the reloader's last build failed, the page says so first, with the compiler's output.
//! Everything taken from the error, the request or a file is HTML-escaped.

use std::fmt::Write as _;
use std::path::PathBuf;

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};

use crate::error::{HttpError, escape_html};
use crate::request::Request;
use crate::response::{Response, html_response};

/// Debug mode, as a feature of the app: present in its features when it is on.
#[derive(Debug, Default)]
pub(crate) struct DebugMode {
    /// The reloader's build status (`ERLEN_RELOAD_STATUS`): when the file holds text, the
    /// last build failed and that is the compiler's output.
    build_status: Option<PathBuf>,
}

impl DebugMode {
    pub(crate) fn from_env() -> DebugMode {
        DebugMode { build_status: crate::env::reload_status_file() }
    }

    /// The compiler's output of the reloader's last build, when that build failed.
    fn failed_build(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.build_status.as_ref()?).ok()?;
        (!text.trim().is_empty()).then_some(text)
    }
}

/// What replaces a cookie's value, a credential or a password on the page.
const MASK: &str = "••••••";

/// The page for `error`, which ended the request `req` to `endpoint`.
pub(crate) fn page(mode: &DebugMode, error: &HttpError, req: &Request, endpoint: Option<&str>) -> Response {
    let mut html = String::with_capacity(16 * 1024);
    let what = if error.is_panic() { "A panic" } else { "An unhandled error" };
    let place = match endpoint {
        Some(endpoint) => format!("in <code>{}</code>", escape_html(endpoint)),
        None => "outside any view".to_string(),
    };
    let message = error.message().map(|m| m.into_owned()).unwrap_or_else(|| error.to_string());
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=en>\n<meta charset=utf-8>\n<title>{title} // erlen debug</title>\n<style>{STYLE}</style>\n\
         <h1>{what} {place}</h1>\n<p class=message>{message}</p>\n",
        title = escape_html(&first_line(&message)),
        message = escape_html(&message),
    );
    if let Some(output) = mode.failed_build() {
        let _ = write!(
            html,
            "<section class=build><h2>The last rebuild failed</h2>\n<p>This is the previous build of the app, still \
             serving. The compiler said:</p>\n<pre>{}</pre></section>\n",
            escape_html(&output)
        );
    }
    chain(&mut html, error);
    template(&mut html, error);
    backtrace(&mut html, error);
    request(&mut html, req);
    html.push_str(
        "<footer>erlen's debug mode shows the app's inside to whoever asks: never turn it on in production.</footer>\n",
    );
    let mut resp = html_response(html);
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    for (name, value) in error.headers() {
        resp.headers_mut().append(name, value.clone());
    }
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").chars().take(120).collect()
}

/// The error and the errors that caused it, outermost first.
fn chain(html: &mut String, error: &HttpError) {
    html.push_str("<h2>Error</h2>\n<ol class=chain>\n");
    let _ = writeln!(html, "<li>{}</li>", escape_html(&error.to_string()));
    let mut source = error.source().map(|s| s as &(dyn std::error::Error + 'static));
    while let Some(e) = source {
        let _ =
            writeln!(html, "<li><span class=caused>caused by</span> {}</li>", escape_html(&e.to_string()));
        source = e.source();
    }
    html.push_str("</ol>\n");
}

/// The failing template's lines around the error, when a template caused it.
fn template(html: &mut String, error: &HttpError) {
    let mut source = error.source().map(|s| s as &(dyn std::error::Error + 'static));
    let found = std::iter::from_fn(|| {
        let e = source?;
        source = e.source();
        Some(e)
    })
    .find_map(|e| e.downcast_ref::<minijinja::Error>());
    let Some(e) = found else { return };
    let name = e.name().unwrap_or("(unnamed)");
    let _ = write!(html, "<h2>Template <code>{}</code>", escape_html(name));
    if let Some(line) = e.line() {
        let _ = write!(html, ", line {line}");
    }
    html.push_str("</h2>\n");
    let _ = writeln!(html, "<p>{}</p>", escape_html(&format!("{}", e.kind())));
    let (Some(text), Some(line)) = (e.template_source(), e.line()) else { return };
    html.push_str("<pre class=source>");
    let first = line.saturating_sub(4).max(1);
    for (number, text) in text.lines().enumerate().map(|(i, l)| (i + 1, l)).skip(first - 1).take(7) {
        let class = if number == line { " class=failing" } else { "" };
        let _ = writeln!(html, "<span{class}>{number:>5}  {}</span>", escape_html(text));
    }
    html.push_str("</pre>\n");
}

/// The backtrace, the frames of the standard library, the runtime and erlen folded away.
fn backtrace(html: &mut String, error: &HttpError) {
    html.push_str("<h2>Backtrace</h2>\n");
    let Some(trace) = error.backtrace() else {
        html.push_str(
            "<p>No backtrace was captured for this error (debug mode captures one where a panic is raised \
             and where an error becomes an <code>HttpError</code>).</p>\n",
        );
        return;
    };
    let frames = frames(&trace.to_string());
    // The frames before the first of the app's own are the capture's machinery.
    let start = frames.iter().position(|f| !f.library).unwrap_or(0);
    html.push_str("<ol class=frames>\n");
    let mut folded: Vec<&Frame> = Vec::new();
    let flush = |html: &mut String, folded: &mut Vec<&Frame>| {
        if folded.is_empty() {
            return;
        }
        let _ = write!(
            html,
            "<li class=lib><details><summary>{} frames of libraries</summary><ol>",
            folded.len()
        );
        for frame in folded.drain(..) {
            let _ = write!(html, "<li>{}</li>", frame.html());
        }
        html.push_str("</ol></details></li>\n");
    };
    for frame in &frames[start..] {
        if frame.library {
            folded.push(frame);
        } else {
            flush(html, &mut folded);
            let _ = writeln!(html, "<li class=app>{}</li>", frame.html());
        }
    }
    flush(html, &mut folded);
    html.push_str("</ol>\n");
}

/// One frame of a backtrace, as `std::backtrace::Backtrace` prints it.
struct Frame {
    symbol: String,
    location: Option<String>,
    library: bool,
}

impl Frame {
    fn html(&self) -> String {
        match &self.location {
            Some(at) => format!(
                "<code>{}</code><br><span class=at>{}</span>",
                escape_html(&self.symbol),
                escape_html(at)
            ),
            None => format!("<code>{}</code>", escape_html(&self.symbol)),
        }
    }
}

/// The frames of a printed backtrace: `  N: symbol` lines, each followed by an optional
/// `at file:line:column` line.
fn frames(text: &str) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(at) = line.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut() {
                frame.location = Some(at.to_string());
            }
        } else if let Some((number, symbol)) = line.split_once(": ") {
            if number.chars().all(|c| c.is_ascii_digit()) {
                let library = is_library(symbol);
                frames.push(Frame { symbol: symbol.to_string(), location: None, library });
            }
        }
    }
    frames
}

/// Whether a frame belongs to the standard library, the async runtime or erlen (the glue
/// its macros generated included) rather than to the app.
fn is_library(symbol: &str) -> bool {
    const LIBRARIES: &[&str] = &[
        "std::",
        "core::",
        "alloc::",
        "erlen::",
        "tokio::",
        "futures",
        "hyper",
        "tower",
        "minijinja::",
        "__rust",
        "rust_begin_unwind",
        "__libc",
        "_start",
    ];
    const THREAD_START: &[&str] = &["main", "clone", "clone3", "start_thread", "<unknown>"];
    // `__erlen_call` is the glue the macros generated around the app's function.
    THREAD_START.contains(&symbol)
        || symbol.contains("::__erlen_call")
        || LIBRARIES.iter().any(|lib| symbol.trim_start_matches('<').starts_with(lib))
}

/// The request: method, path, query, headers and form fields, secrets masked.
fn request(html: &mut String, req: &Request) {
    html.push_str("<h2>Request</h2>\n<table>\n");
    row(html, "Method", req.method().as_str());
    row(html, "Path", req.path());
    if !req.query_string().is_empty() {
        row(html, "Query", req.query_string());
    }
    html.push_str("</table>\n<h3>Headers</h3>\n<table>\n");
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        row(html, name.as_str(), &masked_header(name.as_str(), &value));
    }
    html.push_str("</table>\n");
    let body = req.body();
    let content_type = req.header("content-type").unwrap_or("");
    if content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        html.push_str("<h3>Form</h3>\n<table>\n");
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        for (name, value) in &fields {
            let value = if is_secret_field(name) { MASK } else { value };
            row(html, name, value);
        }
        html.push_str("</table>\n");
    } else if !body.is_empty() {
        let _ = writeln!(
            html,
            "<h3>Body</h3>\n<p>{} bytes of <code>{}</code> (not shown)</p>",
            body.len(),
            escape_html(content_type)
        );
    }
}

fn row(html: &mut String, name: &str, value: &str) {
    let _ = writeln!(html, "<tr><th>{}</th><td>{}</td></tr>", escape_html(name), escape_html(value));
}

/// A header's value as the page shows it: a cookie's names without their values, a
/// credential's scheme without the credential.
fn masked_header(name: &str, value: &str) -> String {
    match name {
        "cookie" => value
            .split(';')
            .map(|pair| match pair.trim().split_once('=') {
                Some((name, _)) => format!("{name}={MASK}"),
                None => pair.trim().to_string(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        "authorization" | "proxy-authorization" => match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} {MASK}"),
            None => MASK.to_string(),
        },
        _ => value.to_string(),
    }
}

/// A form field whose value the page hides: passwords, secrets, tokens.
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token"].iter().any(|s| name.contains(s))
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}\
h1{font-size:1.5em;color:#a40000}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}\
.message{font:1.05em ui-monospace,monospace;white-space:pre-wrap;background:#fff4f4;padding:.6em;border-left:4px solid #a40000}\
.build{background:#fff8e0;border-left:4px solid #d08000;padding:.2em 1em}\
pre{background:#f6f6f6;padding:.6em;overflow:auto}.source span{display:block}.source .failing{background:#ffd7d7;font-weight:bold}\
.caused{color:#777}.frames .app code{font-weight:bold}.frames .lib{color:#888}.at{color:#666;font-size:.9em}\
table{border-collapse:collapse}th,td{text-align:left;vertical-align:top;padding:.15em .8em .15em 0;font-family:ui-monospace,monospace}\
footer{margin-top:2em;color:#777;font-size:.9em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        assert_eq!(
            masked_header("cookie", "session=abc; theme=dark"),
            format!("session={MASK}; theme={MASK}")
        );
        assert_eq!(masked_header("authorization", "Bearer abc.def"), format!("Bearer {MASK}"));
        assert_eq!(masked_header("authorization", "abc"), MASK);
        assert_eq!(masked_header("accept", "text/html"), "text/html");
        assert!(
            is_secret_field("new_Password") && is_secret_field("csrf_token") && !is_secret_field("title")
        );
    }

    #[test]
    fn backtrace_frames_are_read_and_sorted() {
        let text = "   0: std::backtrace::Backtrace::force_capture\n             at /rustc/x/library/std/src/backtrace.rs:1:2\n   1: myapp::index\n             at ./src/main.rs:7:5\n   2: <core::pin::Pin<P> as core::future::Future>::poll\n";
        let frames = frames(text);
        assert_eq!(frames.len(), 3);
        assert!(frames[0].library && !frames[1].library && frames[2].library);
        assert_eq!(frames[1].location.as_deref(), Some("./src/main.rs:7:5"));
    }
}
