//! The URL pattern language of erlen, shared by the macros (which check patterns at
//! compile time) and the runtime (which builds its router from them at start-up), and
//! the HTTP methods a route may name ([`METHODS`]), listed once for both.
//!
//! Patterns follow Flask: static text with `<name>` or `<converter:name>` parameters.
//!
//! ```
//! use erlen_pattern::{Converter, Pattern, Segment};
//!
//! let p = Pattern::parse("/users/<int:id>/files/<path:rest>").unwrap();
//! assert_eq!(p.params().map(|(name, conv)| (name, conv)).collect::<Vec<_>>(),
//!            vec![("id", Converter::Int), ("rest", Converter::Path)]);
//! assert_eq!(p.to_matchit(), "/users/{p0}/files/{*p1}");
//! assert!(matches!(p.segments()[0], Segment::Static(_)));
//! ```

use std::fmt;

mod method;

pub use method::{METHODS, method};

/// A converter turns one piece of the path into a typed value, as in Flask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Converter {
    /// `<name>` or `<string:name>`: any text without a slash.
    String,
    /// `<int:name>`: one or more ASCII digits.
    Int,
    /// `<float:name>`: digits, a dot, digits (`1.5`), as Flask's float converter.
    Float,
    /// `<path:name>`: like string, but also matches slashes; must end the pattern.
    Path,
    /// `<uuid:name>`: a UUID in its 8-4-4-4-12 hexadecimal form.
    Uuid,
}

impl Converter {
    /// The converters a pattern may name, as written in a pattern.
    pub const NAMES: [&'static str; 5] = ["string", "int", "float", "path", "uuid"];

    /// Looks a converter up by the name written in a pattern.
    pub fn from_name(name: &str) -> Option<Converter> {
        Some(match name {
            "string" => Converter::String,
            "int" => Converter::Int,
            "float" => Converter::Float,
            "path" => Converter::Path,
            "uuid" => Converter::Uuid,
            _ => return None,
        })
    }

    /// The name of the converter as written in a pattern.
    pub fn name(self) -> &'static str {
        match self {
            Converter::String => "string",
            Converter::Int => "int",
            Converter::Float => "float",
            Converter::Path => "path",
            Converter::Uuid => "uuid",
        }
    }

    /// Whether `value` (one already percent-decoded piece of a path) is accepted by the
    /// converter. A value that is not accepted means the route does not match.
    ///
    /// ```
    /// use erlen_pattern::Converter;
    /// assert!(Converter::Int.accepts("42"));
    /// assert!(!Converter::Int.accepts("-4"));
    /// assert!(Converter::Float.accepts("1.5"));
    /// assert!(Converter::Uuid.accepts("67e55044-10b1-426f-9247-bb680e5fe0c8"));
    /// ```
    pub fn accepts(self, value: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match self {
            Converter::String => !value.is_empty() && !value.contains('/'),
            Converter::Path => !value.is_empty(),
            Converter::Int => digits(value),
            Converter::Float => value.split_once('.').is_some_and(|(a, b)| digits(a) && digits(b)),
            Converter::Uuid => {
                let groups: Vec<&str> = value.split('-').collect();
                groups.len() == 5
                    && groups
                        .iter()
                        .zip([8, 4, 4, 4, 12])
                        .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
            }
        }
    }

    /// How specific the converter is; lower wins when two routes of the same shape both
    /// match (so `/<int:id>` is tried before `/<name>`, as Flask orders its rules).
    pub fn specificity(self) -> u8 {
        match self {
            Converter::Int | Converter::Float | Converter::Uuid => 0,
            Converter::String => 1,
            Converter::Path => 2,
        }
    }
}

impl fmt::Display for Converter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One piece of a parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text, matched as is.
    Static(String),
    /// A parameter: `<converter:name>`.
    Param {
        /// The parameter's name, which the handler's argument must share.
        name: String,
        /// The converter that checks the value.
        converter: Converter,
    },
}

/// A parsed, valid URL pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    segments: Vec<Segment>,
}

