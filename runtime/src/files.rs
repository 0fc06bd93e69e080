//! Files from disk: [`send_file`], [`send_from_directory`] and the static folders.
//!
//! A file is opened and measured when the view returns, then streamed from disk as the
//! client reads it, never read whole into memory. The lifecycle makes file responses
//! conditional with the request's headers ([`make_conditional`]), as Werkzeug does:
//! `304 Not Modified` for a matching `If-None-Match` or `If-Modified-Since`, `206` for a
//! `Range`, `416` for one that cannot be satisfied.

use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE,
};
use http::{HeaderValue, Method, StatusCode};
use http_range_header::RangeUnsatisfiableError;

use crate::body::{Body, FileBody};
use crate::error::{HttpError, abort};
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// A file as a response: made by [`send_file`] and [`send_from_directory`].
///
/// It carries `Content-Type` (from the extension), `Content-Length`, `ETag`,
/// `Last-Modified` and `Accept-Ranges`; the body streams from disk.
#[derive(Debug)]
pub struct SendFile {
    opened: Result<Response, HttpError>,
}

impl SendFile {
    /// Asks the browser to download the file as `name` (`Content-Disposition:
    /// attachment`), as Flask's `as_attachment=True, download_name=...`.
    pub fn as_attachment(mut self, name: &str) -> SendFile {
        if let Ok(resp) = &mut self.opened {
            let quoted = name.replace(['"', '\\'], "_");
            let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
            let value = format!("attachment; filename=\"{quoted}\"; filename*=UTF-8''{encoded}");
            if let Ok(value) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(CONTENT_DISPOSITION, value);
            }
        }
        self
    }
}

impl IntoResponse for SendFile {
    fn into_response(self) -> Response {
        self.opened.unwrap_or_else(|e| e.into_response())
    }

    fn into_outcome(self) -> Result<Response, HttpError> {
        self.opened
    }
}

/// Sends the file at `path`, as Flask's `send_file`. A missing file (or a directory) is a
/// 404; an unreadable one a 500. The path is used as given: never pass a path from the
/// request here, use [`send_from_directory`] for that.
///
/// ```
/// use erlen::prelude::*;
/// # let path = std::env::temp_dir().join(format!("erlen-doc-send-file-{}.txt", std::process::id()));
/// # std::fs::write(&path, "hello file").unwrap();
/// # let written = path.clone();
///
/// #[get("/report")]
/// fn report() -> SendFile {
/// #   let path = std::env::temp_dir().join(format!("erlen-doc-send-file-{}.txt", std::process::id()));
///     send_file(path)
/// }
///
/// let client = App::new().register(handlers![report]).test_client();
/// let resp = client.get("/report").send();
/// assert_eq!(resp.text(), "hello file");
/// assert_eq!(resp.header("content-type"), Some("text/plain"));
/// assert_eq!(client.get("/report").header("range", "bytes=6-").send().text(), "file");
/// # std::fs::remove_file(written).unwrap();
/// ```
pub fn send_file(path: impl AsRef<Path>) -> SendFile {
    SendFile { opened: open(path.as_ref()) }
}

/// Sends the file `name` from `dir`, as Flask's `send_from_directory`: `name` may come
/// from the request. A name that would leave `dir` (`..`, an absolute path, a backslash,
/// a NUL byte, an empty segment) is a 404, and no file outside `dir` is ever opened.
pub fn send_from_directory(dir: impl AsRef<Path>, name: &str) -> SendFile {
    match safe_join(dir.as_ref(), name) {
        Some(path) => send_file(path),
        None => SendFile { opened: Err(abort(404)) },
    }
}

/// `dir` joined with `name`, if every segment of `name` is a plain file or folder name.
pub(crate) fn safe_join(dir: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains(['\\', '\0']) || name.starts_with('/') {
        return None;
    }
    let mut path = dir.to_path_buf();
    for segment in name.split('/') {
        let mut components = Path::new(segment).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(part)), None) if part == segment => path.push(part),
            _ => return None,
        }
        // A drive or a stream name on Windows.
        if cfg!(windows) && segment.contains(':') {
            return None;
        }
    }
    Some(path)
}

