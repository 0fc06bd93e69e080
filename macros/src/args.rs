//! Parsing the attributes' arguments into typed values. Every check that needs only the
//! attribute (pattern, methods, status code) happens here, with errors on the user's token.

use erlen_pattern::Pattern;
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitInt, LitStr, Token, Type, bracketed};

use crate::errors::Errors;
use crate::units;

/// The HTTP methods a route may name.
pub const METHODS: [&str; 9] =
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"];

/// One `#[route(...)]` / `#[get(...)]` attribute: a pattern and its methods, and the
/// route's limits when this attribute sets them.
pub struct Rule {
    pub pattern: Pattern,
    pub lit: LitStr,
    pub methods: Vec<String>,
    /// `body_limit = "100 MiB"`, in bytes.
    pub body_limit: Option<Setting>,
    /// `timeout = "30 s"`, in milliseconds.
    pub timeout: Option<Setting>,
}

/// A checked `key = "value"` of a route attribute: its value, and its literal for errors.
#[derive(Clone)]
pub struct Setting {
    pub value: u64,
    pub span: Span,
}

/// Which route attribute this is: `route` takes `methods = [...]`, the others set one.
#[derive(Clone, Copy)]
pub enum RouteAttr {
    Route,
    Method(&'static str),
    /// `#[websocket]`: a GET route whose view upgrades the connection; never stacked.
    WebSocket,
}

impl RouteAttr {
    /// Recognizes a route attribute by its last path segment (`get`, `erlen::get`).
    pub fn from_name(name: &str) -> Option<RouteAttr> {
        if name == "route" {
            return Some(RouteAttr::Route);
        }
        crate::SHORTCUTS.iter().find(|(attr, _)| *attr == name).map(|(_, method)| RouteAttr::Method(method))
    }

    fn name(self) -> &'static str {
        match self {
            RouteAttr::Route => "route",
            RouteAttr::Method(m) => {
                crate::SHORTCUTS.iter().find(|(_, method)| *method == m).map_or("route", |(attr, _)| attr)
            }
            RouteAttr::WebSocket => "websocket",
        }
    }
}

struct RawRoute {
    lit: LitStr,
    methods: Option<(Span, Vec<LitStr>)>,
    body_limit: Option<(Span, Setting)>,
    timeout: Option<(Span, Setting)>,
}

impl Parse for RawRoute {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error("expected a URL pattern, as in `#[route(\"/users/<int:id>\")]`"));
        }
        let lit: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the URL pattern as a string literal, as in `\"/users/<int:id>\"`",
            )
        })?;
        let mut raw = RawRoute { lit, methods: None, body_limit: None, timeout: None };
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.parse()?;
            let (example, taken) = match key.to_string().as_str() {
                "methods" => ("methods = [\"GET\", \"POST\"]", raw.methods.is_some()),
                "body_limit" => ("body_limit = \"10 MiB\"", raw.body_limit.is_some()),
                "timeout" => ("timeout = \"30 s\"", raw.timeout.is_some()),
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{key}`: expected `methods = [\"GET\", \"POST\"]`, `body_limit = \"10 MiB\"` or `timeout = \"30 s\"`"
                        ),
                    ));
                }
            };
            if taken {
                return Err(syn::Error::new(key.span(), format!("`{key}` is given twice: give it once")));
            }
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(key.span(), format!("`{key}` needs a value, as in `{example}`")));
            }
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "methods" => {
                    let content;
                    bracketed!(content in input);
                    let list: Punctuated<LitStr, Token![,]> = Punctuated::parse_terminated(&content)?;
                    raw.methods = Some((key.span(), list.into_iter().collect()));
                }
                "body_limit" => raw.body_limit = Some((key.span(), setting(input, units::parse_size, true)?)),
                _ => raw.timeout = Some((key.span(), setting(input, units::parse_duration, false)?)),
            }
        }
        Ok(raw)
    }
}

/// The value of `body_limit` or `timeout`: a string with a unit, checked by `parse`, or
/// (for sizes) a number of bytes.
fn setting(
    input: ParseStream,
    parse: fn(&str) -> Result<u64, String>,
    bare_number: bool,
) -> syn::Result<Setting> {
    if bare_number && input.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        return Ok(Setting { value: lit.base10_parse()?, span: lit.span() });
    }
    let lit: LitStr = input.parse().map_err(|e| {
        let example = if bare_number { "\"100 MiB\"" } else { "\"30 s\"" };
        syn::Error::new(e.span(), format!("expected a string with a unit, as in {example}"))
    })?;
    let value = parse(&lit.value()).map_err(|message| syn::Error::new(lit.span(), message))?;
    Ok(Setting { value, span: lit.span() })
}