/// Why a pattern is not valid, with the byte range of the offending text in the pattern
/// so that the macros can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// What is wrong and how to fix it.
    pub message: String,
    /// Byte offsets into the pattern where the mistake is.
    pub range: std::ops::Range<usize>,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PatternError {}

fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

impl Pattern {
    /// Parses and validates a pattern. All checks happen here: a leading `/`, closed
    /// `<...>`, known converters, parameter names that are Rust identifiers and unique,
    /// at most one parameter per path segment, and `path` only at the end.
    pub fn parse(source: &str) -> Result<Pattern, PatternError> {
        let err = |message: String, range: std::ops::Range<usize>| PatternError { message, range };
        if !source.starts_with('/') {
            return Err(err(format!("a route must start with `/`: write \"/{source}\""), 0..source.len()));
        }
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        let mut offset = 0;
        // Position of the start of the current path segment, to find two params in one.
        let mut segment_has_param: Option<std::ops::Range<usize>> = None;
        while let Some(c) = rest.chars().next() {
            match c {
                '<' => {
                    let Some(close) = rest.find('>') else {
                        return Err(err(
                            "unclosed `<` in route: close the parameter with `>`, as in `<int:id>`".into(),
                            offset..source.len(),
                        ));
                    };
                    let inner = &rest[1..close];
                    let range = offset..offset + close + 1;
                    if inner.contains('<') {
                        return Err(err(
                            "unclosed `<` in route: close the parameter with `>`, as in `<int:id>`".into(),
                            range,
                        ));
                    }
                    let (conv_name, name) = match inner.split_once(':') {
                        Some((c, n)) => (c.trim(), n.trim()),
                        None => ("string", inner.trim()),
                    };
                    let Some(converter) = Converter::from_name(conv_name) else {
                        return Err(err(
                            format!(
                                "unknown converter `{conv_name}`: expected one of {}",
                                Converter::NAMES.map(|n| format!("`{n}`")).join(", ")
                            ),
                            range,
                        ));
                    };
                    if !is_ident(name) {
                        return Err(err(
                            format!(
                                "`{name}` is not a valid parameter name: use a Rust identifier, as in `<{conv_name}:id>`"
                            ),
                            range,
                        ));
                    }
                    if segments.iter().any(|s| matches!(s, Segment::Param { name: n, .. } if n == name)) {
                        return Err(err(
                            format!("duplicate parameter `{name}`: each parameter needs its own name"),
                            range,
                        ));
                    }
                    if let Some(prev) = &segment_has_param {
                        return Err(err(
                            format!(
                                "only one parameter fits in a path segment; `{}` already is in this one: separate them with `/`",
                                &source[prev.clone()]
                            ),
                            range,
                        ));
                    }
                    if let Some(Segment::Param { name: prev, converter: Converter::Path }) = segments.last() {
                        return Err(err(
                            format!("`<path:{prev}>` must end the route: nothing may follow it"),
                            range,
                        ));
                    }
                    if !text.is_empty() {
                        segments.push(Segment::Static(std::mem::take(&mut text)));
                    }
                    segment_has_param = Some(range.clone());
                    segments.push(Segment::Param { name: name.to_string(), converter });
                    rest = &rest[close + 1..];
                    offset += close + 1;
                    if converter == Converter::Path && !rest.is_empty() {
                        return Err(err(
                            format!("`<path:{name}>` must end the route: nothing may follow it"),
                            range.start..source.len(),
                        ));
                    }
                    if converter == Converter::Path
                        && !matches!(segments.iter().rev().nth(1), Some(Segment::Static(s)) if s.ends_with('/'))
                    {
                        return Err(err(
                            format!("`<path:{name}>` must be a whole path segment: put a `/` before it"),
                            range,
                        ));
                    }
                }
                '>' => {
                    return Err(err("`>` without a matching `<` in route".into(), offset..offset + 1));
                }
                _ => {
                    if c == '/' {
                        segment_has_param = None;
                    }
                    text.push(c);
                    rest = &rest[c.len_utf8()..];
                    offset += c.len_utf8();
                }
            }
        }
        if !text.is_empty() {
            segments.push(Segment::Static(text));
        }
        Ok(Pattern { source: source.to_string(), segments })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The pieces of the pattern, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The parameters, in order: name and converter.
    pub fn params(&self) -> impl Iterator<Item = (&str, Converter)> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param { name, converter } => Some((name.as_str(), *converter)),
            Segment::Static(_) => None,
        })
    }

    /// The pattern in matchit's syntax with positional parameter names (`p0`, `p1`, ...),
    /// so that two patterns of the same shape map to the same router entry whatever
    /// their parameter names and converters.
    pub fn to_matchit(&self) -> String {
        let mut out = String::with_capacity(self.source.len());
        let mut index = 0;
        for segment in &self.segments {
            match segment {
                Segment::Static(s) => {
                    for c in s.chars() {
                        match c {
                            '{' => out.push_str("{{"),
                            '}' => out.push_str("}}"),
                            c => out.push(c),
                        }
                    }
                }
                Segment::Param { converter, .. } => {
                    let star = if *converter == Converter::Path { "*" } else { "" };
                    out.push_str(&format!("{{{star}p{index}}}"));
                    index += 1;
                }
            }
        }
        out
    }
}

