//! TechEmpower's rules, as their verifier checks a framework before timing it: for each
//! test, the status, the `Server`, `Date`, `Content-Type` and length headers, the body's
//! shape (key names and value ranges of the JSON, the fortunes page after the verifier's
//! normalisation of HTML), the `queries` parameter's clamping and fallback, and for
//! `/updates` that the rows were written to the database. One implementation, used by the
//! package's test and by `techempower verify` (which `scripts/tfb.sh` runs against every
//! server before timing it).
//!
//! The verifier's leniencies are kept where they are about style (a quote escaped as
//! `&#34;` or `&quot;`, or not at all, in the page's text) and dropped where they are only
//! warnings there: key names must be exactly `id` and `randomNumber`, a clamped count must
//! be exact, and an answer must not carry extra keys.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// The fortunes page as TechEmpower's verifier expects it after normalising: tags without
/// attributes, one line per row, entities written one way.
pub const EXPECTED_FORTUNES: &str = "<!doctype html><html>
<head><title>Fortunes</title></head>
<body><table>
<tr><th>id</th><th>message</th></tr>
<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;/script&gt;</td></tr>
<tr><td>4</td><td>A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1</td></tr>
<tr><td>5</td><td>A computer program does what you tell it to do, not what you want it to do.</td></tr>
<tr><td>2</td><td>A computer scientist is someone who fixes things that aren&apos;t broken.</td></tr>
<tr><td>8</td><td>A list is only as strong as its weakest link. — Donald Knuth</td></tr>
<tr><td>0</td><td>Additional fortune added at request time.</td></tr>
<tr><td>3</td><td>After enough decimal places, nobody gives a damn.</td></tr>
<tr><td>7</td><td>Any program that runs right is obsolete.</td></tr>
<tr><td>10</td><td>Computers make very fast, very accurate mistakes.</td></tr>
<tr><td>6</td><td>Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen</td></tr>
<tr><td>9</td><td>Feature: A bug with seniority.</td></tr>
<tr><td>1</td><td>fortune: No such file or directory</td></tr>
<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>
</table></body></html>";

/// The `queries` values the verifier sends, and the number of rows each must give.
pub const QUERY_CASES: [(&str, usize); 6] =
    [("2", 2), ("0", 1), ("foo", 1), ("501", 500), ("", 1), ("20", 20)];

/// An answer, as read from the socket.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `addr` (`host:port`) over a connection of its own (HTTP/1.1,
/// `Connection: close`), within 10 s.
///
/// # Errors
///
/// When the connection fails, times out, or the answer is not HTTP.
pub fn get(addr: &str, path: &str) -> Result<Reply, String> {
    let fail = |e: &dyn std::fmt::Display| format!("GET http://{addr}{path}: {e}");
    let mut stream = TcpStream::connect(addr).map_err(|e| fail(&e))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| fail(&e))?;
    let host = addr;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .map_err(|e| fail(&e))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| fail(&e))?;
    parse_reply(&raw).map_err(|e| fail(&e))
}

fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer has no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
    let length = headers.iter().find(|(n, _)| n == "content-length").map(|(_, v)| v);
    if let Some(length) = length.filter(|length| length.parse::<usize>().ok() != Some(body.len())) {
        return Err(format!("Content-Length {length} but {} bytes of body", body.len()));
    }
    Ok(Reply { status, headers, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or("a chunk has no size line")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "a chunk size is not text")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunk is cut short")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a chunk is cut short")?;
    }
}

/// What a verification found.
#[derive(Debug, Default)]
pub struct Report {
    /// Each failure, with the URL it was found at.
    pub problems: Vec<String>,
    /// What was checked, one line per request.
    pub checked: Vec<String>,
}

impl Report {
    fn fail(&mut self, url: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{url}: {what}"));
    }
}

/// Reads back rows of `World` for the updates check: `id -> randomNumber`.
pub trait WorldReader {
    /// The stored number of each id.
    ///
    /// # Errors
    ///
    /// When the database cannot be read.
    fn read(&mut self, ids: &[i32]) -> Result<HashMap<i32, i32>, String>;
}

/// Reads the rows over a connection of the blocking `postgres` crate.
impl WorldReader for postgres::Client {
    fn read(&mut self, ids: &[i32]) -> Result<HashMap<i32, i32>, String> {
        let rows = self
            .query("SELECT id, randomnumber FROM world WHERE id = ANY($1)", &[&ids])
            .map_err(|e| format!("reading World back: {e}"))?;
        rows.iter()
            .map(|row| {
                Ok((row.try_get(0).map_err(|e| e.to_string())?, row.try_get(1).map_err(|e| e.to_string())?))
            })
            .collect()
    }
}

