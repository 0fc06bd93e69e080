//! Code generation from a checked [`Handler`]. The user's function is emitted unchanged;
//! next to it, a braced struct of the same name (type namespace, as Rocket does)
//! implements `Item`, whose `entries` builds the registration. The glue is a small
//! function that extracts the arguments, calls the user's function the way its
//! `asyncness` requires, and converts the result, calling into `::erlen::__private` for
//! everything else.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ReturnType};

use crate::args::ErrorTarget;
use crate::model::{Arg, Handler, Kind};

/// The struct that `handlers![name]` builds, and its `Item` impl with `entries`.
pub fn item_struct(func: &syn::ItemFn, entries: TokenStream) -> TokenStream {
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

/// The registration code for a checked handler.
pub fn generate(handler: &Handler) -> TokenStream {
    let func = &handler.func;
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let is_async = func.sig.asyncness.is_some();
    let p = quote!(::erlen::__private);

    // Arguments: extracted values first (owned), then the call with request references.
    let mut prelude = Vec::new();
    let mut call_args = Vec::new();
    for (i, arg) in handler.args.iter().enumerate() {
        let local = format_ident!("__erlen_arg{}", i);
        match arg {
            Arg::Request { mutable: false } => call_args.push(quote!(&*__req)),
            Arg::Request { mutable: true } => call_args.push(quote!(&mut *__req)),
            Arg::Response => call_args.push(quote!(__resp)),
            Arg::TeardownError | Arg::Error => call_args.push(quote!(__err)),
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
        }
    }

    let call = if is_async {
        quote_spanned!(name.span()=> #p::assert_send(#name(#(#call_args),*)).await)
    } else {
        quote!(#name(#(#call_args),*))
    };
    // The return value is converted by calling the public trait's method directly, so that
    // a type that does not implement it is reported against that trait alone, with no
    // "required by a bound in" note naming a hidden helper.
    let (convert, output) = match &handler.kind {
        Kind::Route(_) | Kind::Error(_) => (quote!(IntoResponse::into_outcome), quote!(#p::Response)),
        Kind::Before => (quote!(BeforeOutcome::into_before), quote!(::std::option::Option<#p::Response>)),
        Kind::After => (quote!(AfterOutcome::into_after), quote!(#p::Response)),
        Kind::Teardown => (quote!(TeardownOutcome::into_teardown), quote!(())),
        Kind::BeforeServing | Kind::AfterServing => (quote!(ServingOutcome::into_serving), quote!(())),
    };
    let ret_span = match &func.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => name.span(),
    };
    let convert = quote_spanned!(ret_span=> #p::#convert(__out));
    let body = quote! {
        #(#prelude)*
        let __out = #call;
        #convert
    };

    let lt = if is_async { quote!('r) } else { quote!() };
    let extra = match &handler.kind {
        Kind::After => quote!(, __resp: #p::Response),
        Kind::Teardown => quote!(, __err: ::std::option::Option<&#lt #p::HttpError>),
        Kind::Error(_) => quote!(, __err: &#lt #p::HttpError),
        Kind::Route(_) | Kind::Before | Kind::BeforeServing | Kind::AfterServing => quote!(),
    };
    let result = quote!(::std::result::Result<#output, #p::HttpError>);
    let glue = if is_async {
        quote! {
            fn __erlen_call<'r>(__req: &'r mut #p::Request #extra) -> #p::BoxFuture<'r, #result> {
                ::std::boxed::Box::pin(async move { #body })
            }
        }
    } else {
        quote! {
            fn __erlen_call(__req: &mut #p::Request #extra) -> #result {
                #body
            }
        }
    };
    let callable = if is_async {
        quote!(#p::Callable::Async(__erlen_call))
    } else {
        quote!(#p::Callable::Sync(__erlen_call))
    };
    let entry = match &handler.kind {
        Kind::Route(rules) => {
            let rules = rules.iter().map(|r| {
                let lit = &r.lit;
                let methods = &r.methods;
                quote!((#lit, &[#(#methods),*]))
            });
            quote!(#p::Entry::route(#name_str, &[#(#rules),*], #callable).of::<Self>())
        }
        Kind::Before => quote!(#p::Entry::before_request(#name_str, #callable)),
        Kind::After => quote!(#p::Entry::after_request(#name_str, #callable)),
        Kind::Teardown => quote!(#p::Entry::teardown_request(#name_str, #callable)),
        Kind::BeforeServing => quote!(#p::Entry::before_serving(#name_str, #callable)),
        Kind::AfterServing => quote!(#p::Entry::after_serving(#name_str, #callable)),
        Kind::Error(ErrorTarget::Code(code)) => quote!(#p::Entry::error_code(#name_str, #code, #callable)),
        Kind::Error(ErrorTarget::Type(ty)) => {
            quote_spanned!(ty.span()=> #p::Entry::error_type::<#ty>(#name_str, #callable))
        }
    };
    let item = item_struct(
        func,
        quote! {
            #glue
            ::std::vec![#entry]
        },
    );
    let url_helper = match &handler.kind {
        Kind::Route(rules) => crate::url_for::helper(func, Ok(&rules[0].lit)),
        Kind::Before => crate::url_for::helper(func, Err("before_request")),
        Kind::After => crate::url_for::helper(func, Err("after_request")),
        Kind::Teardown => crate::url_for::helper(func, Err("teardown_request")),
        Kind::Error(_) => crate::url_for::helper(func, Err("errorhandler")),
        Kind::BeforeServing => crate::url_for::helper(func, Err("before_serving")),
        Kind::AfterServing => crate::url_for::helper(func, Err("after_serving")),
    };
    let warnings =
        if is_async && !handler.allow_blocking { crate::blocking::warnings(func) } else { quote!() };
    quote!(#item #url_helper #warnings)
}

/// A `#[template_filter]` or `#[template_global]`: the function, and its registration
/// in the template environment under `jinja_name`.
pub fn template_item(func: &syn::ItemFn, method: &str, jinja_name: &str) -> TokenStream {
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let add = Ident::new(method, Span::call_site());
    item_struct(
        func,
        quote! {
            ::std::vec![::erlen::__private::Entry::template(
                #name_str,
                |env: &mut ::erlen::__private::Environment<'static>| env.#add(#jinja_name, #name),
            )]
        },
    )
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
pub fn item_name_span(item: &syn::Item) -> Span {
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
