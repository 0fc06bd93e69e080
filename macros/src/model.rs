//! Checking the user's function against what its attribute needs, and turning it into a
//! model that code generation can trust: every argument classified, every mistake
//! reported on the user's own token.

use erlen_pattern::Converter;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, Type};

use crate::args::{ErrorTarget, Rule};
use crate::errors::Errors;

/// What the function is registered as.
pub enum Kind {
    Route(Vec<Rule>),
    Before,
    After,
    Teardown,
    Error(ErrorTarget),
    /// `#[before_serving]`: once, before the server accepts connections.
    BeforeServing,
    /// `#[after_serving]`: once, after the last request has drained.
    AfterServing,
    /// `#[websocket]`: a GET route whose view upgrades the connection and hands the
    /// socket to the function.
    WebSocket(Rule),
}

impl Kind {
    pub fn is_hook(&self) -> bool {
        !matches!(self, Kind::Route(_) | Kind::WebSocket(_))
    }

    /// The URL rules of a route or a WebSocket; none for a hook.
    pub fn rules(&self) -> &[Rule] {
        match self {
            Kind::Route(rules) => rules,
            Kind::WebSocket(rule) => std::slice::from_ref(rule),
            _ => &[],
        }
    }

    /// A hook that runs outside any request and so takes application state only.
    pub fn is_serving(&self) -> bool {
        matches!(self, Kind::BeforeServing | Kind::AfterServing)
    }
}

/// How one argument of the user's function is produced.
pub enum Arg {
    /// `&Request` or `&mut Request`.
    Request { mutable: bool },
    /// A `<converter:name>` of the route.
    Param { name: String, converter: Converter, ty: Type },
    /// Any other type: an extractor.
    Extract { ty: Type },
    /// `Response`, in an `after_request` hook.
    Response,
    /// `Option<&HttpError>`, in a `teardown_request` hook.
    TeardownError,
    /// `&HttpError`, in an error handler.
    Error,
    /// `&E`, in an `errorhandler(E)` handler.
    TypedError { ty: Type },
    /// `WebSocket` or `BlockingWebSocket`, in a `#[websocket]` handler.
    Socket { blocking: bool, ty: Type },
}

/// A checked handler.
pub struct Handler {
    pub func: ItemFn,
    pub kind: Kind,
    pub args: Vec<Arg>,
    /// `allow_blocking` was given: no warning for blocking calls in an async body.
    pub allow_blocking: bool,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == name && s.arguments.is_none())
}