/// Parses and checks one route attribute's arguments.
pub fn parse_rule(kind: RouteAttr, tokens: proc_macro2::TokenStream, errors: &mut Errors) -> Option<Rule> {
    let raw: RawRoute = match syn::parse2(tokens) {
        Ok(raw) => raw,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let pattern = match Pattern::parse(&raw.lit.value()) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(pattern_error(&raw.lit, &e));
            None
        }
    };
    if let RouteAttr::WebSocket = kind {
        if let Some((span, _)) = raw.body_limit.as_ref().or(raw.timeout.as_ref()) {
            errors.push(syn::Error::new(
                *span,
                "a WebSocket has no request body and outlives any request timeout: remove `body_limit` and `timeout` from `#[websocket]`",
            ));
            return None;
        }
    }
    let body_limit = raw.body_limit.map(|(_, s)| s);
    let timeout = raw.timeout.map(|(_, s)| s);
    let methods = match (kind, raw.methods) {
        (RouteAttr::Method(m), None) => vec![m.to_string()],
        (RouteAttr::WebSocket, None) => vec!["GET".to_string()],
        (RouteAttr::WebSocket, Some((span, _))) => {
            errors.push(syn::Error::new(
                span,
                "a WebSocket opens with a GET request: remove `methods` from `#[websocket]`",
            ));
            return None;
        }
        (RouteAttr::Method(_), Some((span, _))) => {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`#[{}]` sets the method itself: use `#[route(\"...\", methods = [...])]` for several methods",
                    kind.name()
                ),
            ));
            return None;
        }
        (RouteAttr::Route, None) => vec!["GET".to_string()],
        (RouteAttr::Route, Some((span, list))) => {
            if list.is_empty() {
                errors
                    .push(syn::Error::new(span, "`methods` is empty: name at least one, as in `[\"GET\"]`"));
            }
            let mut methods = Vec::new();
            for lit in list {
                let m = lit.value().to_uppercase();
                if !METHODS.contains(&m.as_str()) {
                    errors.push(syn::Error::new(
                        lit.span(),
                        format!(
                            "unknown HTTP method `{}`: expected one of {}",
                            lit.value(),
                            METHODS.join(", ")
                        ),
                    ));
                } else if !methods.contains(&m) {
                    methods.push(m);
                }
            }
            methods
        }
    };
    Some(Rule { pattern: pattern?, lit: raw.lit, methods, body_limit, timeout })
}

/// What `#[errorhandler(...)]` handles: a status code or an error type.
pub enum ErrorTarget {
    Code(u16),
    Type(Box<Type>),
}

impl Parse for ErrorTarget {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error(
                "expected a status code or an error type, as in `#[errorhandler(500)]` or `#[errorhandler(MyError)]`",
            ));
        }
        let target = if input.peek(LitInt) {
            let lit: LitInt = input.parse()?;
            let code: u16 = lit.base10_parse().unwrap_or(0);
            if !(400..=599).contains(&code) {
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "`{lit}` is not an error status: error handlers take a code in 400..=599, or an error type"
                    ),
                ));
            }
            ErrorTarget::Code(code)
        } else {
            ErrorTarget::Type(Box::new(input.parse()?))
        };
        if !input.is_empty() {
            return Err(input.error("`#[errorhandler]` takes one status code or one error type"));
        }
        Ok(target)
    }
}

/// A pattern's error on the bad part of the literal where the compiler can point inside a
/// string, else on the whole literal with the bad part underlined in the message.
fn pattern_error(lit: &LitStr, error: &erlen_pattern::PatternError) -> syn::Error {
    let source = lit.value();
    let token = lit.token();
    // Offsets map one to one only for a plain literal without escapes: `"` + source + `"`.
    let plain = token.to_string() == format!("\"{source}\"");
    let range = error.range.start.min(source.len())..error.range.end.min(source.len()).max(error.range.start);
    let inner = plain.then(|| token.subspan(range.start + 1..range.end + 1)).flatten();
    match inner {
        Some(span) => syn::Error::new(span, format!("invalid route: {}", error.message)),
        None => {
            let marker =
                format!("{}{}", " ".repeat(range.start), "^".repeat((range.end - range.start).max(1)));
            syn::Error::new(lit.span(), format!("invalid route: {}\n  {source}\n  {marker}", error.message))
        }
    }
}

/// A route's `body_limit` and `timeout` belong to its one view: with stacked attributes,
/// each may be set on one of them only.
pub fn check_limits(rules: &[Rule], errors: &mut Errors) {
    let body_limits = rules.iter().filter_map(|r| r.body_limit.as_ref()).map(|s| ("body_limit", s));
    let timeouts = rules.iter().filter_map(|r| r.timeout.as_ref()).map(|s| ("timeout", s));
    for (key, extra) in body_limits.skip(1).chain(timeouts.skip(1)) {
        errors.push(syn::Error::new(
            extra.span,
            format!("`{key}` is set on another route attribute of this function: set it once, it applies to every URL of the view"),
        ));
    }
}

/// The route's `body_limit` and `timeout`, from whichever attribute sets them.
pub fn limits(rules: &[Rule]) -> (Option<u64>, Option<u64>) {
    let body_limit = rules.iter().find_map(|r| r.body_limit.as_ref()).map(|s| s.value);
    let timeout = rules.iter().find_map(|r| r.timeout.as_ref()).map(|s| s.value);
    (body_limit, timeout)
}
