//! Attribute macros for [erlen](https://docs.rs/erlen). Use them through `erlen`, which
//! re-exports them: `use erlen::prelude::*;`.
//!
//! Each macro parses its arguments (`args`), checks the function against them (`model`),
//! and generates the registration (`expand`). Every mistake found is reported, on the
//! user's token, and the user's item is emitted even then, so that one mistake does not
//! cascade into others. Set `ERLEN_MACRO_DEBUG=1` while building to print each expansion.

mod args;
mod blocking;
mod errors;
mod expand;
mod model;
mod units;
mod url_for;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;

use args::{ErrorTarget, RouteAttr};
use errors::Errors;
use model::Kind;

/// The attributes that are not route attributes, and so are never stacked with one.
const HOOKS: [&str; 7] = [
    "websocket",
    "before_request",
    "after_request",
    "teardown_request",
    "errorhandler",
    "before_serving",
    "after_serving",
];

fn attr_name(attr: &syn::Attribute) -> String {
    attr.path().segments.last().map(|s| s.ident.to_string()).unwrap_or_default()
}

fn attr_tokens(attr: &syn::Attribute) -> TokenStream2 {
    match &attr.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        _ => TokenStream2::new(),
    }
}

/// The shared path of every attribute: parse the item, build the kind (from this attribute
/// and, for routes, the stacked ones), check, generate.
fn expand(
    attr: &'static str,
    item: TokenStream2,
    allow_blocking: bool,
    kind: impl FnOnce(&mut syn::ItemFn, &mut Errors) -> Option<Kind>,
) -> TokenStream2 {
    let mut errors = Errors::default();
    let item: syn::Item = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => return e.to_compile_error(),
    };
    let mut func = match item {
        syn::Item::Fn(func) => func,
        other => {
            let message = format!("`#[{attr}]` can only be placed on a function (`fn` or `async fn`)");
            let error = syn::Error::new(expand::item_name_span(&other), message).to_compile_error();
            return quote!(#other #error);
        }
    };
    let kind = kind(&mut func, &mut errors);
    let output = match kind {
        Some(kind) => {
            let mut handler = model::analyze(func, kind, attr, &mut errors);
            handler.allow_blocking = allow_blocking;
            match errors.into_compile_errors() {
                None => {
                    let generated = expand::generate(&handler);
                    let func = &handler.func;
                    quote!(#func #generated)
                }
                Some(errs) => with_errors(&handler.func, errs),
            }
        }
        None => {
            let errs = errors.into_compile_errors().unwrap_or_default();
            with_errors(&func, errs)
        }
    };
    if std::env::var_os("ERLEN_MACRO_DEBUG").is_some() {
        eprintln!("#[{attr}] expands to:\n{output}\n");
    }
    output
}

/// The user's function, an empty registration (so `handlers![f]` still compiles) and the
/// errors. A method (it takes `self`) sits in an `impl`, where no struct can be added.
fn with_errors(func: &syn::ItemFn, errors: TokenStream2) -> TokenStream2 {
    if func.sig.receiver().is_some() {
        return quote!(#func #errors);
    }
    let empty = expand::item_struct(func, quote!(::std::vec::Vec::new()));
    quote!(#func #empty #errors)
}

/// Takes the attributes of other route macros stacked under this one, and rejects hook
/// attributes on the same function.
fn take_stacked(func: &mut syn::ItemFn, this: &str, errors: &mut Errors) -> Vec<(RouteAttr, syn::Attribute)> {
    let mut stacked = Vec::new();
    let mut kept = Vec::new();
    for attr in std::mem::take(&mut func.attrs) {
        let name = attr_name(&attr);
        if let Some(kind) = RouteAttr::from_name(&name) {
            if this == "websocket" {
                errors.at(
                    &attr,
                    "a `#[websocket]` function serves one URL: put other routes on a function of their own",
                );
            } else if HOOKS.contains(&this) {
                errors.at(&attr, format!("a function is either a route or a `#[{this}]`, not both"));
            }
            stacked.push((kind, attr));
        } else if HOOKS.contains(&name.as_str()) {
            errors.at(
                &attr,
                format!("a function can carry one kind of erlen attribute: `#[{this}]` and `#[{name}]` cannot be combined"),
            );
        } else {
            kept.push(attr);
        }
    }
    func.attrs = kept;
    stacked
}

fn route_attr(kind: RouteAttr, name: &'static str, attr: TokenStream, item: TokenStream) -> TokenStream {
    let (attr, allow_first) = blocking::take_allow_blocking(attr.into());
    // Stacked route attributes are read inside; one `allow_blocking` on any of them counts.
    let mut func: syn::ItemFn = match syn::parse(item.clone()) {
        Ok(func) => func,
        Err(_) => return expand(name, item.into(), allow_first, |_, _| None).into(),
    };
    let allow_stacked = func.attrs.iter().any(|a| {
        RouteAttr::from_name(&attr_name(a)).is_some() && blocking::take_allow_blocking(attr_tokens(a)).1
    });
    for a in &mut func.attrs {
        if RouteAttr::from_name(&attr_name(a)).is_some() {
            if let syn::Meta::List(list) = &mut a.meta {
                list.tokens = blocking::take_allow_blocking(list.tokens.clone()).0;
            }
        }
    }
    expand(name, quote!(#func), allow_first || allow_stacked, |func, errors| {
        let first = args::parse_rule(kind, attr, errors);
        let stacked = take_stacked(func, name, errors);
        let mut rules: Vec<_> = first.into_iter().collect();
        for (kind, attr) in stacked {
            rules.extend(args::parse_rule(kind, attr_tokens(&attr), errors));
        }
        args::check_limits(&rules, errors);
        (!rules.is_empty()).then_some(Kind::Route(rules))
    })
    .into()
}

fn hook_attr(name: &'static str, attr: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let (attr, allow_blocking) = blocking::take_allow_blocking(attr.into());
    expand(name, item.into(), allow_blocking, |func, errors| {
        if !attr.is_empty() {
            errors.at(&attr, format!("`#[{name}]` takes no arguments but `allow_blocking`"));
        }
        take_stacked(func, name, errors);
        Some(kind)
    })
    .into()
}

/// Registers a view for a URL pattern: `#[route("/users/<int:id>", methods = ["GET", "POST"])]`.
///
/// Methods default to `GET` (with automatic `HEAD` and `OPTIONS`). Stack several on one
/// function to serve several patterns. Every `<name>` needs an argument of that name; every
/// other argument is `&Request` or an extractor. Patterns use Flask's converters:
/// `string` (default), `int`, `float`, `path`, `uuid`.
#[proc_macro_attribute]
pub fn route(attr: TokenStream, item: TokenStream) -> TokenStream {
    route_attr(RouteAttr::Route, "route", attr, item)
}

/// The method shortcuts, declared once: each is an attribute (`#[get("/path")]`), and the
/// table [`SHORTCUTS`] that recognizes them stacked under another route attribute.
macro_rules! method_attributes {
    ($($name:ident => $method:literal),* $(,)?) => {
        /// Each shortcut attribute and the method it sets.
        const SHORTCUTS: &[(&str, &str)] = &[$((stringify!($name), $method)),*];
        $(
            #[doc = concat!("`#[", stringify!($name), "(\"/path\")]`: a `", $method, "` route.")]
            #[proc_macro_attribute]
            pub fn $name(attr: TokenStream, item: TokenStream) -> TokenStream {
                route_attr(RouteAttr::Method($method), stringify!($name), attr, item)
            }
        )*
    };
}

method_attributes!(get => "GET", post => "POST", put => "PUT", patch => "PATCH", delete => "DELETE");

/// Registers a WebSocket endpoint at a URL pattern: `#[websocket("/chat/<room>")]`.
///
/// The function is the socket's handler, as flask-sock's `@sock.route`: an `async fn`
/// takes `ws: WebSocket` (`ws.recv().await`, `ws.send(..).await`) and runs as a task on
/// the runtime; a plain `fn` takes `ws: BlockingWebSocket` (`ws.receive()`, `ws.send(..)`)
/// and runs on a blocking thread of its own for the socket's whole life. The macro picks
/// at compile time, and taking the other kind of socket is a compile error.
///
/// In every other respect it is a GET route: route parameters, extractors and
/// `before_request` hooks apply to the upgrade request, and a hook that answers (a 401)
/// or an extractor that fails refuses the upgrade. The other arguments are extracted
/// before the `101 Switching Protocols` is sent and moved into the handler, so they are
/// owned values: `&Request` cannot be taken. `url_for!` works as for any route. The
/// handler returns `()` or `Result<(), E>`; an `Err` or a panic is logged and the socket
/// is closed with code 1011.
///
/// ```ignore
/// #[websocket("/echo")]
/// async fn echo(mut ws: WebSocket) {
///     while let Some(msg) = ws.recv().await {
///         if ws.send(msg).await.is_err() { break; }
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn websocket(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (attr, allow_blocking) = blocking::take_allow_blocking(attr.into());
    expand("websocket", item.into(), allow_blocking, |func, errors| {
        let rule = args::parse_rule(RouteAttr::WebSocket, attr, errors);
        take_stacked(func, "websocket", errors);
        rule.map(Kind::WebSocket)
    })
    .into()
}

/// Runs before every request (of the app, or of a blueprint's routes). It may take
/// `&Request` or `&mut Request` and extractors, and returns `()`, `None` to go on, or
/// `Some(response)` to answer without running the view.
#[proc_macro_attribute]
pub fn before_request(attr: TokenStream, item: TokenStream) -> TokenStream {
    hook_attr("before_request", attr, item, Kind::Before)
}

/// Runs after the view (or a short-circuit or an error) with the response: takes
/// `resp: Response`, returns it.
#[proc_macro_attribute]
pub fn after_request(attr: TokenStream, item: TokenStream) -> TokenStream {
    hook_attr("after_request", attr, item, Kind::After)
}

/// Runs at the very end of every request, whatever happened; may take
/// `Option<&HttpError>`: the error no handler took, if any.
#[proc_macro_attribute]
pub fn teardown_request(attr: TokenStream, item: TokenStream) -> TokenStream {
    hook_attr("teardown_request", attr, item, Kind::Teardown)
}

/// Runs once when a server starts, before it accepts its first connection (Quart's
/// `before_serving`): warm a cache, check the database, run migrations. It takes
/// application state as `State<T>` (there is no request) and returns `()` or
/// `Result<(), E>`; an `Err` or a panic stops the start-up, and `Server::spawn` returns
/// an error that names the hook. Register it on the app with `handlers![]`, not on a
/// blueprint. Hooks run in registration order; a plain `fn` runs on the thread that
/// starts the server, an `async fn` on the shared runtime. The test client does not run
/// serving hooks, as Flask's does not.
///
/// ```ignore
/// #[before_serving]
/// async fn warm_up(State(db): State<Db>) -> Result<(), DbError> {
///     db.ping().await
/// }
/// ```
#[proc_macro_attribute]
pub fn before_serving(attr: TokenStream, item: TokenStream) -> TokenStream {
    hook_attr("before_serving", attr, item, Kind::BeforeServing)
}

/// Runs once when a server stops, after the last in-flight request has drained (and the
/// threaded backend's workers have exited), as Quart's `after_serving`: flush buffers,
/// close connections. It takes application state as `State<T>` and returns `()` or
/// `Result<(), E>`; an `Err` or a panic is logged, and the next hook runs. Registered
/// like `#[before_serving]`; the test client does not run it.
///
/// ```ignore
/// #[after_serving]
/// fn flush(State(log): State<AuditLog>) {
///     log.flush();
/// }
/// ```
#[proc_macro_attribute]
pub fn after_serving(attr: TokenStream, item: TokenStream) -> TokenStream {
    hook_attr("after_serving", attr, item, Kind::AfterServing)
}

/// Renders errors: `#[errorhandler(404)]` for a status in 400..=599 (taking
/// `&HttpError`), or `#[errorhandler(MyError)]` for an error type returned in `Err`
/// (taking `&MyError`).
#[proc_macro_attribute]
pub fn errorhandler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (attr, allow_blocking) = blocking::take_allow_blocking(attr.into());
    let target = syn::parse2::<ErrorTarget>(attr);
    expand("errorhandler", item.into(), allow_blocking, |func, errors| {
        take_stacked(func, "errorhandler", errors);
        match target {
            Ok(target) => Some(Kind::Error(target)),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    })
    .into()
}

/// Collects functions marked with erlen's attributes for `App::register` and
/// `Blueprint::register`: `handlers![index, api::users]`.
#[proc_macro]
pub fn handlers(input: TokenStream) -> TokenStream {
    use syn::parse::Parser;
    use syn::spanned::Spanned;
    let parser = syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated;
    let paths = match parser.parse(input) {
        Ok(paths) => paths,
        Err(e) => {
            let message = format!(
                "{e}: `handlers!` takes the names of annotated functions, as in `handlers![index, api::users]`"
            );
            return syn::Error::new(e.span(), message).to_compile_error().into();
        }
    };
    // `path {}` builds the struct the attribute generated next to the function; the
    // braces carry the path's span, so that a plain function is reported at its name.
    let items = paths.iter().map(|path| {
        let build = quote::quote_spanned!(path.span()=> #path {});
        quote!(::erlen::__private::Item::entries(#build))
    });
    quote!(::erlen::__private::Handlers::from_entries(::std::vec![#(#items),*])).into()
}

/// The URL of a route handler, checked at compile time: `url_for!(user, id = 7)` is
/// `"/users/7"`, with the prefix of the blueprint the handler is registered under, its
/// values percent-encoded. `_external = true` makes it absolute (scheme and host of the
/// current request), `_anchor = "top"` adds `#top`. Every parameter of the handler's
/// (first) route must be given, with a value of its converter's type; an unknown handler
/// or parameter is a compile error.
#[proc_macro]
pub fn url_for(input: TokenStream) -> TokenStream {
    url_for::front(input.into()).into()
}

#[doc(hidden)]
#[proc_macro]
pub fn __url_for_checked(input: TokenStream) -> TokenStream {
    url_for::checked(input.into()).into()
}

/// Registers a plain `fn` as a template filter, as Flask's `@app.template_filter()`:
/// `{{ title | shout }}` calls `fn shout(value: String) -> String`. The filter is named
/// after the function unless a name is given: `#[template_filter("shout")]`. Register it
/// with `handlers![]`.
#[proc_macro_attribute]
pub fn template_filter(attr: TokenStream, item: TokenStream) -> TokenStream {
    template_attr("template_filter", "add_filter", attr.into(), item.into()).into()
}

/// Registers a plain `fn` as a template global function, as Flask's
/// `@app.template_global()`: `{{ year() }}` calls `fn year() -> u32`. Named after the
/// function unless a name is given: `#[template_global("year")]`. Register it with
/// `handlers![]`.
#[proc_macro_attribute]
pub fn template_global(attr: TokenStream, item: TokenStream) -> TokenStream {
    template_attr("template_global", "add_function", attr.into(), item.into()).into()
}

fn template_attr(attr: &'static str, method: &str, args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let message = format!("`#[{attr}]` can only be placed on a function");
            let error = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    let name = if args.is_empty() {
        func.sig.ident.to_string()
    } else {
        match syn::parse2::<syn::LitStr>(args.clone()) {
            Ok(lit) => lit.value(),
            Err(_) => {
                errors.at(
                    &args,
                    format!("`#[{attr}]` takes an optional name in quotes, as in `#[{attr}(\"shout\")]`"),
                );
                String::new()
            }
        }
    };
    if let Some(a) = &func.sig.asyncness {
        errors.at(
            a,
            format!(
                "a `#[{attr}]` runs while a template renders, which is synchronous: make it a plain `fn`"
            ),
        );
    }
    if !func.sig.generics.params.is_empty() {
        errors
            .at(&func.sig.generics, format!("a `#[{attr}]` function cannot be generic: use concrete types"));
    }
    if let Some(r) = func.sig.receiver() {
        errors.at(r, format!("a `#[{attr}]` function cannot take `self`: make it a free function"));
    }
    match errors.into_compile_errors() {
        Some(errs) => with_errors(&func, errs),
        None => {
            let generated = expand::template_item(&func, method, &name);
            quote!(#func #generated)
        }
    }
}