/// `Option<T>`: the `T`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let seg = last_segment(ty).filter(|s| s.ident == "Option")?;
    let PathArguments::AngleBracketed(args) = &seg.arguments else { return None };
    match args.args.first() {
        Some(GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// `Option<&T>`: the `&T`.
fn option_of_ref(ty: &Type) -> Option<&syn::TypeReference> {
    let seg = last_segment(ty).filter(|s| s.ident == "Option")?;
    let PathArguments::AngleBracketed(args) = &seg.arguments else { return None };
    match args.args.first() {
        Some(GenericArgument::Type(Type::Reference(r))) if args.args.len() == 1 => Some(r),
        _ => None,
    }
}

fn tokens_eq(a: &Type, b: &Type) -> bool {
    quote::quote!(#a).to_string() == quote::quote!(#b).to_string()
}

/// A type as the user would write it: `std::io::Error`, not `std :: io :: Error`.
pub fn pretty(ty: &Type) -> String {
    let text = quote::quote!(#ty).to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        let next = chars.peek().copied().unwrap_or(' ');
        let glue =
            matches!(prev, ':' | '<' | '&' | '(' | '[') || matches!(next, ':' | '<' | '>' | ',' | ')' | ']');
        if c == ' ' && glue {
            continue;
        }
        out.push(c);
        prev = c;
    }
    out
}

/// Checks `func` for `kind`; mistakes go to `errors`, and what can be classified is.
pub fn analyze(func: ItemFn, kind: Kind, attr: &str, errors: &mut Errors) -> Handler {
    let sig = &func.sig;
    if let Some(c) = &sig.constness {
        errors.at(c, format!("`#[{attr}]` cannot be placed on a `const fn`"));
    }
    if let Some(u) = &sig.unsafety {
        errors.at(
            u,
            format!(
                "`#[{attr}]` cannot be placed on an `unsafe fn`: wrap the unsafe code in a safe function"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, format!("`#[{attr}]` cannot be placed on an `extern` function"));
    }
    if let Some(v) = &sig.variadic {
        errors.at(v, "handlers cannot be variadic");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!(
                "`#[{attr}]` functions cannot be generic: erlen registers one concrete function; \
                 remove the generic parameters and use concrete types"
            ),
        );
    }

    let mut args = Vec::new();
    for input in &sig.inputs {
        let pat_ty = match input {
            FnArg::Receiver(r) => {
                errors.at(
                    r,
                    format!(
                        "`#[{attr}]` functions cannot take `self`: make it a free function (outside the `impl`) and reach shared data through `State<T>`"
                    ),
                );
                continue;
            }
            FnArg::Typed(t) => t,
        };
        let name = match &*pat_ty.pat {
            Pat::Ident(i) => Some(i.ident.to_string()),
            _ => None,
        };
        args.push(classify(&kind, attr, name, &pat_ty.ty, errors));
    }
    check_body_args(&kind, &func, attr, errors);
    check_route_params(&kind, &func, &mut args, errors);
    check_kind_args(&kind, &func, &args, errors);
    Handler { func, kind, args, allow_blocking: false }
}

fn classify(kind: &Kind, attr: &str, name: Option<String>, ty: &Type, errors: &mut Errors) -> Arg {
    // Route parameters by name come first; `check_route_params` fills in their converter.
    if let Some(name) = &name {
        if let Some(converter) =
            kind.rules().iter().find_map(|r| r.pattern.params().find(|(n, _)| n == name).map(|(_, c)| c))
        {
            return Arg::Param { name: name.clone(), converter, ty: ty.clone() };
        }
    }
    let socket = ["WebSocket", "BlockingWebSocket"].into_iter().find(|s| is_named(ty, s));
    if let Kind::WebSocket(_) = kind {
        if let Type::Reference(r) = ty {
            let what = if is_named(&r.elem, "Request") { "the request" } else { "a reference" };
            errors.at(
                ty,
                format!(
                    "a `#[websocket]` handler runs after the upgrade, when the request is gone: it cannot take {what} (`{}`); \
                     take owned values instead (route parameters, `State<T>`, `Query<T>`, `Session`, your own extractor), \
                     which are extracted before the upgrade and moved into the handler",
                    pretty(ty)
                ),
            );
            return Arg::Extract { ty: ty.clone() };
        }
        if let Some(socket) = socket {
            return Arg::Socket { blocking: socket == "BlockingWebSocket", ty: ty.clone() };
        }
    } else if let Some(socket) = socket {
        errors.at(
            ty,
            format!(
                "a `{socket}` is given to WebSocket handlers only: mark the function with `#[websocket(\"/path\")]` instead of `#[{attr}]`"
            ),
        );
        return Arg::Extract { ty: ty.clone() };
    }
    if kind.is_serving() {
        if let Type::Reference(r) = ty {
            let when = match kind {
                Kind::BeforeServing => "once, before the server accepts its first connection",
                _ => "once, after the last request has drained",
            };
            let what = if is_named(&r.elem, "Request") { "the request" } else { "a reference" };
            errors.at(
                ty,
                format!(
                    "`#[{attr}]` hooks run {when}, outside any request: they cannot take {what} (`{}`); \
                     take application state as `State<T>` (added with `App::state(value)`)",
                    pretty(ty)
                ),
            );
        }
        return Arg::Extract { ty: ty.clone() };
    }
    if let Type::Reference(r) = ty {
        if is_named(&r.elem, "Request") {
            let mutable = r.mutability.is_some();
            if mutable && !kind.is_hook() {
                errors.at(
                    ty,
                    "views take `&Request`, not `&mut Request`: change the request in a `#[before_request]` hook, which may take `&mut Request`",
                );
            }
            return Arg::Request { mutable };
        }
        match kind {
            Kind::Error(ErrorTarget::Code(_)) if is_named(&r.elem, "HttpError") => return Arg::Error,
            Kind::Error(ErrorTarget::Type(_)) if is_named(&r.elem, "HttpError") => return Arg::Error,
            Kind::Error(ErrorTarget::Type(target)) => {
                if !tokens_eq(&r.elem, target) {
                    errors.at(
                        &r.elem,
                        format!(
                            "this handler is registered for `{t}` but takes `&{}`: take `err: &{t}`",
                            pretty(&r.elem),
                            t = pretty(target)
                        ),
                    );
                }
                return Arg::TypedError { ty: (*r.elem).clone() };
            }
            _ => {}
        }
        let what = match (kind, &name) {
            (Kind::Route(_), Some(n)) => format!(
                "`{n}` is not a parameter of the route, and `&` types cannot be extracted: add `<{n}>` to the route, or take `&Request`, or an extractor by value"
            ),
            _ => format!(
                "`#[{attr}]` functions take `&Request` or extractors by value; this reference cannot be provided"
            ),
        };
        errors.at(ty, what);
        return Arg::Extract { ty: ty.clone() };
    }
    match kind {
        Kind::After if is_named(ty, "Response") => return Arg::Response,
        Kind::Teardown => {
            if let Some(r) = option_of_ref(ty) {
                if !is_named(&r.elem, "HttpError") {
                    errors.at(ty, "a `#[teardown_request]` hook takes the error as `Option<&HttpError>`");
                }
                return Arg::TeardownError;
            }
        }
        _ => {}
    }
    Arg::Extract { ty: ty.clone() }
}

/// The streamed body matches the function's kind: `BodyStream` is read with `.await`,
/// `BodyReader` blocks; and only a view (which runs after the body is ready for it) takes
/// either, or `Multipart`.
fn check_body_args(kind: &Kind, func: &ItemFn, attr: &str, errors: &mut Errors) {
    let is_async = func.sig.asyncness.is_some();
    for input in &func.sig.inputs {
        let FnArg::Typed(t) = input else { continue };
        let ty = option_inner(&t.ty).unwrap_or(&t.ty);
        let Some(name) = ["BodyStream", "BodyReader", "Multipart"].into_iter().find(|n| is_named(ty, n))
        else {
            continue;
        };
        if !matches!(kind, Kind::Route(_)) {
            errors.at(
                ty,
                format!(
                    "`#[{attr}]` functions cannot take `{name}`: only a view reads the request body this way"
                ),
            );
        } else if name == "BodyReader" && is_async {
            errors.at(
                ty,
                "`BodyReader` blocks its thread on every read: in an `async fn` take `BodyStream` and read it with `.next().await`, or make the view a plain `fn` (erlen runs it off the runtime)",
            );
        } else if name == "BodyStream" && !is_async {
            errors.at(
                ty,
                "`BodyStream` is read with `.await`, which a plain `fn` cannot do: take `BodyReader` (`std::io::Read`) instead, or make the view an `async fn`",
            );
        }
    }
}

/// Every `<name>` of every stacked route needs an argument, with the same converter in
/// each route that names it.
fn check_route_params(kind: &Kind, func: &ItemFn, args: &mut [Arg], errors: &mut Errors) {
    let fn_name = &func.sig.ident;
    for rule in kind.rules() {
        for (name, converter) in rule.pattern.params() {
            match args.iter().find(|a| matches!(a, Arg::Param { name: n, .. } if n == name)) {
                None => errors.at(
                    &rule.lit,
                    format!(
                        "route parameter `<{name}>` has no argument in `{fn_name}`: add `{name}: {}` to its parameters",
                        example_type(converter)
                    ),
                ),
                Some(Arg::Param { converter: c, .. }) if *c != converter => errors.at(
                    &rule.lit,
                    format!(
                        "`<{name}>` is `{converter}` here but `{c}` in another route of `{fn_name}`: stacked routes must agree"
                    ),
                ),
                Some(_) => {}
            }
        }
        for arg in args.iter() {
            if let Arg::Param { name, .. } = arg {
                if !rule.pattern.params().any(|(n, _)| n == name) {
                    errors.at(
                        &rule.lit,
                        format!(
                            "argument `{name}` of `{fn_name}` is a route parameter elsewhere but not in this route: add `<{name}>` here"
                        ),
                    );
                }
            }
        }
    }
}

fn example_type(converter: Converter) -> &'static str {
    match converter {
        Converter::Int => "i64",
        Converter::Float => "f64",
        _ => "String",
    }
}

/// Hook-specific shapes: an after hook takes the response; at most one of each special
/// argument; request references are not mixed `&` with `&mut`.
fn check_kind_args(kind: &Kind, func: &ItemFn, args: &[Arg], errors: &mut Errors) {
    let count = |f: fn(&Arg) -> bool| args.iter().filter(|a| f(a)).count();
    let sig = &func.sig;
    let fn_name = &sig.ident;
    if let Kind::After = kind {
        match count(|a| matches!(a, Arg::Response)) {
            0 => errors.at(
                &sig.ident,
                format!(
                    "an `#[after_request]` hook takes the response and returns it: write `fn {fn_name}(resp: Response) -> Response`"
                ),
            ),
            1 => {}
            _ => errors.at(&sig.inputs, "an `#[after_request]` hook takes one `Response`"),
        }
    }
    if count(|a| matches!(a, Arg::TeardownError)) > 1 {
        errors.at(&sig.inputs, "a `#[teardown_request]` hook takes one `Option<&HttpError>`");
    }
    if count(|a| matches!(a, Arg::Error | Arg::TypedError { .. })) > 1 {
        errors.at(&sig.inputs, "an error handler takes the error once");
    }
    if let Kind::Error(ErrorTarget::Type(target)) = kind {
        if count(|a| matches!(a, Arg::TypedError { .. })) == 0 {
            errors.at(
                &sig.ident,
                format!(
                    "an `#[errorhandler({t})]` handler takes the error: add `err: &{t}` to its parameters",
                    t = pretty(target)
                ),
            );
        }
    }
    if let Kind::WebSocket(_) = kind {
        check_socket(func, args, errors);
    }
    let mutable = count(|a| matches!(a, Arg::Request { mutable: true }));
    let shared = count(|a| matches!(a, Arg::Request { mutable: false }));
    if mutable > 1 || (mutable == 1 && shared > 0) {
        errors.at(
            &sig.inputs,
            "take the request once: `&mut Request` cannot be combined with other `&Request` arguments",
        );
    }
}

/// A `#[websocket]` handler takes one socket, of the kind its `asyncness` runs: the async
/// `WebSocket` in an `async fn`, the `BlockingWebSocket` in a plain `fn`.
fn check_socket(func: &ItemFn, args: &[Arg], errors: &mut Errors) {
    let sig = &func.sig;
    let fn_name = &sig.ident;
    let is_async = sig.asyncness.is_some();
    let sockets: Vec<(bool, &Type)> = args
        .iter()
        .filter_map(|a| match a {
            Arg::Socket { blocking, ty } => Some((*blocking, ty)),
            _ => None,
        })
        .collect();
    match sockets.as_slice() {
        [] if is_async => errors.at(
            fn_name,
            format!(
                "a WebSocket handler takes the socket: write `async fn {fn_name}(mut ws: WebSocket)` and use `ws.recv().await`"
            ),
        ),
        [] => errors.at(
            fn_name,
            format!(
                "a WebSocket handler takes the socket: write `fn {fn_name}(mut ws: BlockingWebSocket)` and use `ws.receive()`, \
                 or make it an `async fn` taking `ws: WebSocket`"
            ),
        ),
        [(true, ty)] if is_async => errors.at(
            ty,
            "an `async fn` WebSocket handler takes the async socket: use `ws: WebSocket` (`ws.recv().await`), \
             or make it a plain `fn` to keep `BlockingWebSocket`",
        ),
        [(false, ty)] if !is_async => errors.at(
            ty,
            "a plain `fn` WebSocket handler runs on a thread of its own and takes the blocking socket: \
             use `ws: BlockingWebSocket` (`ws.receive()`), or make it an `async fn` to keep `WebSocket`",
        ),
        [_] => {}
        _ => errors.at(&sig.inputs, "a WebSocket handler takes the socket once"),
    }
}
