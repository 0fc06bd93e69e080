//! Parsing an attribute's arguments into what it says ([`Kind`]). Every check that needs
//! only the attribute (pattern, methods, status code, name) happens here, with errors on
//! the user's token. `allow_blocking`, which any attribute but a template's may carry, is
//! taken out here, once for every attribute.

use erlen_pattern::{METHODS, Pattern};
use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitBool, LitInt, LitStr, Token, bracketed};

use crate::errors::Errors;
use crate::kind::{ErrorTarget, Kind, Rate, Rule, Setting};
use crate::table::{Attr, Role};
use crate::{blocking, units};

/// An attribute's arguments, parsed.
pub(crate) struct Parsed {
    /// `None` when the arguments are wrong beyond use (the errors are recorded).
    pub kind: Option<Kind>,
    /// `allow_blocking` was given: no warning for blocking calls in an async body.
    pub allow_blocking: bool,
}

/// Parses and checks `attr`'s arguments.
pub(crate) fn parse(attr: Attr, tokens: TokenStream, errors: &mut Errors) -> Parsed {
    let (tokens, flag) = blocking::take_allow_blocking(tokens);
    let name = attr.name;
    let bare = |kind: Kind, errors: &mut Errors| {
        if !tokens.is_empty() {
            errors.at(&tokens, format!("`#[{name}]` takes no arguments but `allow_blocking`"));
        }
        Some(kind)
    };
    let kind = match attr.role {
        Role::Route | Role::Method(_) => rule(attr, tokens.clone(), errors).map(|r| Kind::Route(vec![r])),
        Role::WebSocket => rule(attr, tokens.clone(), errors).map(Kind::WebSocket),
        Role::ErrorHandler => match syn::parse2::<ErrorTarget>(tokens.clone()) {
            Ok(target) => Some(Kind::Error(target)),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        Role::TemplateFilter => Some(Kind::Filter(template_name(name, "shout", &tokens, errors))),
        Role::TemplateGlobal => Some(Kind::Global(template_name(name, "shout", &tokens, errors))),
        Role::Command => Some(Kind::Command(command_name(&tokens, errors))),
        Role::BeforeRequest => bare(Kind::Before, errors),
        Role::AfterRequest => bare(Kind::After, errors),
        Role::TeardownRequest => bare(Kind::Teardown, errors),
        Role::BeforeServing => bare(Kind::BeforeServing, errors),
        Role::AfterServing => bare(Kind::AfterServing, errors),
    };
    if let Some(flag) = &flag {
        if matches!(attr.role, Role::TemplateFilter | Role::TemplateGlobal) {
            errors.at(
                flag,
                format!(
                    "`allow_blocking` silences the warnings about blocking calls in an `async fn`; a `#[{name}]` is a plain `fn`: remove it"
                ),
            );
        }
    }
    Parsed { kind, allow_blocking: flag.is_some() }
}

/// A template function's name, when given: `#[template_filter("shout")]`.
fn template_name(attr: &str, example: &str, tokens: &TokenStream, errors: &mut Errors) -> Option<LitStr> {
    if tokens.is_empty() {
        return None;
    }
    match syn::parse2::<LitStr>(tokens.clone()) {
        Ok(lit) => Some(lit),
        Err(_) => {
            errors.at(
                tokens,
                format!("`#[{attr}]` takes an optional name in quotes, as in `#[{attr}(\"{example}\")]`"),
            );
            None
        }
    }
}

/// A command's name, when given: `#[command("init-db")]`; checked to be one a shell passes
/// as one word and erlen's own commands do not take.
fn command_name(tokens: &TokenStream, errors: &mut Errors) -> Option<LitStr> {
    let lit = template_name("command", "init-db", tokens, errors)?;
    let name = lit.value();
    let valid = !name.is_empty()
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if !valid {
        errors.at(
            &lit,
            format!(
                "`{name}` cannot name a command: use letters, digits and `-`, not starting with `-`, as in `#[command(\"init-db\")]`"
            ),
        );
        return None;
    }
    Some(lit)
}

struct RawRoute {
    lit: LitStr,
    methods: Option<(Span, Vec<LitStr>)>,
    body_limit: Option<(Span, Setting)>,
    timeout: Option<(Span, Setting)>,
    rate_limit: Option<Rate>,
    csrf: Option<LitBool>,
}

/// A route attribute's `key = value` arguments after its pattern, each with an example of
/// its value: the one list the parser accepts and its "unknown argument" message names.
const ARGUMENTS: [(&str, &str); 5] = [
    ("methods", "methods = [\"GET\", \"POST\"]"),
    ("body_limit", "body_limit = \"10 MiB\""),
    ("timeout", "timeout = \"30 s\""),
    ("rate_limit", "rate_limit = \"5/minute\""),
    ("csrf", "csrf = false"),
];

/// "`a`, `b` or `c`": the arguments' examples, for the message of an unknown one.
fn expected_arguments() -> String {
    let examples: Vec<String> = ARGUMENTS.iter().map(|(_, example)| format!("`{example}`")).collect();
    let (last, rest) = examples.split_last().expect("ARGUMENTS is not empty");
    format!("{} or {last}", rest.join(", "))
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
        let mut raw =
            RawRoute { lit, methods: None, body_limit: None, timeout: None, rate_limit: None, csrf: None };
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.parse()?;
            let name = key.to_string();
            let Some(&(_, example)) = ARGUMENTS.iter().find(|(known, _)| *known == name) else {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{key}`: expected {}", expected_arguments()),
                ));
            };
            let taken = match name.as_str() {
                "methods" => raw.methods.is_some(),
                "body_limit" => raw.body_limit.is_some(),
                "timeout" => raw.timeout.is_some(),
                "rate_limit" => raw.rate_limit.is_some(),
                _ => raw.csrf.is_some(),
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
                "csrf" => raw.csrf = Some(csrf(input)?),
                "rate_limit" => {
                    let lit: LitStr = input
                        .parse()
                        .map_err(|e| syn::Error::new(e.span(), "expected a string, as in \"5/minute\""))?;
                    let (count, per) = units::parse_rate(&lit.value())
                        .map_err(|message| syn::Error::new(lit.span(), message))?;
                    raw.rate_limit = Some(Rate { count, per, span: lit.span() });
                }
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

/// The value of `csrf`: `false` exempts the route from CSRF protection (`true`, the
/// default, says so explicitly).
fn csrf(input: ParseStream) -> syn::Result<LitBool> {
    input.parse::<LitBool>().map_err(|e| {
        syn::Error::new(
            e.span(),
            "`csrf` takes `false` to exempt this route from CSRF protection (or `true`, the default), as in `csrf = false`",
        )
    })
}

/// The rule of a route, shortcut or WebSocket attribute.
fn rule(attr: Attr, tokens: TokenStream, errors: &mut Errors) -> Option<Rule> {
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
    if let Role::WebSocket = attr.role {
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
    let rate_limit = raw.rate_limit;
    let methods = match (attr.role, raw.methods) {
        (Role::Method(m), None) => vec![m],
        (Role::Method(_), Some((span, _))) => {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`#[{}]` sets the method itself: use `#[route(\"...\", methods = [...])]` for several methods",
                    attr.name
                ),
            ));
            return None;
        }
        (Role::WebSocket, Some((span, _))) => {
            errors.push(syn::Error::new(
                span,
                "a WebSocket opens with a GET request: remove `methods` from `#[websocket]`",
            ));
            return None;
        }
        (_, None) => vec!["GET"],
        (_, Some((span, list))) => methods(span, list, errors),
    };
    Some(Rule { pattern: pattern?, lit: raw.lit, methods, body_limit, timeout, rate_limit, csrf: raw.csrf })
}

