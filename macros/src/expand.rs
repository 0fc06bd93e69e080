//! Code generation from a checked [`Handler`]. The user's function is emitted unchanged;
//! next to it, a braced struct of the same name (type namespace, as Rocket does)
//! implements `Item`, whose `entries` builds the registration. The glue is a small
//! function that extracts the arguments, calls the user's function the way its
//! `asyncness` requires, and converts the result, calling into `::erlen::__private` for
//! everything else.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, ReturnType};

use crate::kind::{ErrorTarget, Kind, Rule, csrf_exempt, limits, rate_limit};
use crate::model::{Arg, Handler};
use crate::url_for::Target;

/// The struct that `handlers![name]` builds, and its `Item` impl with `entries`.
pub(crate) fn item_struct(func: &syn::ItemFn, entries: TokenStream) -> TokenStream {
    // At least crate-visible, so that `url_for!(module::view)` can name it from anywhere.
    let vis = match &func.vis {
        syn::Visibility::Inherited => quote!(pub(crate)),
        vis => quote!(#vis),
    };
    let name = &func.sig.ident;
    quote! {
        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #vis struct #name {}

        impl ::erlen::__private::Item for #name {
            fn entries(self) -> ::std::vec::Vec<::erlen::__private::Entry> {
                #entries
            }
        }
    }
}