/// Checks the six tests of the server at `addr` (`host:port`), under `prefix` (`""` or
/// `"/sync"`), against TechEmpower's rules; `db` reads the rows back after `/updates`.
pub fn verify(addr: &str, prefix: &str, db: &mut dyn WorldReader) -> Report {
    let mut report = Report::default();
    let fetch = |report: &mut Report, path: String, content_type: &str| -> Option<Reply> {
        let url = format!("http://{addr}{path}");
        match get(addr, &path) {
            Ok(reply) => {
                report.checked.push(format!("{url}: {} {} bytes", reply.status, reply.body.len()));
                check_headers(report, &url, &reply, content_type);
                (reply.status == 200).then_some(reply)
            }
            Err(e) => {
                report.problems.push(e);
                None
            }
        }
    };

    let path = format!("{prefix}/json");
    if let Some(reply) = fetch(&mut report, path.clone(), "json") {
        let url = format!("http://{addr}{path}");
        match serde_json::from_slice::<Value>(&reply.body) {
            Ok(value) if value == serde_json::json!({ "message": "Hello, World!" }) => {}
            Ok(value) => {
                report.fail(&url, format!("expected {{\"message\":\"Hello, World!\"}}, got {value}"))
            }
            Err(e) => report.fail(&url, format!("not JSON: {e}")),
        }
    }

    let path = format!("{prefix}/plaintext");
    let first_date = fetch(&mut report, path.clone(), "plaintext").map(|reply| {
        if reply.body != b"Hello, World!" {
            let url = format!("http://{addr}{path}");
            report.fail(
                &url,
                format!("expected \"Hello, World!\", got {:?}", String::from_utf8_lossy(&reply.body)),
            );
        }
        reply.header("date").unwrap_or_default().to_string()
    });

    let path = format!("{prefix}/db");
    if let Some(reply) = fetch(&mut report, path.clone(), "json") {
        let url = format!("http://{addr}{path}");
        match serde_json::from_slice::<Value>(&reply.body) {
            Ok(value) => check_world(&mut report, &url, &value),
            Err(e) => report.fail(&url, format!("not JSON: {e}")),
        }
    }

    for (test, check_updates) in [("queries", false), ("updates", true)] {
        for (queries, expected) in QUERY_CASES {
            let path = format!("{prefix}/{test}?queries={queries}");
            let url = format!("http://{addr}{path}");
            let Some(reply) = fetch(&mut report, path, "json") else { continue };
            let worlds = match serde_json::from_slice::<Value>(&reply.body) {
                Ok(Value::Array(items)) => items,
                Ok(other) => {
                    report.fail(&url, format!("expected a JSON array, got {}", truncate(&other.to_string())));
                    continue;
                }
                Err(e) => {
                    report.fail(&url, format!("not JSON: {e}"));
                    continue;
                }
            };
            if worlds.len() != expected {
                report.fail(
                    &url,
                    format!("expected {expected} rows for queries={queries:?}, got {}", worlds.len()),
                );
            }
            for world in &worlds {
                check_world(&mut report, &url, world);
            }
            if check_updates {
                check_persisted(&mut report, &url, &worlds, db);
            }
        }
    }

    let path = format!("{prefix}/fortunes");
    if let Some(reply) = fetch(&mut report, path.clone(), "html") {
        let url = format!("http://{addr}{path}");
        match std::str::from_utf8(&reply.body) {
            Ok(page) => {
                let normalised = normalise_html(page);
                if normalised != EXPECTED_FORTUNES {
                    report.fail(
                        &url,
                        format!("the page differs from the expected one:\n{}", diff(&normalised)),
                    );
                }
            }
            Err(_) => report.fail(&url, "the page is not UTF-8"),
        }
    }

    // The Date header must be the time of each answer, not one cached at start.
    if let Some(first) = first_date {
        std::thread::sleep(Duration::from_millis(1100));
        let path = format!("{prefix}/plaintext");
        let same = get(addr, &path).ok().filter(|reply| reply.header("date") == Some(first.as_str()));
        if same.is_some() {
            report
                .fail(&format!("http://{addr}{path}"), format!("the Date header did not change: {first:?}"));
        }
    }
    report
}

fn truncate(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(57).collect::<String>())
    } else {
        text.to_string()
    }
}

