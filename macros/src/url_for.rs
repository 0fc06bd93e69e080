//! `url_for!(handler, name = value, ...)`, checked at compile time.
//!
//! A proc macro cannot see other items, so the check takes two steps. Every attribute
//! leaves a small `macro_rules!` next to its function, named like it (see [`helper`] and
//! [`helper_name`]), that knows the route, or that there is none, or that the attribute
//! found a mistake in the handler (then `url_for!` adds no error to the one reported).
//! `url_for!(path::name, ..)` calls it (`path::name!`), and it calls back into [`checked`]
//! with the route's pattern and the user's tokens, spans intact: the pattern is parsed
//! with the shared parser and every argument is checked against it, each mistake on the
//! user's token.
//!
//! A name that names nothing is the compiler's to report, in its words: `url_for!(shwo)`
//! is "cannot find macro `shwo` in this scope", with "a macro with a similar name exists"
//! and the fix, and `url_for!(views::shwo)` is "cannot find `shwo` in `views`". On stable
//! Rust a macro cannot ask whether a name exists, and no item it emits can stand in for a
//! missing one: an item of `url_for!`'s own expansion is the innermost and shadows the
//! real helper, and a glob import of it makes every correct name ambiguous (E0659).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use erlen_pattern::{Converter, Pattern};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Token};

use crate::errors::Errors;
use crate::table::{Attr, Role};

/// Macros of the standard prelude and built-in attributes: a helper named like one of them
/// would shadow it (or be ambiguous with it) in the handler's module.
const RESERVED: &[&str] = &[
    "allow",
    "automatically_derived",
    "bench",
    "cfg_attr",
    "cold",
    "collapse_debuginfo",
    "crate_name",
    "crate_type",
    "debugger_visualizer",
    "deny",
    "deprecated",
    "derive",
    "diagnostic",
    "doc",
    "expect",
    "export_name",
    "feature",
    "forbid",
    "global_allocator",
    "ignore",
    "inline",
    "instruction_set",
    "link",
    "link_name",
    "link_section",
    "macro_export",
    "macro_use",
    "must_use",
    "naked",
    "no_implicit_prelude",
    "no_main",
    "no_mangle",
    "no_std",
    "non_exhaustive",
    "path",
    "proc_macro",
    "proc_macro_attribute",
    "proc_macro_derive",
    "recursion_limit",
    "repr",
    "should_panic",
    "target_feature",
    "test",
    "track_caller",
    "type_length_limit",
    "unsafe",
    "used",
    "warn",
    "windows_subsystem",
    "assert",
    "assert_eq",
    "assert_ne",
    "cfg",
    "column",
    "compile_error",
    "concat",
    "dbg",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "env",
    "eprint",
    "eprintln",
    "file",
    "format",
    "format_args",
    "include",
    "include_bytes",
    "include_str",
    "line",
    "matches",
    "module_path",
    "option_env",
    "panic",
    "print",
    "println",
    "stringify",
    "todo",
    "unimplemented",
    "unreachable",
    "vec",
    "write",
    "writeln",
    // erlen's own macros in the prelude, which a glob import brings.
    "context",
    "echo",
];

/// The name of the helper macro a route attribute leaves for `name`: the function's own
/// name, so that `use views::index;` brings it along with the function, unless that
/// would shadow a standard macro.
pub(crate) fn helper_name(name: &Ident) -> Ident {
    if RESERVED.contains(&name.to_string().as_str()) {
        format_ident!("__erlen_url_{}", name, span = name.span())
    } else {
        name.clone()
    }
}

/// `url_for!(path, args)`: calls the handler's helper with `(path) args`.
pub(crate) fn front(input: TokenStream) -> TokenStream {
    let parsed = syn::parse::Parser::parse2(
        |input: ParseStream| {
            let path: syn::Path = input.parse()?;
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
            Ok((path, input.parse::<TokenStream>()?))
        },
        input,
    );
    let (path, rest) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let message = format!(
                "{e}: `url_for!` takes a handler and its route parameters, as in `url_for!(user, id = 7)`"
            );
            return syn::Error::new(e.span(), message).to_compile_error();
        }
    };
    let mut helper = path.clone();
    if let Some(last) = helper.segments.last_mut() {
        last.ident = helper_name(&last.ident);
        last.arguments = syn::PathArguments::None;
    }
    quote!(#helper! { (#path) #rest })
}

/// `name = value`.
struct Arg {
    name: Ident,
    value: Expr,
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![=]>()?;
        Ok(Arg { name, value: input.parse()? })
    }
}

/// What the helper a handler's attribute leaves knows about the handler, and passes back
/// to [`checked`]: `route "/users/<int:id>"`, `hook "before_request"` or `reported`.
pub(crate) enum Target {
    /// The pattern of the handler's first route.
    Route(LitStr),
    /// The attribute of a handler that has no URL.
    Hook(LitStr),
    /// Nothing: the attribute found a mistake in the handler and reported it. `url_for!`
    /// then says nothing of its own, so that the one mistake is reported once.
    Reported,
}

impl Target {
    /// The target of an attribute whose function has no URL: `hook "before_request"`.
    pub(crate) fn hook(attr: &str) -> Target {
        Target::Hook(LitStr::new(attr, Span::call_site()))
    }
}

impl ToTokens for Target {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(match self {
            Target::Route(lit) => quote!(route #lit),
            Target::Hook(lit) => quote!(hook #lit),
            Target::Reported => quote!(reported),
        });
    }
}

impl Parse for Target {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let tag: Ident = input.parse()?;
        match tag.to_string().as_str() {
            "route" => Ok(Target::Route(input.parse()?)),
            "hook" => Ok(Target::Hook(input.parse()?)),
            "reported" => Ok(Target::Reported),
            _ => Err(syn::Error::new(tag.span(), "expected `route`, `hook` or `reported`")),
        }
    }
}