/// `methods = [...]` of a `#[route]`: each a known method, in any case, once.
fn methods(span: Span, list: Vec<LitStr>, errors: &mut Errors) -> Vec<&'static str> {
    if list.is_empty() {
        errors.push(syn::Error::new(span, "`methods` is empty: name at least one, as in `[\"GET\"]`"));
    }
    let mut methods = Vec::new();
    for lit in list {
        match erlen_pattern::method(&lit.value()) {
            Some(m) if !methods.contains(&m) => methods.push(m),
            Some(_) => {}
            None => errors.push(syn::Error::new(
                lit.span(),
                format!("unknown HTTP method `{}`: expected one of {}", lit.value(), METHODS.join(", ")),
            )),
        }
    }
    methods
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

/// A route's `body_limit`, `timeout`, `rate_limit` and `csrf` belong to its one view: with
/// stacked attributes, each may be set on one of them only.
pub(crate) fn check_limits(rules: &[Rule], errors: &mut Errors) {
    let body_limits = rules.iter().filter_map(|r| r.body_limit.as_ref()).map(|s| ("body_limit", s.span));
    let timeouts = rules.iter().filter_map(|r| r.timeout.as_ref()).map(|s| ("timeout", s.span));
    let rates = rules.iter().filter_map(|r| r.rate_limit.as_ref()).map(|r| ("rate_limit", r.span));
    let csrf = rules.iter().filter_map(|r| r.csrf.as_ref()).map(|b| ("csrf", b.span));
    for (key, span) in body_limits.skip(1).chain(timeouts.skip(1)).chain(rates.skip(1)).chain(csrf.skip(1)) {
        errors.push(syn::Error::new(
            span,
            format!("`{key}` is set on another route attribute of this function: set it once, it applies to every URL of the view"),
        ));
    }
}