fn open(path: &Path) -> Result<Response, HttpError> {
    let not_found = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => abort(404),
        _ => HttpError::from(e),
    };
    let file = File::open(path).map_err(not_found)?;
    let meta = file.metadata().map_err(not_found)?;
    if !meta.is_file() {
        return Err(abort(404));
    }
    let len = meta.len();
    let mime = mime_guess::from_path(path).first_raw().unwrap_or("application/octet-stream");
    let mut resp = Response::new(Body::file(FileBody::new(file, len)));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(modified) = meta.modified() {
        let secs = modified.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{secs:x}-{len:x}\"")) {
            headers.insert(ETAG, etag);
        }
        if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
            headers.insert(LAST_MODIFIED, date);
        }
    }
    Ok(resp)
}

/// Makes a file response conditional on the request, as RFC 9110 section 13 orders it:
/// `If-None-Match` (else `If-Modified-Since`) can make it a 304; otherwise a `Range`
/// (honoured when `If-Range` still matches) makes it a 206 or a 416. Other responses pass
/// unchanged.
pub(crate) fn make_conditional(req: &Request, resp: &mut Response) {
    if resp.status() != StatusCode::OK || !matches!(*req.method(), Method::GET | Method::HEAD) {
        return;
    }
    let Some(len) = resp.body_mut().file_mut().map(|f| f.len) else { return };
    let etag = resp.headers().get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let modified = resp
        .headers()
        .get(LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());

    let not_modified = match (req.header(IF_NONE_MATCH.as_str()), req.header(IF_MODIFIED_SINCE.as_str())) {
        (Some(tags), _) => etag.as_deref().is_some_and(|etag| etag_matches(tags, etag)),
        (None, Some(since)) => match (modified, httpdate::parse_http_date(since)) {
            (Some(modified), Ok(since)) => modified <= since,
            _ => false,
        },
        (None, None) => false,
    };
    if not_modified {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        resp.headers_mut().remove(CONTENT_LENGTH);
        *resp.body_mut() = Body::empty();
        return;
    }

    let Some(range) = req.header(RANGE.as_str()) else { return };
    if let Some(validator) = req.header(IF_RANGE.as_str()) {
        let still = match httpdate::parse_http_date(validator) {
            Ok(date) => modified == Some(date),
            Err(_) => etag.as_deref() == Some(validator) && !validator.starts_with("W/"),
        };
        if !still {
            return;
        }
    }
    match http_range_header::parse_range_header(range).and_then(|r| r.validate(len)) {
        Ok(ranges) if ranges.len() == 1 => {
            let (start, end) = (*ranges[0].start(), *ranges[0].end());
            if let Some(file) = resp.body_mut().file_mut() {
                file.start = start;
                file.len = end - start + 1;
            }
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let headers = resp.headers_mut();
            headers.insert(CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                headers.insert(CONTENT_RANGE, value);
            }
        }
        // Several ranges would need multipart/byteranges: the whole file is a valid answer.
        Ok(_) => {}
        Err(RangeUnsatisfiableError::Unsatisfiable) => {
            let mut unsatisfiable = abort(416).into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                unsatisfiable.headers_mut().insert(CONTENT_RANGE, value);
            }
            *resp = unsatisfiable;
        }
        // A malformed or abusive Range header is ignored, as RFC 9110 allows.
        Err(_) => {}
    }
}

/// Whether an `If-None-Match` list names `etag` (weak comparison) or is `*`.
fn etag_matches(list: &str, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let ours = bare(etag);
    list.split(',').any(|tag| tag.trim() == "*" || bare(tag) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_join_keeps_names_inside_the_folder() {
        let dir = Path::new("/srv/static");
        assert_eq!(safe_join(dir, "css/app.css"), Some(PathBuf::from("/srv/static/css/app.css")));
        for hostile in [
            "",
            "..",
            "../etc/passwd",
            "a/../../b",
            "/etc/passwd",
            "a\\..\\b",
            "a\0b",
            "./a",
            "a//b",
            "a/",
            "a/.",
        ] {
            assert_eq!(safe_join(dir, hostile), None, "{hostile:?} must be refused");
        }
    }

    #[test]
    fn etags_compare_weakly_and_in_lists() {
        assert!(etag_matches("\"a\", W/\"b\"", "\"b\""));
        assert!(etag_matches("*", "\"x\""));
        assert!(!etag_matches("\"a\"", "\"b\""));
    }
}
