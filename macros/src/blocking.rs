//! Blocking calls inside an `async fn` handler or hook: the pain point users of every async
//! framework report (a `std::thread::sleep` in a handler stalls every request on that
//! runtime thread). The macro sees the body, so it warns at compile time, with a real
//! compiler warning on stable Rust: a use of a `#[deprecated]` item, spanned on the call.
//! `allow_blocking` in the attribute turns it off.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, ExprCall, ExprPath, Local, Stmt};

/// Removes a top-level `allow_blocking` flag from an attribute's arguments, and returns it.
pub(crate) fn take_allow_blocking(tokens: TokenStream) -> (TokenStream, Option<proc_macro2::Ident>) {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let Some((at, flag)) = trees.iter().enumerate().find_map(|(at, t)| match t {
        TokenTree::Ident(i) if i == "allow_blocking" => Some((at, i.clone())),
        _ => None,
    }) else {
        return (trees.into_iter().collect(), None);
    };
    let is_comma = |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ',');
    // Drop the flag with the comma before it (`"/x", allow_blocking`) or after it.
    let (start, end) = if at > 0 && is_comma(trees.get(at - 1)) {
        (at - 1, at + 1)
    } else if is_comma(trees.get(at + 1)) {
        (at, at + 2)
    } else {
        (at, at + 1)
    };
    let rest = trees[..start].iter().chain(&trees[end..]).cloned().collect();
    (rest, Some(flag))
}

/// A blocking call found in an async body: where, and what to say.
struct Finding {
    span: Span,
    message: String,
}

/// The warnings for the blocking calls in `func`'s body, as items to emit next to it.
pub(crate) fn warnings(func: &syn::ItemFn) -> TokenStream {
    let mut finder = Finder { found: Vec::new() };
    finder.visit_block(&func.block);
    let name = &func.sig.ident;
    finder
        .found
        .into_iter()
        .enumerate()
        .map(|(i, finding)| {
            let note = format!("in `async fn {name}`: {}", finding.message);
            let marker = format_ident!("blocking_call_in_async_handler_{}", i, span = finding.span);
            quote_spanned! {finding.span=>
                const _: () = {
                    #[deprecated(note = #note)]
                    #[allow(non_upper_case_globals)]
                    const #marker: () = ();
                    #marker
                };
            }
        })
        .collect()
}

const FIX: &str = "make it a plain `fn` (erlen runs it off the runtime) or use the async equivalent; \
                   `allow_blocking` in the attribute silences this";

struct Finder {
    found: Vec<Finding>,
}

impl Finder {
    fn report(&mut self, span: Span, what: &str, instead: &str) {
        self.found
            .push(Finding { span, message: format!("`{what}` blocks the async runtime ({instead}); {FIX}") });
    }
}

/// The path of a call as written, such as `std::thread::sleep`.
fn path_text(path: &ExprPath) -> String {
    path.path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

/// What a called path is, if it is a known blocking API: its name and the async way.
fn blocking_path(text: &str) -> Option<(&'static str, &'static str)> {
    let segments: Vec<&str> = text.split("::").collect();
    let from_std = |module: &str| match segments.first() {
        Some(&"std") => segments.get(1) == Some(&module),
        Some(first) => *first == module,
        None => false,
    };
    if segments.ends_with(&["thread", "sleep"]) {
        return Some(("std::thread::sleep", "use `tokio::time::sleep(..).await`"));
    }
    if segments.contains(&"reqwest") && segments.contains(&"blocking") {
        return Some(("reqwest::blocking", "use `reqwest::Client` and `.await`"));
    }
    if from_std("fs") && segments.len() > 1 {
        return Some(("std::fs", "use `tokio::fs` and `.await`"));
    }
    if from_std("net") && segments.len() > 1 {
        return Some(("std::net", "use `tokio::net` and `.await`"));
    }
    if segments.ends_with(&["io", "stdin"]) && segments.first() == Some(&"std") {
        return Some(("std::io::stdin", "read input outside the handler"));
    }
    None
}

/// Whether an expression is a `.lock()` call, possibly unwrapped: a `std::sync::Mutex`
/// guard (a `tokio::sync::Mutex` is locked with `.lock().await`).
fn is_sync_lock(expr: &Expr) -> bool {
    match expr {
        Expr::MethodCall(call) if call.method == "lock" && call.args.is_empty() => true,
        Expr::MethodCall(call) if (call.method == "unwrap" || call.method == "expect") => {
            is_sync_lock(&call.receiver)
        }
        Expr::Try(t) => is_sync_lock(&t.expr),
        _ => false,
    }
}

/// Whether a statement awaits anything.
fn awaits(stmt: &Stmt) -> bool {
    struct Awaits(bool);
    impl<'ast> Visit<'ast> for Awaits {
        fn visit_expr_await(&mut self, _: &'ast syn::ExprAwait) {
            self.0 = true;
        }
        // A closure or async block of its own is not this body's await.
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    }
    let mut v = Awaits(false);
    v.visit_stmt(stmt);
    v.0
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_expr_call(&mut self, call: &'ast ExprCall) {
        if let Expr::Path(path) = &*call.func {
            if let Some((what, instead)) = blocking_path(&path_text(path)) {
                self.report(path.span(), what, instead);
            }
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        // A `std::sync::Mutex` guard bound to a name, with an `.await` later in the block:
        // the guard is held across the await.
        for (i, stmt) in block.stmts.iter().enumerate() {
            if let Stmt::Local(Local { init: Some(init), pat, .. }) = stmt {
                let held = !matches!(pat, syn::Pat::Wild(_));
                if held && is_sync_lock(&init.expr) && block.stmts[i + 1..].iter().any(awaits) {
                    self.report(
                        init.expr.span(),
                        "std::sync::Mutex::lock",
                        "its guard is held across an `.await`: drop it before, or use `tokio::sync::Mutex`",
                    );
                }
            }
        }
        syn::visit::visit_block(self, block);
    }

    // A closure may run elsewhere (`spawn_blocking`), a nested item is not this body:
    // neither is searched. Async blocks are: they run on the runtime too.
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}