struct Call {
    target: Target,
    path: syn::Path,
    args: Punctuated<Arg, Token![,]>,
}

impl Parse for Call {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let target = input.parse()?;
        let inner;
        syn::parenthesized!(inner in input);
        let path = inner.parse()?;
        let args = Punctuated::parse_terminated(input)?;
        Ok(Call { target, path, args })
    }
}

/// The checked call: `url_for!`'s second step.
pub(crate) fn checked(input: TokenStream) -> TokenStream {
    let call: Call = match syn::parse2(input) {
        Ok(call) => call,
        Err(e) => {
            let message =
                format!("{e}: `url_for!` takes `name = value` pairs, as in `url_for!(user, id = 7)`");
            return syn::Error::new(e.span(), message).to_compile_error();
        }
    };
    let handler = call.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
    let lit = match &call.target {
        Target::Route(lit) => lit,
        Target::Hook(kind) => {
            let message = format!(
                "`{handler}` is a `#[{}]` function, not a route: `url_for!` takes a function marked with {}",
                kind.value(),
                Attr::list(Role::has_url)
            );
            return syn::Error::new_spanned(&call.path, message).to_compile_error();
        }
        Target::Reported => return quote!(::std::string::String::new()),
    };
    let source = lit.value();
    let pattern = match Pattern::parse(&source) {
        Ok(pattern) => pattern,
        // The route attribute reported it already.
        Err(_) => return quote!(::std::string::String::new()),
    };

    let mut errors = Errors::default();
    let mut seen = HashSet::new();
    let mut values = Vec::new();
    let mut external = quote!(false);
    let mut anchor = quote!(::std::option::Option::None);
    let expected = describe_params(&pattern);
    for arg in &call.args {
        let name = arg.name.to_string();
        if !seen.insert(name.clone()) {
            errors.at(&arg.name, format!("`{name}` is given twice"));
            continue;
        }
        let value = &arg.value;
        match name.as_str() {
            "_external" => external = quote_spanned!(value.span()=> #value),
            "_anchor" => {
                anchor = quote_spanned!(value.span()=>
                    ::std::option::Option::Some(::std::convert::AsRef::<str>::as_ref(&(#value))))
            }
            _ => match pattern.params().find(|(n, _)| *n == name) {
                Some((_, converter)) => {
                    let check = format_ident!("url_{}", value_fn(converter), span = value.span());
                    let text = quote_spanned!(value.span()=> ::erlen::__private::#check(&(#value)));
                    values.push(quote!((#name, ::std::string::String::as_str(&#text))));
                }
                None if name.starts_with('_') => errors.at(
                    &arg.name,
                    format!(
                        "unknown option `{name}`: `url_for!` takes `_external = true` and `_anchor = \"...\"`"
                    ),
                ),
                None => errors.at(
                    &arg.name,
                    format!(
                        "`{name}` is not a parameter of `{handler}`, whose route is \"{source}\"; {expected}"
                    ),
                ),
            },
        }
    }
    for (name, _) in pattern.params() {
        if !seen.contains(name) {
            errors.at(
                &call.path,
                format!(
                    "`url_for!({handler})` needs a value for `{name}`, a parameter of the route \"{source}\": add `, {name} = ...`"
                ),
            );
        }
    }
    if let Some(errors) = errors.into_compile_errors() {
        // In a block, so that several errors stay statements of one expression.
        return quote!({ #errors ::std::string::String::new() });
    }
    let path = &call.path;
    let item = quote_spanned!(path.span()=> ::erlen::__private::TypeId::of::<#path>());
    quote! {
        ::erlen::__private::url_for(#item, #handler, &[#(#values),*], #external, #anchor)
    }
}

fn value_fn(converter: Converter) -> &'static str {
    match converter {
        Converter::Int => "int",
        Converter::Float => "float",
        Converter::Uuid => "uuid",
        Converter::String | Converter::Path => "text",
    }
}

fn describe_params(pattern: &Pattern) -> String {
    let names: Vec<String> = pattern.params().map(|(n, _)| format!("`{n}`")).collect();
    match names.len() {
        0 => "it takes no parameters".to_string(),
        _ => format!("its parameters are {}", names.join(", ")),
    }
}

/// The helper a handler's attribute leaves for `url_for!`: it knows the first route's
/// pattern (or that the function is a hook, or that the attribute reported a mistake) and
/// calls back into [`checked`].
pub(crate) fn helper(func: &syn::ItemFn, target: &Target) -> TokenStream {
    let helper = helper_name(&func.sig.ident);
    // A method sits in an `impl`, where neither the macro nor the `use` can live.
    if func.sig.receiver().is_some() {
        return TokenStream::new();
    }
    // The macro is defined in a module of its own and imported from there, so that the
    // import brings the macro only, beside the function and the struct of the same name.
    // Numbered, so that a glob import of a parent module (`use super::*`) that has a
    // handler of the same name brings no module of the same name.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let module = format_ident!("__erlen_url_for_{}_{}", func.sig.ident, NEXT.fetch_add(1, Ordering::Relaxed));
    quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, unused_macros, unused_imports)]
        mod #module {
            macro_rules! #helper {
                ($($args:tt)*) => { ::erlen::__private::url_for_checked!{ #target $($args)* } };
            }
            pub(crate) use #helper;
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #module::#helper;
    }
}
