//! Parsing the attributes' arguments into typed values. Every check that needs only the
//! attribute (pattern, methods, status code) happens here, with errors on the user's token.

use erlen_pattern::Pattern;
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitInt, LitStr, Token, Type, bracketed};

use crate::errors::Errors;

/// The HTTP methods a route may name.
pub const METHODS: [&str; 9] =
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"];

/// One `#[route(...)]` / `#[get(...)]` attribute: a pattern and its methods.
pub struct Rule {
    pub pattern: Pattern,
    pub lit: LitStr,
    pub methods: Vec<String>,
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
        let mut methods = None;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.parse()?;
            if key != "methods" {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{key}`: expected `methods = [\"GET\", \"POST\"]`"),
                ));
            }
            input.parse::<Token![=]>()?;
            let content;
            bracketed!(content in input);
            let list: Punctuated<LitStr, Token![,]> = Punctuated::parse_terminated(&content)?;
            methods = Some((key.span(), list.into_iter().collect()));
        }
        Ok(RawRoute { lit, methods })
    }
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
    Some(Rule { pattern: pattern?, lit: raw.lit, methods })
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
