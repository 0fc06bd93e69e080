//! What a route's view says about itself, for the runtime's OpenAPI document: its doc
//! comment (the first paragraph is the summary, the rest the description), the bodies and
//! query its arguments take, and what it returns. Read from the types as written, as the
//! other checks read them (`Json<T>` is any type whose last segment is `Json`); a type the
//! macro does not recognize is left out of the document, never an error. Each schema is
//! asked of the type itself through `__private::api::Probe`, which picks the type's
//! `schemars::JsonSchema` when it has one and an open schema otherwise.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

use crate::kind::Kind;
use crate::model::{Arg, Handler};
use crate::types::{generic_inner, is_named, option_inner};

/// `.doc(..)` for a route's registration, or nothing when there is nothing to say beyond
/// its pattern and methods.
pub(crate) fn describe(handler: &Handler) -> TokenStream {
    let p = quote!(::erlen::__private::api);
    if let Kind::WebSocket(_) = handler.kind {
        return quote!(.doc(|__op: &mut #p::Operation| __op.hide()));
    }
    let mut calls = Vec::new();
    if let Some((summary, description)) = doc_comment(&handler.func.attrs) {
        calls.push(quote!(__op.doc(#summary, #description);));
    }
    for arg in &handler.args {
        if let Arg::Extract { ty } = arg {
            calls.extend(argument(ty));
        }
    }
    if let ReturnType::Type(_, ty) = &handler.func.sig.output {
        calls.extend(returns(ty));
    }
    if calls.is_empty() {
        return quote!();
    }
    quote!(.doc(|__op: &mut #p::Operation| { #(#calls)* }))
}

/// The doc comment's first paragraph, on one line, and the rest.
fn doc_comment(attrs: &[syn::Attribute]) -> Option<(String, String)> {
    let text = crate::docs::doc_text(attrs);
    let text = text.as_str();
    if text.is_empty() {
        return None;
    }
    let (first, rest) = text.split_once("\n\n").unwrap_or((text, ""));
    let summary = first.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    Some((summary, rest.trim().to_string()))
}

/// The call that records an argument: a body, a query, or nothing.
fn argument(ty: &Type) -> Option<TokenStream> {
    let (ty, required) = match option_inner(ty) {
        Some(inner) => (inner, false),
        None => (ty, true),
    };
    let (ty, validated) = match generic_inner(ty, "Valid") {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    if is_named(ty, "Multipart") {
        return Some(quote!(__op.multipart_body(#required);));
    }
    let (method, inner) = ["Json", "Form", "Query"].into_iter().find_map(|name| {
        let inner = generic_inner(ty, name)?;
        let method = match name {
            "Json" => quote!(json_body),
            "Form" => quote!(form_body),
            _ => quote!(query),
        };
        Some((method, inner))
    })?;
    let schema = schema(inner)?;
    Some(quote!(__op.#method(#schema, #required, #validated);))
}

/// The call that records the return value: `Json<T>` (inside `Result`, `Option`, or a
/// status tuple), HTML or text.
fn returns(ty: &Type) -> Option<TokenStream> {
    let mut ty = ty;
    loop {
        if let Some(inner) = generic_inner(ty, "Result").or_else(|| option_inner(ty)) {
            ty = inner;
        } else if let Type::Tuple(tuple) = ty {
            ty = tuple.elems.iter().nth(1).filter(|_| tuple.elems.len() == 2)?;
        } else if let Type::Paren(p) = ty {
            ty = &p.elem;
        } else {
            break;
        }
    }
    if let Some(inner) = generic_inner(ty, "Json") {
        let schema = schema(inner)?;
        return Some(quote!(__op.returns_json(#schema);));
    }
    if generic_inner(ty, "Html").is_some() || is_named(ty, "Template") {
        return Some(quote!(__op.returns_html();));
    }
    let text = match ty {
        Type::Reference(r) => is_named(&r.elem, "str"),
        _ => is_named(ty, "String"),
    };
    text.then(|| quote!(__op.returns_text();))
}

/// The schema of `ty`, through the probe; none for a type that cannot be named in an
/// expression (`impl Trait`).
fn schema(ty: &Type) -> Option<TokenStream> {
    if quote!(#ty).to_string().split_whitespace().any(|t| t == "impl" || t == "dyn") {
        return None;
    }
    Some(quote_spanned! {ty.span()=> {
        #[allow(unused_imports)]
        use ::erlen::__private::api::{ViaJsonSchema as _, ViaOpen as _};
        (&&::erlen::__private::api::Probe::<#ty>::new()).schema()
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(source: &str) -> Option<(String, String)> {
        let item: syn::ItemFn = syn::parse_str(&format!("{source}\nfn f() {{}}")).unwrap();
        doc_comment(&item.attrs)
    }

    #[test]
    fn the_first_paragraph_is_the_summary() {
        assert_eq!(doc("/// Lists the posts."), Some(("Lists the posts.".into(), String::new())));
        assert_eq!(
            doc("/// Lists the posts,\n/// newest first.\n///\n/// Paged by `page`.\n///\n/// More."),
            Some(("Lists the posts, newest first.".into(), "Paged by `page`.\n\nMore.".into()))
        );
        assert_eq!(doc("#[doc = \"\"]"), None);
        assert_eq!(doc("#[inline]"), None);
    }

    #[test]
    fn arguments_are_read_through_option_and_valid() {
        let call = |ty: &str| argument(&syn::parse_str(ty).unwrap()).map(|t| t.to_string());
        assert!(call("Json<Post>").unwrap().contains("json_body"));
        assert!(call("Option<Valid<Form<Post>>>").unwrap().ends_with("false , true) ;"));
        assert!(call("Valid<Query<Page>>").unwrap().contains("query"));
        assert!(call("Multipart").unwrap().contains("multipart_body (true)"));
        assert_eq!(call("State<Db>"), None);
        assert_eq!(call("Json<impl Sized>"), None);
    }

    #[test]
    fn returns_are_read_through_results_options_and_tuples() {
        let call = |ty: &str| returns(&syn::parse_str(ty).unwrap()).map(|t| t.to_string());
        assert!(call("Result<Json<Post>, HttpError>").unwrap().contains("returns_json"));
        assert!(call("(StatusCode, Json<Post>)").unwrap().contains("returns_json"));
        assert!(call("Option<Html<String>>").unwrap().contains("returns_html"));
        assert!(call("&'static str").unwrap().contains("returns_text"));
        assert_eq!(call("Redirect"), None);
        assert_eq!(call("impl IntoResponse"), None);
    }
}
