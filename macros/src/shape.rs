//! The rules that look at the function's arguments together, once each is classified
//! (`model`): the body is taken the way the function can read it, every route parameter
//! has its argument, and each kind of function takes its special arguments once.

use erlen_pattern::Converter;
use syn::{FnArg, ItemFn, Type};

use crate::errors::Errors;
use crate::kind::{ErrorTarget, Kind};
use crate::model::{Arg, Handler};
use crate::types::{is_named, option_inner, pretty};

/// Checks `handler`'s arguments together.
pub(crate) fn check(handler: &Handler, errors: &mut Errors) {
    let Handler { func, kind, args, attr, .. } = handler;
    if kind.is_template() {
        // Its arguments are the template's values, not extractors.
        return;
    }
    check_body_args(kind, func, attr.name, errors);
    check_route_params(kind, func, args, errors);
    check_kind_args(kind, func, args, errors);
    if let Kind::Command(given) = kind {
        check_command(given.as_ref(), func, args, errors);
    }
}

/// The command line's own commands, which a `#[command]` cannot be named.
const BUILTIN_COMMANDS: &[&str] = &["run", "routes", "help"];

/// A command's name is not one of the command line's own, and its arguments' names are
/// distinct.
fn check_command(given: Option<&syn::LitStr>, func: &ItemFn, args: &[Arg], errors: &mut Errors) {
    let name = crate::kind::command_name(given, &func.sig.ident);
    if BUILTIN_COMMANDS.contains(&name.as_str()) {
        let message = format!(
            "`{name}` is a command of erlen's own command line: name this command otherwise, as in `#[command(\"{name}-app\")]`"
        );
        match given {
            Some(lit) => errors.at(lit, message),
            None => errors.at(&func.sig.ident, message),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for arg in args {
        if let Arg::Cli { name, ty, .. } = arg {
            if name.is_empty() || !seen.insert(name.replace('_', "-")) {
                errors.at(
                    ty,
                    format!(
                        "two arguments of this command are named `{name}` on the command line: rename one"
                    ),
                );
            }
        }
    }
}

/// The streamed body matches the function's kind: `BodyStream` is read with `.await`,
/// `BodyReader` blocks; and only a view (which runs after the body is ready for it) takes
/// either, or `Multipart`. Checked by name, here only: the message names the attribute
/// and points at the type. (What the runtime checks at compile time from
/// `FromRequest::BODY` is the other body rule: a view takes the body once.)
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
fn check_route_params(kind: &Kind, func: &ItemFn, args: &[Arg], errors: &mut Errors) {
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
