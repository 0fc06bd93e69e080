//! Checking the user's function against what its attribute says, and turning it into a
//! model that code generation can trust: the signature checked, every argument
//! classified, every mistake reported on the user's own token. The rules that look at
//! the arguments together follow in `shape`.

use erlen_pattern::Converter;
use syn::{FnArg, ItemFn, Pat, Type};

use crate::errors::Errors;
use crate::kind::{ErrorTarget, Kind};
use crate::table::Attr;
use crate::types::{is_named, option_inner, option_of_ref, pretty, tokens_eq};

/// How one argument of the user's function is produced.
pub(crate) enum Arg {
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
    /// A command-line argument of a `#[command]`, named after its parameter.
    Cli { name: String, ty: Type, shape: CliShape },
}

/// How a `#[command]`'s argument is given on the command line.
pub(crate) enum CliShape {
    /// `count: usize`: `<COUNT>`.
    Positional,
    /// `name: Option<String>`: `--name <NAME>`, of the inner type.
    Optional(Box<Type>),
    /// `dry_run: bool`: `--dry-run`.
    Switch,
}

/// The types a `#[command]` takes from the app rather than from the command line, by the
/// last segment of their path (through `CommandContext` in the runtime).
const COMMAND_CONTEXT: &[&str] = &["State", "Channels"];

/// A checked handler.
pub(crate) struct Handler {
    pub func: ItemFn,
    /// The attribute that made it.
    pub attr: Attr,
    pub kind: Kind,
    pub args: Vec<Arg>,
    /// `allow_blocking` was given: no warning for blocking calls in an async body.
    pub allow_blocking: bool,
}

/// Checks `func` for `kind`; mistakes go to `errors`, and what can be classified is.
pub(crate) fn analyze(
    func: ItemFn,
    attr: Attr,
    kind: Kind,
    allow_blocking: bool,
    errors: &mut Errors,
) -> Handler {
    let name = attr.name;
    let sig = &func.sig;
    if let Some(c) = &sig.constness {
        errors.at(c, format!("`#[{name}]` cannot be placed on a `const fn`"));
    }
    if let Some(u) = &sig.unsafety {
        errors.at(
            u,
            format!(
                "`#[{name}]` cannot be placed on an `unsafe fn`: wrap the unsafe code in a safe function"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, format!("`#[{name}]` cannot be placed on an `extern` function"));
    }
    if let Some(v) = &sig.variadic {
        errors.at(v, "handlers cannot be variadic");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!(
                "`#[{name}]` functions cannot be generic: erlen registers one concrete function; \
                 remove the generic parameters and use concrete types"
            ),
        );
    }
    if let Some(r) = sig.receiver() {
        let reach = if kind.is_template() { "" } else { " and reach shared data through `State<T>`" };
        errors.at(
            r,
            format!("`#[{name}]` functions cannot take `self`: make it a free function (outside the `impl`){reach}"),
        );
    }
    if kind.is_template() {
        if let Some(a) = &sig.asyncness {
            errors.at(
                a,
                format!(
                    "a `#[{name}]` runs while a template renders, which is synchronous: make it a plain `fn`"
                ),
            );
        }
        // Its arguments are the template's values, passed as they are.
        return Handler { func, attr, kind, args: Vec::new(), allow_blocking };
    }

    let mut args = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(pat_ty) = input else { continue };
        let arg_name = match &*pat_ty.pat {
            Pat::Ident(i) => Some(i.ident.to_string()),
            _ => None,
        };
        args.push(classify(&kind, name, arg_name, &pat_ty.ty, errors));
    }
    Handler { func, attr, kind, args, allow_blocking }
}

fn classify(kind: &Kind, attr: &str, name: Option<String>, ty: &Type, errors: &mut Errors) -> Arg {
    // Route parameters by name come first; `shape` checks that every one has its argument.
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
    if let Kind::Command(_) = kind {
        return classify_command(name, ty, errors);
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

/// An argument of a `#[command]`: application state, or a command-line value named after
/// the parameter.
fn classify_command(name: Option<String>, ty: &Type, errors: &mut Errors) -> Arg {
    let extract = Arg::Extract { ty: ty.clone() };
    if let Type::Reference(r) = ty {
        let message = if is_named(&r.elem, "Request") {
            "a `#[command]` runs outside any request: it cannot take the request (`&Request`); \
             take application state as `State<T>`, the app's channels as `Channels` and command-line values as plain arguments"
                .to_string()
        } else {
            let owned = if is_named(&r.elem, "str") { "`String`" } else { "an owned value" };
            format!(
                "a `#[command]` reads its arguments from the command line into owned values: take {owned} instead of `{}`",
                pretty(ty)
            )
        };
        errors.at(ty, message);
        return extract;
    }
    let inner = option_inner(ty);
    if COMMAND_CONTEXT.iter().any(|n| last_ident_is(ty, n) || inner.is_some_and(|i| last_ident_is(i, n))) {
        return extract;
    }
    let Some(name) = name else {
        errors.at(
            ty,
            "name this argument: a command's arguments are named after their parameters, as `count: usize` is `<COUNT>`",
        );
        return extract;
    };
    let name = name.trim_matches('_').to_string();
    let shape = match inner {
        _ if is_named(ty, "bool") => CliShape::Switch,
        Some(inner) => CliShape::Optional(Box::new(inner.clone())),
        None => CliShape::Positional,
    };
    Arg::Cli { name, ty: ty.clone(), shape }
}

/// Whether `ty`'s path ends in `name`, with or without generic arguments (`State<Db>`).
fn last_ident_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|s| s.ident == name),
        Type::Group(g) => last_ident_is(&g.elem, name),
        Type::Paren(p) => last_ident_is(&p.elem, name),
        _ => false,
    }
}