/// The verifier's header rules: `Server`, `Date` (an HTTP date), `Content-Type` of the
/// test's kind, and `Content-Length` or `Transfer-Encoding`.
fn check_headers(report: &mut Report, url: &str, reply: &Reply, kind: &str) {
    if reply.status != 200 {
        report.fail(url, format!("status {}", reply.status));
    }
    for name in ["server", "date", "content-type"] {
        if reply.header(name).is_none() {
            report.fail(url, format!("the {name} header is missing"));
        }
    }
    if reply.header("content-length").is_none() && reply.header("transfer-encoding").is_none() {
        report.fail(url, "neither Content-Length nor Transfer-Encoding");
    }
    if let Some(date) = reply.header("date").filter(|date| !is_http_date(date)) {
        report.fail(url, format!("the Date header {date:?} is not an HTTP date"));
    }
    if let Some(content_type) = reply.header("content-type") {
        let ok = match kind {
            "json" => matches_type(content_type, "application/json", false),
            "plaintext" => matches_type(content_type, "text/plain", false),
            _ => matches_type(content_type, "text/html", true),
        };
        if !ok {
            report.fail(url, format!("Content-Type {content_type:?} is not what the {kind} test takes"));
        }
    }
}

/// `mime`, optionally followed by `; charset=utf-8` (with or without the space, UTF in
/// either case), which `charset_required` makes required.
fn matches_type(value: &str, mime: &str, charset_required: bool) -> bool {
    let Some(rest) = value.strip_prefix(mime) else { return false };
    if rest.is_empty() {
        return !charset_required;
    }
    let rest = rest.strip_prefix(';').map(|r| r.strip_prefix(' ').unwrap_or(r));
    matches!(rest, Some("charset=utf-8" | "charset=UTF-8"))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
fn is_http_date(date: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let parts: Vec<&str> = date.split(' ').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let time_ok = |t: &str| {
        let hms: Vec<&str> = t.split(':').collect();
        hms.len() == 3 && hms.iter().all(|p| digits(p, 2))
    };
    parts.len() == 6
        && parts[0].strip_suffix(',').is_some_and(|d| DAYS.contains(&d))
        && digits(parts[1], 2)
        && MONTHS.contains(&parts[2])
        && digits(parts[3], 4)
        && time_ok(parts[4])
        && parts[5] == "GMT"
}

/// One `World`: an object with exactly `id` and `randomNumber`, both integers in
/// 1..=10000.
fn check_world(report: &mut Report, url: &str, value: &Value) {
    let Some(object) = value.as_object() else {
        report.fail(url, format!("expected a JSON object, got {}", truncate(&value.to_string())));
        return;
    };
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["id", "randomNumber"] {
        report.fail(url, format!("expected the keys id and randomNumber, got {keys:?}"));
        return;
    }
    for key in ["id", "randomNumber"] {
        match object[key].as_i64() {
            Some(n) if (1..=10_000).contains(&n) => {}
            _ => report.fail(url, format!("{key} is not an integer in 1..=10000: {}", object[key])),
        }
    }
}

/// After `/updates`: every row it answered with holds, in the database, the number it
/// was last given in the answer.
fn check_persisted(report: &mut Report, url: &str, worlds: &[Value], db: &mut dyn WorldReader) {
    let mut last: HashMap<i32, i32> = HashMap::new();
    for world in worlds {
        let id = world["id"].as_i64().and_then(|n| i32::try_from(n).ok());
        let number = world["randomNumber"].as_i64().and_then(|n| i32::try_from(n).ok());
        if let (Some(id), Some(number)) = (id, number) {
            last.insert(id, number);
        }
    }
    let ids: Vec<i32> = last.keys().copied().collect();
    match db.read(&ids) {
        Ok(stored) => {
            let wrong: Vec<String> = last
                .iter()
                .filter(|(id, number)| stored.get(id) != Some(number))
                .map(|(id, number)| format!("id {id}: answered {number}, stored {:?}", stored.get(id)))
                .collect();
            if !wrong.is_empty() {
                report.fail(
                    url,
                    format!(
                        "{} of {} updated rows were not written: {}",
                        wrong.len(),
                        last.len(),
                        wrong.join(", ")
                    ),
                );
            }
        }
        Err(e) => report.fail(url, e),
    }
}

/// The fortunes page normalised as TechEmpower's verifier does, so that it can be
/// compared with [`EXPECTED_FORTUNES`]: tags reduced to their lower-case names (`meta`,
/// `link`, `thead`, `tbody` and `script` elements dropped), whitespace-only text dropped,
/// a line break after `<html>`, `<table>`, `</head>` and `</tr>`, and each character that
/// may be escaped in several ways written one way.
pub fn normalise_html(page: &str) -> String {
    let mut out = String::new();
    let mut in_script = false;
    let mut rest = page;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let Some(end) = after.find('>') else { break };
            let tag = &after[..end];
            rest = &after[end + 1..];
            let (closing, body) = match tag.strip_prefix('/') {
                Some(body) => (true, body),
                None => (false, tag),
            };
            if let Some(decl) = body.strip_prefix('!') {
                out.push_str(&format!("<!{}>", decl.to_lowercase()));
                continue;
            }
            let name =
                body.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default().to_lowercase();
            if name == "script" {
                in_script = !closing;
                continue;
            }
            if in_script || matches!(name.as_str(), "meta" | "link" | "thead" | "tbody") {
                continue;
            }
            out.push_str(if closing { "</" } else { "<" });
            out.push_str(&name);
            out.push('>');
            if (!closing && (name == "table" || name == "html"))
                || (closing && (name == "tr" || name == "head"))
            {
                out.push('\n');
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            rest = &rest[end..];
            if !in_script {
                normalise_text(text, &mut out);
            }
        }
    }
    out
}

