//! Matching a method and path to a route, with Flask's answers when nothing matches:
//! 404, 405 with `Allow`, the 308 strict-slash redirect, automatic HEAD and OPTIONS.
//!
//! Patterns are parsed by `erlen-pattern` (the parser the macros check them with) and
//! stored in a [`matchit`] tree under a positional form (`/users/{p0}`), so routes of the
//! same shape share a node; the node's rules are then tried in order of converter
//! specificity, as Flask tries `<int:id>` before `<name>`.

use std::collections::HashMap;
use std::sync::Arc;

use erlen_pattern::{Converter, Pattern};
use http::{Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Kept as is in a path segment: RFC 3986's unreserved characters, sub-delimiters, `:`
/// and `@`. Everything else (including `/` in a parameter, `?`, `#`, `%`) is encoded.
pub(crate) const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');
/// A `<path:...>` value keeps its slashes.
pub(crate) const PATH: &AsciiSet = &SEGMENT.remove(b'/');
/// Query keys and values, as forms encode them.
pub(crate) const QUERY: &AsciiSet = &SEGMENT.add(b'&').add(b'=').add(b'+').add(b';');

/// One route: a pattern with methods, served by an endpoint.
struct Rule {
    pattern: String,
    names: Vec<Arc<str>>,
    converters: Vec<Converter>,
    methods: Vec<Method>,
    endpoint: usize,
}

impl Rule {
    fn serves(&self, method: &Method) -> bool {
        self.methods.contains(method) || (method == Method::HEAD && self.methods.contains(&Method::GET))
    }
}

/// The router of an app, built once at start-up.
#[derive(Default)]
pub(crate) struct Router {
    tree: matchit::Router<usize>,
    nodes: Vec<Vec<Rule>>,
    by_shape: HashMap<String, usize>,
}

/// What routing found for a request.
#[derive(Debug, PartialEq)]
pub(crate) enum Match {
    /// A route serves this method; `options` is set when OPTIONS is answered automatically
    /// with these allowed methods.
    Found {
        endpoint: usize,
        params: Vec<(Arc<str>, String)>,
        options: Option<String>,
    },
    /// The path exists with other methods only.
    MethodNotAllowed {
        allow: String,
    },
    /// The path exists with a trailing slash: redirect there (308).
    Redirect {
        location: String,
    },
    NotFound,
}

/// The `Allow` header value for a set of methods: HEAD joins GET, OPTIONS is always there.
fn allow_header(methods: &[&Method]) -> String {
    let mut names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    if names.contains(&"GET") {
        names.push("HEAD");
    }
    names.push("OPTIONS");
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

impl Router {
    /// Adds a route. Returns the endpoint of an existing route with the same pattern
    /// shape, converters and an overlapping method, or matchit's conflict message.
    pub(crate) fn insert(
        &mut self,
        pattern: &Pattern,
        methods: Vec<Method>,
        endpoint: usize,
    ) -> Result<(), RouteConflict> {
        let shape = pattern.to_matchit();
        let rule = Rule {
            pattern: pattern.as_str().to_string(),
            names: pattern.params().map(|(n, _)| Arc::from(n)).collect(),
            converters: pattern.params().map(|(_, c)| c).collect(),
            methods,
            endpoint,
        };
        let node = match self.by_shape.get(&shape) {
            Some(&node) => node,
            None => {
                let node = self.nodes.len();
                self.tree.insert(shape.clone(), node).map_err(|e| RouteConflict::Tree(e.to_string()))?;
                self.nodes.push(Vec::new());
                self.by_shape.insert(shape, node);
                node
            }
        };
        let rules = &mut self.nodes[node];
        if let Some(twin) = rules
            .iter()
            .find(|r| r.converters == rule.converters && r.methods.iter().any(|m| rule.methods.contains(m)))
        {
            let method = twin.methods.iter().find(|m| rule.methods.contains(m)).cloned();
            return Err(RouteConflict::Duplicate {
                endpoint: twin.endpoint,
                method: method.unwrap_or(Method::GET),
                pattern: twin.pattern.clone(),
            });
        }
        rules.push(rule);
        // Most specific converters first; a stable sort keeps registration order otherwise.
        rules.sort_by_key(|r| r.converters.iter().map(|c| c.specificity()).collect::<Vec<_>>());
        Ok(())
    }

    /// Routes `method` and `path` (percent-decoded). A redirect's location is built from
    /// `uri`, the request's own encoded path and query, never from the decoded path.
    pub(crate) fn lookup(&self, method: &Method, path: &str, uri: &Uri) -> Match {
        match self.lookup_path(method, path) {
            Some(found) => found,
            None if !path.ends_with('/') => match self.lookup_path(method, &format!("{path}/")) {
                Some(Match::Found { .. }) => {
                    Match::Redirect { location: slashed_location(uri.path(), uri.query()) }
                }
                _ => Match::NotFound,
            },
            None => Match::NotFound,
        }
    }

    fn lookup_path(&self, method: &Method, path: &str) -> Option<Match> {
        let matched = self.tree.at(path).ok()?;
        let values = || matched.params.iter().map(|(_, v)| v);
        let accepts = |rule: &&Rule| {
            rule.converters.len() == matched.params.len()
                && rule.converters.iter().zip(values()).all(|(c, v)| c.accepts(v))
        };
        let params = |rule: &Rule| rule.names.iter().cloned().zip(values().map(str::to_string)).collect();
        // The common case allocates nothing but the parameters: the first rule that accepts
        // the values and serves the method.
        let rules = &self.nodes[*matched.value];
        if let Some(rule) = rules.iter().filter(accepts).find(|r| r.serves(method)) {
            return Some(Match::Found { endpoint: rule.endpoint, params: params(rule), options: None });
        }
        let first = rules.iter().find(accepts)?;
        let allowed: Vec<&Method> = rules.iter().filter(accepts).flat_map(|r| r.methods.iter()).collect();
        let allow = allow_header(&allowed);
        if method == Method::OPTIONS {
            return Some(Match::Found {
                endpoint: first.endpoint,
                params: params(first),
                options: Some(allow),
            });
        }
        Some(Match::MethodNotAllowed { allow })
    }
}

/// What may stay as it is in a redirect's path and query: RFC 3986's unreserved and
/// sub-delimiter characters, `:`, `@`, `/`, `?`, and `%` (the request's own escapes).
/// Everything else is percent-encoded: `\` (which browsers read as `/`), control
/// characters, spaces, quotes and any byte a header value cannot hold.
const KEPT_IN_LOCATION: &AsciiSet = &PATH.remove(b'?').remove(b'%');

/// The strict-slash redirect's target: the encoded `path` with a `/` added, then `query`.
/// It is always a valid header value and always a path on this host: a leading `//`
/// (which a browser reads as another host) becomes `/%2F`.
fn slashed_location(path: &str, query: Option<&str>) -> String {
    let mut location = format!("{}/", utf8_percent_encode(path, KEPT_IN_LOCATION));
    if location.starts_with("//") {
        location.replace_range(..2, "/%2F");
    }
    if let Some(query) = query {
        location.push('?');
        location.extend(utf8_percent_encode(query, KEPT_IN_LOCATION));
    }
    location
}

impl Router {
    /// Every route as (pattern, methods, endpoint), sorted by pattern: what the server
    /// lists when it starts.
    pub(crate) fn routes(&self) -> Vec<(&str, Vec<&str>, usize)> {
        let mut routes: Vec<_> = self
            .nodes
            .iter()
            .flatten()
            .map(|r| (r.pattern.as_str(), r.methods.iter().map(Method::as_str).collect(), r.endpoint))
            .collect();
        routes.sort();
        routes
    }
}

/// Why a route could not be added.
#[derive(Debug)]
pub(crate) enum RouteConflict {
    /// The same pattern shape, converters and method are served by `endpoint` already.
    Duplicate { endpoint: usize, method: Method, pattern: String },
    /// matchit found the patterns ambiguous.
    Tree(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &[Method])]) -> Router {
        let mut r = Router::default();
        for (i, (p, m)) in routes.iter().enumerate() {
            r.insert(&Pattern::parse(p).unwrap(), m.to_vec(), i).unwrap();
        }
        r
    }

    fn found(m: Match) -> (usize, Vec<(String, String)>) {
        match m {
            Match::Found { endpoint, params, .. } => {
                (endpoint, params.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }
            other => panic!("expected a match, got {other:?}"),
        }
    }

    /// Looks up an ASCII path that needs no decoding.
    fn lookup(r: &Router, method: Method, uri: &str) -> Match {
        let uri: Uri = uri.parse().unwrap();
        r.lookup(&method, uri.path(), &uri)
    }

    #[test]
    fn typed_converters_win_over_strings() {
        let r = router(&[("/u/<name>", &[Method::GET]), ("/u/<int:id>", &[Method::GET])]);
        assert_eq!(found(lookup(&r, Method::GET, "/u/7")), (1, vec![("id".into(), "7".into())]));
        assert_eq!(found(lookup(&r, Method::GET, "/u/bob")).0, 0);
    }

    #[test]
    fn flask_answers_when_nothing_serves_the_method() {
        let r = router(&[("/a/", &[Method::GET]), ("/b", &[Method::POST])]);
        assert_eq!(lookup(&r, Method::GET, "/a?x=1"), Match::Redirect { location: "/a/?x=1".into() });
        assert_eq!(lookup(&r, Method::GET, "/b"), Match::MethodNotAllowed { allow: "OPTIONS, POST".into() });
        assert_eq!(lookup(&r, Method::GET, "/b/"), Match::NotFound);
        assert_eq!(found(lookup(&r, Method::HEAD, "/a/")).0, 0);
        match lookup(&r, Method::OPTIONS, "/a/") {
            Match::Found { options, .. } => assert_eq!(options.as_deref(), Some("GET, HEAD, OPTIONS")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn static_paths_win_over_parameters() {
        let r = router(&[
            ("/u/<name>", &[Method::GET]),
            ("/u/me", &[Method::POST]),
            ("/u/{x}", &[Method::GET]),
            ("/files/<path:rest>", &[Method::GET]),
        ]);
        // A static route without the method is a 405, not the parameter route beside it.
        assert_eq!(found(lookup(&r, Method::POST, "/u/me")), (1, vec![]));
        assert_eq!(
            lookup(&r, Method::GET, "/u/me"),
            Match::MethodNotAllowed { allow: "OPTIONS, POST".into() }
        );
        assert_eq!(found(lookup(&r, Method::GET, "/u/you")), (0, vec![("name".into(), "you".into())]));
        // Braces are literal in erlen's patterns.
        assert_eq!(found(lookup(&r, Method::GET, "/u/{x}")).0, 2);
        assert_eq!(found(lookup(&r, Method::HEAD, "/u/{x}")).0, 2);
        match lookup(&r, Method::OPTIONS, "/u/me") {
            Match::Found { endpoint: 1, options, .. } => {
                assert_eq!(options.as_deref(), Some("OPTIONS, POST"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(found(lookup(&r, Method::GET, "/files/a/b")).1, vec![("rest".into(), "a/b".into())]);
    }

    #[test]
    fn int_converter_rejects_words_as_not_found() {
        let r = router(&[("/u/<int:id>", &[Method::GET])]);
        assert_eq!(lookup(&r, Method::GET, "/u/x"), Match::NotFound);
    }

    #[test]
    fn redirects_keep_the_request_encoding_and_stay_on_this_host() {
        let r = router(&[("/<user>/", &[Method::GET]), ("/files/<name>/", &[Method::GET])]);
        let redirect = |raw: &str| {
            let uri: Uri = raw.parse().unwrap();
            let decoded = percent_encoding::percent_decode_str(uri.path()).decode_utf8().unwrap();
            match r.lookup(&Method::GET, &decoded, &uri) {
                Match::Redirect { location } => location,
                other => panic!("{raw}: {other:?}"),
            }
        };
        assert_eq!(redirect("/%5Cevil.example"), "/%5Cevil.example/");
        assert_eq!(redirect("/files/a%0d%0aX:%20y"), "/files/a%0d%0aX:%20y/");
        assert_eq!(redirect("/caf%C3%A9?q=%22a%22&b"), "/caf%C3%A9/?q=%22a%22&b");
        // What the URI parser lets through raw is encoded, so browsers cannot read it as
        // another host or another header.
        assert_eq!(slashed_location("/\\evil.example", None), "/%5Cevil.example/");
        assert_eq!(slashed_location("//evil.example", None), "/%2Fevil.example/");
        assert_eq!(slashed_location("/a b\"\x7f", Some("x=<y>")), "/a%20b%22%7F/?x=%3Cy%3E");
        for location in [slashed_location("/é\r\n", Some("ü")), redirect("/%5Cevil.example")] {
            assert!(http::HeaderValue::try_from(location.as_str()).is_ok(), "{location}");
        }
    }

    #[test]
    fn routes_are_listed_by_pattern() {
        let r = router(&[("/u/<name>", &[Method::GET]), ("/", &[Method::GET, Method::POST])]);
        assert_eq!(r.routes(), [("/", vec!["GET", "POST"], 1), ("/u/<name>", vec!["GET"], 0)]);
    }

    #[test]
    fn duplicates_name_the_first_endpoint() {
        let mut r = router(&[("/x/<int:a>", &[Method::GET, Method::POST])]);
        match r.insert(&Pattern::parse("/x/<int:b>").unwrap(), vec![Method::POST], 9) {
            Err(RouteConflict::Duplicate { endpoint: 0, method, .. }) => assert_eq!(method, Method::POST),
            other => panic!("{other:?}"),
        }
        r.insert(&Pattern::parse("/x/<b>").unwrap(), vec![Method::POST], 9).unwrap();
    }
}
