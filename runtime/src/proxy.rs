//! ProxyFix, as Werkzeug's: behind `n` trusted proxies, the client's address, scheme and
//! host are the ones the proxies forward, read from the `n`-th value from the right of
//! `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` (each proxy appends its
//! own; values further left were written by the client and may be forged). A request
//! with none of these headers may carry RFC 7239's `Forwarded` instead, read the same
//! way. Fewer values than `n`, or a value that does not parse, leave that field as the
//! connection has it. With `n = 0` (the default) the headers are ignored.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use http::header::{FORWARDED, HeaderName};
use http::uri::Authority;
use http::{HeaderMap, HeaderValue};

use crate::request::Request;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// What the trusted proxies say about the client.
#[derive(Debug, Default, PartialEq, Eq)]
struct Forwarded {
    addr: Option<SocketAddr>,
    scheme: Option<&'static str>,
    host: Option<HeaderValue>,
}

/// Applies what `hops` trusted proxies forwarded to `req`.
pub(crate) fn apply(req: &mut Request, hops: usize) {
    if hops == 0 {
        return;
    }
    let forwarded = read(&req.headers, hops);
    if let Some(addr) = forwarded.addr {
        req.remote_addr = Some(addr);
    }
    if let Some(scheme) = forwarded.scheme {
        req.scheme = scheme;
    }
    if forwarded.host.is_some() {
        req.forwarded_host = forwarded.host;
    }
}

/// The client's address as `hops` trusted proxies report it in `headers`, if they do: the
/// address the access log names.
pub(crate) fn client_addr(headers: &HeaderMap, hops: usize) -> Option<SocketAddr> {
    if hops == 0 {
        return None;
    }
    read(headers, hops).addr
}

fn read(headers: &HeaderMap, hops: usize) -> Forwarded {
    let x_forwarded = [&X_FORWARDED_FOR, &X_FORWARDED_PROTO, &X_FORWARDED_HOST];
    if x_forwarded.iter().any(|name| headers.contains_key(*name)) {
        Forwarded {
            addr: nth_from_right(headers, &X_FORWARDED_FOR, hops).and_then(|v| parse_addr(&v)),
            scheme: nth_from_right(headers, &X_FORWARDED_PROTO, hops).and_then(|v| parse_scheme(&v)),
            host: nth_from_right(headers, &X_FORWARDED_HOST, hops).and_then(|v| parse_host(&v)),
        }
    } else {
        nth_from_right(headers, &FORWARDED, hops).map(|element| parse_forwarded(&element)).unwrap_or_default()
    }
}

/// The `hops`-th comma-separated value from the right, over every line of the header;
/// `None` if there are fewer.
fn nth_from_right(headers: &HeaderMap, name: &HeaderName, hops: usize) -> Option<String> {
    let mut values = Vec::new();
    for line in headers.get_all(name) {
        values.extend(split_list(line.to_str().ok()?));
    }
    let index = values.len().checked_sub(hops)?;
    values.get(index).map(|v| v.trim().to_string())
}

/// Splits a header list on commas outside quoted strings.
fn split_list(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`. Without a port, the port is 0.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(addr) = SocketAddr::from_str(text) {
        return Some(addr);
    }
    let ip = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    IpAddr::from_str(ip).ok().map(|ip| SocketAddr::new(ip, 0))
}

fn parse_scheme(text: &str) -> Option<&'static str> {
    let text = text.trim().trim_matches('"');
    if text.eq_ignore_ascii_case("https") {
        Some("https")
    } else if text.eq_ignore_ascii_case("http") {
        Some("http")
    } else {
        None
    }
}

/// A host and optional port, and nothing else (no path, no user info).
fn parse_host(text: &str) -> Option<HeaderValue> {
    let text = text.trim().trim_matches('"');
    let authority = Authority::from_str(text).ok()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    HeaderValue::from_str(authority.as_str()).ok()
}

/// One element of `Forwarded`: `for=...;proto=...;host=...`, in any order and case.
fn parse_forwarded(element: &str) -> Forwarded {
    let mut forwarded = Forwarded::default();
    for pair in element.split(';') {
        let Some((key, value)) = pair.split_once('=') else { continue };
        let key = key.trim();
        if key.eq_ignore_ascii_case("for") {
            forwarded.addr = parse_addr(value);
        } else if key.eq_ignore_ascii_case("proto") {
            forwarded.scheme = parse_scheme(value);
        } else if key.eq_ignore_ascii_case("host") {
            forwarded.host = parse_host(value);
        }
    }
    forwarded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_str(k).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn addr(text: &str) -> Option<SocketAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_value_n_hops_from_the_right_is_taken() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 10.0.0.1"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example, example.com"),
        ]);
        let one = read(&h, 1);
        assert_eq!(one.addr, addr("10.0.0.2:0"));
        assert_eq!(one.scheme, Some("https"));
        assert_eq!(one.host, Some(HeaderValue::from_static("example.com")));
        assert_eq!(read(&h, 2).addr, addr("10.0.0.1:0"));
        assert_eq!(read(&h, 2).scheme, None, "fewer values than hops: ignored");
        assert_eq!(read(&h, 4), Forwarded::default());
    }

    #[test]
    fn addresses_with_ports_and_ipv6_parse() {
        assert_eq!(parse_addr("192.0.2.1:4711"), addr("192.0.2.1:4711"));
        assert_eq!(parse_addr(" 2001:db8::1 "), addr("[2001:db8::1]:0"));
        assert_eq!(parse_addr("\"[2001:db8::1]:4711\""), addr("[2001:db8::1]:4711"));
        assert_eq!(parse_addr("unknown"), None);
        assert_eq!(parse_addr("_hidden"), None);
    }

    #[test]
    fn bad_values_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "not an address"),
            ("x-forwarded-proto", "gopher"),
            ("x-forwarded-host", "a b/c"),
        ]);
        assert_eq!(read(&h, 1), Forwarded::default());
        assert_eq!(parse_host("user@example.com"), None);
        assert_eq!(parse_host("example.com:8443"), Some(HeaderValue::from_static("example.com:8443")));
    }

    #[test]
    fn forwarded_is_read_when_no_x_forwarded_header_is_there() {
        let h = headers(&[(
            "forwarded",
            "for=6.6.6.6;proto=http, For=\"[2001:db8::1]:4711\";Proto=https;Host=\"example.com\"",
        )]);
        let one = read(&h, 1);
        assert_eq!(one.addr, addr("[2001:db8::1]:4711"));
        assert_eq!(one.scheme, Some("https"));
        assert_eq!(one.host, Some(HeaderValue::from_static("example.com")));
        assert_eq!(read(&h, 2).addr, addr("6.6.6.6:0"));
        let both = headers(&[("forwarded", "for=6.6.6.6"), ("x-forwarded-proto", "https")]);
        assert_eq!(read(&both, 1).addr, None, "X-Forwarded-* wins over Forwarded");
    }
}