/// Text between tags: character references and entities written one way, and the
/// characters that may stay unescaped in text escaped.
fn normalise_text(text: &str, out: &mut String) {
    let mut piece = String::new();
    let flush = |piece: &mut String, out: &mut String| {
        if !piece.trim().is_empty() {
            out.push_str(&piece.replace('\'', "&apos;").replace('"', "&quot;").replace('>', "&gt;"));
        }
        piece.clear();
    };
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        piece.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(semi) = after.find(';').filter(|&semi| semi <= 10) else {
            piece.push('&');
            rest = after;
            continue;
        };
        flush(&mut piece, out);
        let entity = &after[..semi];
        rest = &after[semi + 1..];
        match entity.strip_prefix('#') {
            Some(number) => {
                let number = number.to_lowercase();
                let code = match number.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => number.parse::<u32>().ok(),
                };
                out.push_str(match code {
                    Some(34) => "&quot;",
                    Some(39) => "&apos;",
                    Some(43) => "+",
                    Some(62) => "&gt;",
                    Some(60) => "&lt;",
                    Some(47) => "/",
                    Some(40) => "(",
                    Some(41) => ")",
                    _ => "",
                });
            }
            None if entity == "mdash" => out.push('—'),
            None => {
                out.push('&');
                out.push_str(entity);
                out.push(';');
            }
        }
    }
    piece.push_str(rest);
    flush(&mut piece, out);
}

/// The lines of a normalised page that differ from the expected ones.
fn diff(normalised: &str) -> String {
    let got: Vec<&str> = normalised.lines().collect();
    let want: Vec<&str> = EXPECTED_FORTUNES.lines().collect();
    let mut lines = Vec::new();
    for i in 0..got.len().max(want.len()) {
        let (g, w) = (got.get(i).copied(), want.get(i).copied());
        if g != w {
            lines.push(format!("  expected {:?}\n  got      {:?}", w.unwrap_or(""), g.unwrap_or("")));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_written_either_way_normalise_alike() {
        let page = "<!DOCTYPE html>\n<html>\n<head><title>Fortunes</title></head><body>\n<table>\n\
            <tr><td>2</td><td>aren&#39;t &#34;x&#34; a &gt; b</td></tr></table></body></html>";
        assert_eq!(
            normalise_html(page),
            "<!doctype html><html>\n<head><title>Fortunes</title></head>\n<body><table>\n\
             <tr><td>2</td><td>aren&apos;t &quot;x&quot; a &gt; b</td></tr>\n</table></body></html>"
        );
        let raw = "<td>aren't \"x\" a > b</td>";
        let named = "<td>aren&apos;t &quot;x&quot; a &gt; b</td>";
        assert_eq!(normalise_html(raw), normalise_html(named));
    }

    #[test]
    fn an_unescaped_script_is_not_text() {
        // A page that left the `<script>` fortune unescaped loses it: it cannot pass.
        assert_eq!(normalise_html("<td><script>alert(1);</script></td>"), "<td></td>");
    }

    #[test]
    fn content_types_and_dates() {
        assert!(matches_type("application/json", "application/json", false));
        assert!(matches_type("text/html; charset=utf-8", "text/html", true));
        assert!(matches_type("text/html;charset=UTF-8", "text/html", true));
        assert!(!matches_type("text/html", "text/html", true));
        assert!(!matches_type("application/jsonx", "application/json", false));
        assert!(is_http_date("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(!is_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
    }

    #[test]
    fn replies_are_parsed_with_or_without_chunks() {
        let reply = parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: x\r\n\r\nhi").unwrap();
        assert_eq!((reply.status, reply.header("server"), &reply.body[..]), (200, Some("x"), &b"hi"[..]));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n3\r\n!!!\r\n0\r\n\r\n";
        assert_eq!(parse_reply(chunked).unwrap().body, b"hi!!!");
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi").is_err());
    }
}
