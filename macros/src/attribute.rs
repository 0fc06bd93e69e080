//! One attribute, from tokens to tokens, the same way for all of them: its arguments are
//! parsed (`args`, with those of the route attributes stacked under it), the function is
//! checked against them (`model`, then `shape`), and the registration is generated
//! (`expand`). Every mistake found is reported, and the user's function is emitted even
//! then.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;
use crate::kind::Kind;
use crate::table::{Attr, Role};
use crate::url_for::{self, Target};
use crate::{args, expand, model, shape};

/// The expansion of `#[attr(args)]` on `item`.
pub(crate) fn expand(attr: Attr, args: TokenStream, item: TokenStream) -> TokenStream {
    let output = attribute(attr, args, item);
    if std::env::var_os("ERLEN_MACRO_DEBUG").is_some() {
        eprintln!("#[{}] expands to:\n{output}\n", attr.name);
    }
    output
}

fn attribute(attr: Attr, args: TokenStream, item: TokenStream) -> TokenStream {
    let item: syn::Item = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => return e.to_compile_error(),
    };
    let mut func = match item {
        syn::Item::Fn(func) => func,
        other => {
            let message = format!("`#[{}]` can only be placed on a function (`fn` or `async fn`)", attr.name);
            let error = syn::Error::new(expand::item_name_span(&other), message).to_compile_error();
            return quote!(#other #error);
        }
    };
    let mut errors = Errors::default();
    let mut parsed = args::parse(attr, args, &mut errors);
    for (other, tokens) in take_stacked(&mut func, attr, &mut errors) {
        let more = args::parse(other, tokens, &mut errors);
        parsed.allow_blocking |= more.allow_blocking;
        if let Some(Kind::Route(more)) = more.kind {
            match &mut parsed.kind {
                Some(Kind::Route(rules)) => rules.extend(more),
                kind => *kind = Some(Kind::Route(more)),
            }
        }
    }
    if let Some(Kind::Route(rules)) = &parsed.kind {
        args::check_limits(rules, &mut errors);
    }
    let Some(kind) = parsed.kind else {
        return with_errors(&func, errors.into_compile_errors().unwrap_or_default());
    };
    let handler = model::analyze(func, attr, kind, parsed.allow_blocking, &mut errors);
    shape::check(&handler, &mut errors);
    match errors.into_compile_errors() {
        None => {
            let generated = expand::generate(&handler);
            let func = &handler.func;
            quote!(#func #generated)
        }
        Some(errors) => with_errors(&handler.func, errors),
    }
}

/// The user's function, an empty registration (so that `handlers![f]` still compiles), a
/// `url_for!` helper that checks nothing (so that `url_for!(f, ..)` elsewhere adds no
/// error of its own to the one mistake) and the errors. A method (it takes `self`) sits in
/// an `impl`, where neither can be added.
fn with_errors(func: &syn::ItemFn, errors: TokenStream) -> TokenStream {
    if func.sig.receiver().is_some() {
        return quote!(#func #errors);
    }
    let empty = expand::item_struct(func, quote!(::std::vec::Vec::new()));
    let url_helper = url_for::helper(func, &Target::Reported);
    quote!(#func #empty #url_helper #errors)
}

/// Takes the other erlen attributes off the function: the route attributes stacked under
/// a route attribute are returned with their arguments, to be read with it; any other
/// combination is a mistake.
fn take_stacked(func: &mut syn::ItemFn, this: Attr, errors: &mut Errors) -> Vec<(Attr, TokenStream)> {
    let mut stacked = Vec::new();
    let mut kept = Vec::new();
    for attr in std::mem::take(&mut func.attrs) {
        let name = attr.path().segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
        let Some(other) = Attr::named(&name) else {
            kept.push(attr);
            continue;
        };
        match (this.role, other.role.is_route()) {
            (this_role, true) if this_role.is_route() => {
                let tokens = match attr.meta {
                    syn::Meta::List(list) => list.tokens,
                    _ => TokenStream::new(),
                };
                stacked.push((other, tokens));
            }
            (Role::WebSocket, true) => errors.at(
                &attr,
                "a `#[websocket]` function serves one URL: put other routes on a function of their own",
            ),
            (_, true) => {
                errors.at(&attr, format!("a function is either a route or a `#[{}]`, not both", this.name))
            }
            (_, false) => errors.at(
                &attr,
                format!(
                    "a function can carry one kind of erlen attribute: `#[{}]` and `#[{name}]` cannot be combined",
                    this.name
                ),
            ),
        }
    }
    func.attrs = kept;
    stacked
}
