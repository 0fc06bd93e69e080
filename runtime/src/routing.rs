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
use http::Method;

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

    /// Routes `method` and `path` (percent-decoded); `query` is kept on redirects.
    pub(crate) fn lookup(&self, method: &Method, path: &str, query: Option<&str>) -> Match {
        match self.lookup_path(method, path) {
            Some(found) => found,
            None if !path.ends_with('/') => {
                let slashed = format!("{path}/");
                match self.lookup_path(method, &slashed) {
                    Some(Match::Found { .. }) => Match::Redirect {
                        location: match query {
                            Some(q) => format!("{slashed}?{q}"),
                            None => slashed,
                        },
                    },
                    _ => Match::NotFound,
                }
            }
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

    #[test]
    fn typed_converters_win_over_strings() {
        let r = router(&[("/u/<name>", &[Method::GET]), ("/u/<int:id>", &[Method::GET])]);
        assert_eq!(found(r.lookup(&Method::GET, "/u/7", None)), (1, vec![("id".into(), "7".into())]));
        assert_eq!(found(r.lookup(&Method::GET, "/u/bob", None)).0, 0);
    }

    #[test]
    fn flask_answers_when_nothing_serves_the_method() {
        let r = router(&[("/a/", &[Method::GET]), ("/b", &[Method::POST])]);
        assert_eq!(r.lookup(&Method::GET, "/a", Some("x=1")), Match::Redirect { location: "/a/?x=1".into() });
        assert_eq!(
            r.lookup(&Method::GET, "/b", None),
            Match::MethodNotAllowed { allow: "OPTIONS, POST".into() }
        );
        assert_eq!(r.lookup(&Method::GET, "/b/", None), Match::NotFound);
        assert_eq!(found(r.lookup(&Method::HEAD, "/a/", None)).0, 0);
        match r.lookup(&Method::OPTIONS, "/a/", None) {
            Match::Found { options, .. } => assert_eq!(options.as_deref(), Some("GET, HEAD, OPTIONS")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn int_converter_rejects_words_as_not_found() {
        let r = router(&[("/u/<int:id>", &[Method::GET])]);
        assert_eq!(r.lookup(&Method::GET, "/u/x", None), Match::NotFound);
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