/// The registration code for a checked handler, the same ending for every kind: the
/// struct with its entries, the helper `url_for!` calls, and the warnings for blocking
/// calls in an async body.
pub(crate) fn generate(handler: &Handler) -> TokenStream {
    let func = &handler.func;
    let item = item_struct(func, entries(handler));
    let target = match handler.kind.rules().first() {
        Some(rule) => Target::Route(rule.lit.clone()),
        None => Target::hook(handler.attr.name),
    };
    let url_helper = crate::url_for::helper(func, &target);
    let is_async = func.sig.asyncness.is_some();
    // A command runs alone, with nothing else on its thread to stall.
    let is_command = matches!(handler.kind, Kind::Command(_));
    let warnings = if is_async && !handler.allow_blocking && !is_command {
        crate::blocking::warnings(func)
    } else {
        quote!()
    };
    quote!(#item #url_helper #warnings)
}

/// The body of `Item::entries`: the glue function and the registration that names it.
///
/// The glue extracts the arguments, calls the user's function the way its `asyncness`
/// requires and converts the result. A `#[websocket]` glue is a GET view, always async,
/// that extracts the other arguments, checks the handshake and answers 101; the runtime
/// then runs the user's function with the socket, as a task (`async fn`) or on a
/// blocking thread (`fn`).
fn entries(handler: &Handler) -> TokenStream {
    let func = &handler.func;
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let is_async = func.sig.asyncness.is_some();
    let p = quote!(::erlen::__private);
    let glue_async = is_async || matches!(handler.kind, Kind::WebSocket(_));
    let callable = if glue_async {
        quote!(#p::Callable::Async(__erlen_call))
    } else {
        quote!(#p::Callable::Sync(__erlen_call))
    };
    // The return value is converted by calling the public trait's method directly, so that
    // a type that does not implement it is reported against that trait alone, with no
    // "required by a bound in" note naming a hidden helper.
    let (convert, output, entry) = match &handler.kind {
        Kind::Route(rules) => {
            (quote!(IntoResponse::into_outcome), quote!(#p::Response), route(handler, rules, &callable))
        }
        Kind::WebSocket(rule) => {
            let entry = route_entry(&name_str, std::slice::from_ref(rule), &callable);
            let doc = crate::apidoc::describe(handler);
            (quote!(WebSocketOutcome::into_outcome), quote!(#p::Response), quote!(#entry #doc))
        }
        Kind::Before => (
            quote!(BeforeOutcome::into_before),
            quote!(::std::option::Option<#p::Response>),
            quote!(#p::Entry::before_request(#name_str, #callable)),
        ),
        Kind::After => (
            quote!(AfterOutcome::into_after),
            quote!(#p::Response),
            quote!(#p::Entry::after_request(#name_str, #callable)),
        ),
        Kind::Teardown => (
            quote!(TeardownOutcome::into_teardown),
            quote!(()),
            quote!(#p::Entry::teardown_request(#name_str, #callable)),
        ),
        Kind::BeforeServing => (
            quote!(ServingOutcome::into_serving),
            quote!(()),
            quote!(#p::Entry::before_serving(#name_str, #callable)),
        ),
        Kind::AfterServing => (
            quote!(ServingOutcome::into_serving),
            quote!(()),
            quote!(#p::Entry::after_serving(#name_str, #callable)),
        ),
        Kind::Error(ErrorTarget::Code(code)) => (
            quote!(IntoResponse::into_outcome),
            quote!(#p::Response),
            quote!(#p::Entry::error_code(#name_str, #code, #callable)),
        ),
        Kind::Error(ErrorTarget::Type(ty)) => (
            quote!(IntoResponse::into_outcome),
            quote!(#p::Response),
            quote_spanned!(ty.span()=> #p::Entry::error_type::<#ty>(#name_str, #callable)),
        ),
        Kind::Command(given) => return crate::command::entries(handler, given.as_ref()),
        Kind::Filter(jinja) => return template(func, "add_filter", jinja.as_ref()),
        Kind::Global(jinja) => return template(func, "add_function", jinja.as_ref()),
    };

    let (prelude, call_args) = arguments(handler);
    let call = if is_async {
        quote_spanned!(name.span()=> #p::assert_send(#name(#(#call_args),*)).await)
    } else {
        quote!(#name(#(#call_args),*))
    };
    let ret_span = match &func.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => name.span(),
    };
    let convert = quote_spanned!(ret_span=> #p::#convert(__out));
    let run = match handler.kind {
        Kind::WebSocket(_) if is_async => {
            quote!(#p::websocket_async(__req, move |__ws| async move { let __out = #call; #convert }))
        }
        Kind::WebSocket(_) => {
            quote!(#p::websocket_blocking(__req, move |__ws| { let __out = #call; #convert }))
        }
        _ => quote!(let __out = #call; #convert),
    };

    let lt = if glue_async { quote!('r) } else { quote!() };
    let extra = match &handler.kind {
        Kind::After => quote!(, __resp: #p::Response),
        Kind::Teardown => quote!(, __err: ::std::option::Option<&#lt #p::HttpError>),
        Kind::Error(_) => quote!(, __err: &#lt #p::HttpError),
        _ => quote!(),
    };
    let result = quote!(::std::result::Result<#output, #p::HttpError>);
    let glue = if glue_async {
        quote! {
            fn __erlen_call<'r>(__req: &'r mut #p::Request #extra) -> #p::BoxFuture<'r, #result> {
                ::std::boxed::Box::pin(async move { #(#prelude)* #run })
            }
        }
    } else {
        quote! {
            fn __erlen_call(__req: &mut #p::Request #extra) -> #result {
                #(#prelude)*
                #run
            }
        }
    };
    quote! {
        #glue
        ::std::vec![#entry]
    }
}

/// The arguments: extracted values first (owned, in `prelude`), then the call's arguments,
/// with the request's references.
fn arguments(handler: &Handler) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let p = quote!(::erlen::__private);
    let mut prelude = Vec::new();
    let mut call_args = Vec::new();
    for (i, arg) in handler.args.iter().enumerate() {
        let local = format_ident!("__erlen_arg{}", i);
        match arg {
            Arg::Request { mutable: false } => call_args.push(quote!(&*__req)),
            Arg::Request { mutable: true } => call_args.push(quote!(&mut *__req)),
            Arg::Response => call_args.push(quote!(__resp)),
            Arg::TeardownError | Arg::Error => call_args.push(quote!(__err)),
            Arg::Socket { .. } => call_args.push(quote!(__ws)),
            Arg::Param { name, converter, ty } => {
                let converter = format_ident!("{}", converter_trait(*converter), span = ty.span());
                prelude.push(
                    quote_spanned!(ty.span()=> let #local = <#ty as #p::#converter>::from_param(&*__req, #name)?;),
                );
                call_args.push(quote!(#local));
            }
            Arg::Extract { ty } if handler.kind.is_serving() => {
                prelude.push(
                    quote_spanned!(ty.span()=> let #local = <#ty as #p::ServingArg>::from_serving(&*__req)?;),
                );
                call_args.push(quote!(#local));
            }
            Arg::Extract { ty } => {
                prelude
                    .push(quote_spanned!(ty.span()=> let #local = <#ty as #p::FromRequest>::from_request(&*__req)?;));
                call_args.push(quote!(#local));
            }
            Arg::TypedError { ty } => {
                prelude.push(quote_spanned!(ty.span()=> let #local = #p::downcast::<#ty>(__err)?;));
                call_args.push(quote!(#local));
            }
            // A command's arguments are generated by `command`.
            Arg::Cli { .. } => {}
        }
    }
    (prelude, call_args)
}

/// A route's registration: its rules, and its options when its attributes or its
/// arguments set any.
fn route(handler: &Handler, rules: &[Rule], callable: &TokenStream) -> TokenStream {
    let p = quote!(::erlen::__private);
    let name = &handler.func.sig.ident;
    let entry = route_entry(&name.to_string(), rules, callable);
    let doc = crate::apidoc::describe(handler);
    let entry = quote!(#entry #doc);
    let (body_limit, timeout) = limits(rules);
    let uses: Vec<_> = handler
        .args
        .iter()
        .filter_map(|arg| match arg {
            Arg::Extract { ty } => Some(quote_spanned!(ty.span()=> <#ty as #p::FromRequest>::BODY)),
            _ => None,
        })
        .collect();
    // `rate_limit = "5/minute"`: so many requests per client per period.
    let entry = match rate_limit(rules) {
        Some((count, per)) => {
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            quote!(#entry.rate_limit(#count, #per))
        }
        None => entry,
    };
    if body_limit.is_none() && timeout.is_none() && uses.is_empty() {
        return entry;
    }
    let some = |v: Option<u64>| match v {
        Some(v) => quote!(::std::option::Option::Some(#v)),
        None => quote!(::std::option::Option::None),
    };
    let (body_limit, timeout) = (some(body_limit), some(timeout));
    // Folded at compile time; a view that takes the body twice fails here, on its name.
    let body = quote_spanned!(name.span()=> const { #p::BodyUse::of(&[#(#uses),*]) });
    quote!(#entry.options(#body_limit, #timeout, #body))
}

/// `Entry::route` for the (pattern, methods) of each rule, tied to the generated struct,
/// and exempt from CSRF protection when an attribute says `csrf = false`.
fn route_entry(name: &str, rules: &[Rule], callable: &TokenStream) -> TokenStream {
    let exempt = if csrf_exempt(rules) { quote!(.csrf_exempt()) } else { quote!() };
    let rules = rules.iter().map(|r| {
        let lit = &r.lit;
        let methods = &r.methods;
        quote!((#lit, &[#(#methods),*]))
    });
    quote!(::erlen::__private::Entry::route(#name, &[#(#rules),*], #callable).of::<Self>()#exempt)
}

/// A `#[template_filter]` or `#[template_global]`: its registration in the template
/// environment, under the name given or the function's.
fn template(func: &syn::ItemFn, method: &str, jinja: Option<&LitStr>) -> TokenStream {
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let jinja = jinja.map_or(name_str.clone(), LitStr::value);
    let add = Ident::new(method, Span::call_site());
    quote! {
        ::std::vec![::erlen::__private::Entry::template(
            #name_str,
            |env: &mut ::erlen::__private::Environment<'static>| env.#add(#jinja, #name),
        )]
    }
}

/// The runtime's trait for the types a converter's text converts into.
fn converter_trait(converter: erlen_pattern::Converter) -> &'static str {
    use erlen_pattern::Converter;
    match converter {
        Converter::Int => "IntParam",
        Converter::Float => "FloatParam",
        Converter::Uuid => "UuidParam",
        Converter::String | Converter::Path => "StrParam",
    }
}

/// The name of a non-function item, to point an error at.
pub(crate) fn item_name_span(item: &syn::Item) -> Span {
    let ident: Option<&Ident> = match item {
        syn::Item::Struct(i) => Some(&i.ident),
        syn::Item::Enum(i) => Some(&i.ident),
        syn::Item::Const(i) => Some(&i.ident),
        syn::Item::Static(i) => Some(&i.ident),
        syn::Item::Type(i) => Some(&i.ident),
        syn::Item::Mod(i) => Some(&i.ident),
        syn::Item::Trait(i) => Some(&i.ident),
        syn::Item::Union(i) => Some(&i.ident),
        _ => None,
    };
    ident.map(|i| i.span()).unwrap_or_else(|| item.span())
}