/// Joins a blueprint's URL prefix and a route, as Flask does: `/bp` + `/` is `/bp/`.
///
/// ```
/// assert_eq!(erlen_pattern::join_prefix("/bp", "/"), "/bp/");
/// assert_eq!(erlen_pattern::join_prefix("/api/", "/users"), "/api/users");
/// assert_eq!(erlen_pattern::join_prefix("", "/x"), "/x");
/// ```
pub fn join_prefix(prefix: &str, rule: &str) -> String {
    if prefix.is_empty() {
        return rule.to_string();
    }
    format!("{}/{}", prefix.trim_end_matches('/'), rule.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(p: &str) -> String {
        Pattern::parse(p).unwrap_err().message
    }

    #[test]
    fn parses_flask_patterns() {
        let p = Pattern::parse("/a/<x>/b/<float:y>").unwrap();
        assert_eq!(p.params().collect::<Vec<_>>(), vec![("x", Converter::String), ("y", Converter::Float)]);
        assert_eq!(p.to_matchit(), "/a/{p0}/b/{p1}");
        assert_eq!(Pattern::parse("/img-<int:id>.png").unwrap().to_matchit(), "/img-{p0}.png");
        assert_eq!(Pattern::parse("/{lit}").unwrap().to_matchit(), "/{{lit}}");
    }

    #[test]
    fn rejects_mistakes_with_a_range() {
        assert!(err("users").contains("must start with `/`"));
        assert!(err("/a/<int:id").contains("unclosed `<`"));
        assert!(err("/a/<num:id>").contains("unknown converter `num`"));
        assert!(err("/<a>/<int:a>").contains("duplicate parameter `a`"));
        assert!(err("/<a>-<b>").contains("only one parameter"));
        assert!(err("/<path:p>/x").contains("must end the route"));
        assert!(err("/x<path:p>").contains("whole path segment"));
        assert!(err("/<1x>").contains("not a valid parameter name"));
        assert!(err("/a>").contains("without a matching `<`"));
        let e = Pattern::parse("/ok/<bad:id>").unwrap_err();
        assert_eq!(&"/ok/<bad:id>"[e.range], "<bad:id>");
    }

    #[test]
    fn converters_accept_what_flask_accepts() {
        assert!(Converter::String.accepts("abc"));
        assert!(!Converter::String.accepts("a/b"));
        assert!(Converter::Path.accepts("a/b"));
        assert!(!Converter::Int.accepts("1.5"));
        assert!(!Converter::Int.accepts(""));
        assert!(!Converter::Float.accepts("1"));
        assert!(!Converter::Uuid.accepts("67e55044-10b1-426f-9247-bb680e5fe0c"));
    }

    #[test]
    fn joins_prefixes() {
        assert_eq!(join_prefix("/bp", "/x/"), "/bp/x/");
    }
}
