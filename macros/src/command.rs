//! Code generation for a checked `#[command]`: a glue function that takes the app's state
//! and the parsed command line ([`Invocation`](../erlen/struct.Invocation.html)), calls
//! the user's function the way its `asyncness` requires, and converts its result; and the
//! command's registration: its name, its help (the doc comment) and its arguments.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitStr, ReturnType, Type};

use crate::model::{Arg, CliShape, Handler};

/// The body of `Item::entries` for a command.
pub(crate) fn entries(handler: &Handler, given: Option<&LitStr>) -> TokenStream {
    let p = quote!(::erlen::__private);
    let func = &handler.func;
    let name = &func.sig.ident;
    let is_async = func.sig.asyncness.is_some();
    let cli_name = crate::kind::command_name(given, name);
    let function = name.to_string();
    let help = crate::docs::doc_text(&func.attrs);

    let mut prelude = Vec::new();
    let mut call_args = Vec::new();
    let mut specs = Vec::new();
    for (i, arg) in handler.args.iter().enumerate() {
        let local = format_ident!("__erlen_arg{}", i);
        match arg {
            Arg::Cli { name, ty, shape } => {
                let (read, spec) = match shape {
                    CliShape::Positional => (
                        quote_spanned!(ty.span()=> <#ty as #p::CommandValue>::required(&*__cmd, #name)?),
                        quote_spanned!(ty.span()=> #p::ArgSpec::positional(#name, <#ty as #p::CommandValue>::check)),
                    ),
                    CliShape::Optional(inner) => (
                        quote_spanned!(inner.span()=> <#inner as #p::CommandValue>::optional(&*__cmd, #name)?),
                        quote_spanned!(inner.span()=> #p::ArgSpec::option(#name, <#inner as #p::CommandValue>::check)),
                    ),
                    CliShape::Switch => (quote!(__cmd.switch(#name)), quote!(#p::ArgSpec::switch(#name))),
                };
                prelude.push(quote!(let #local = #read;));
                specs.push(spec);
            }
            Arg::Extract { ty } => {
                prelude.push(
                    quote_spanned!(ty.span()=> let #local = <#ty as #p::CommandContext>::from_app(&*__cmd)?;),
                );
            }
            // `model` reports every other argument on a command as a mistake.
            _ => continue,
        }
        call_args.push(quote!(#local));
    }

    let call = if is_async {
        quote_spanned!(name.span()=> #p::assert_send(#name(#(#call_args),*)).await)
    } else {
        quote!(#name(#(#call_args),*))
    };
    let (ret_span, printed) = match &func.sig.output {
        ReturnType::Type(_, ty) => (ty.span(), is_printed(ty)),
        ReturnType::Default => (name.span(), false),
    };
    let convert = if printed {
        quote_spanned!(ret_span=> #p::CommandPrint::into_command(__out))
    } else {
        quote_spanned!(ret_span=> #p::CommandReturn::into_command(__out))
    };
    let (glue, callable) = if is_async {
        (
            quote! {
                fn __erlen_call<'r>(__cmd: &'r mut #p::Invocation) -> #p::BoxFuture<'r, #p::CommandResult> {
                    ::std::boxed::Box::pin(async move { #(#prelude)* let __out = #call; #convert })
                }
            },
            quote!(#p::Callable::Async(__erlen_call)),
        )
    } else {
        (
            quote! {
                fn __erlen_call(__cmd: &mut #p::Invocation) -> #p::CommandResult {
                    #(#prelude)*
                    let __out = #call;
                    #convert
                }
            },
            quote!(#p::Callable::Sync(__erlen_call)),
        )
    };
    quote! {
        #glue
        ::std::vec![#p::Entry::command(
            #p::CommandSpec::new(#cli_name, #function, #help, ::std::vec![#(#specs),*]),
            #callable,
        )]
    }
}

/// Whether a return type is a value to print, rather than `()` or a `Result` whose `Err`
/// is the command's failure.
fn is_printed(ty: &Type) -> bool {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => false,
        Type::Path(p) => p.path.segments.last().is_none_or(|s| s.ident != "Result"),
        Type::Paren(p) => is_printed(&p.elem),
        Type::Group(g) => is_printed(&g.elem),
        _ => true,
    }
}
