//! Reading the types of the user's function as written: the macro sees tokens, not
//! resolved types, so `Request` is any type whose last path segment is `Request`.

use syn::{GenericArgument, PathArguments, Type};

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// Whether `ty` is written `name` (or `path::name`), without generic arguments.
pub(crate) fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == name && s.arguments.is_none())
}

/// `Option<T>`: the `T`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    generic_inner(ty, "Option")
}

/// `Name<T>` (or `path::Name<T>`): the `T`; for `Result<T, E>`, the `T`.
pub(crate) fn generic_inner<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let seg = last_segment(ty).filter(|s| s.ident == name)?;
    let PathArguments::AngleBracketed(args) = &seg.arguments else { return None };
    let one = args.args.len() == 1 || name == "Result";
    match args.args.first() {
        Some(GenericArgument::Type(inner)) if one => Some(inner),
        _ => None,
    }
}

/// `Option<&T>`: the `&T`.
pub(crate) fn option_of_ref(ty: &Type) -> Option<&syn::TypeReference> {
    match option_inner(ty) {
        Some(Type::Reference(r)) => Some(r),
        _ => None,
    }
}

/// Whether two types are written the same.
pub(crate) fn tokens_eq(a: &Type, b: &Type) -> bool {
    quote::quote!(#a).to_string() == quote::quote!(#b).to_string()
}

/// A type as the user would write it: `std::io::Error`, not `std :: io :: Error`.
pub(crate) fn pretty(ty: &Type) -> String {
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
