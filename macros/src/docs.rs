//! Reading the user's doc comments: the `///` lines a command's help and an operation's
//! OpenAPI summary are written from.

/// The text of a doc comment: its lines (a `#[doc]` with line breaks counts as several)
/// without the space that follows `///`, joined by newlines, trimmed.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        // `///` alone is `#[doc = ""]`, a blank line: `"".lines()` has none, so split on '\n'.
        .flat_map(|text| {
            text.split('\n')
                .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    lines.join("\n").trim().to_string()
}
