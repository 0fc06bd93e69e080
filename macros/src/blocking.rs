//! Blocking calls inside an `async fn` handler or hook: the pain point users of every async
//! framework report (a `std::thread::sleep` in a handler stalls every request on that
//! runtime thread). The macro sees the body, so it warns at compile time, with a real
//! compiler warning on stable Rust: a use of a `#[deprecated]` item, spanned on the call.
//! The item is an associated constant of the handler's struct, named for the call, so
//! that the warning names the handler and the call:
//! "use of deprecated associated constant `sleepy::std_thread_sleep_in_async_fn`".
//! `allow_blocking` in the attribute turns it off.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, ExprCall, ExprPath, Ident, Local, Stmt};

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

/// A blocking call found in an async body: where, and what it is.
struct Finding {
    span: Span,
    call: Blocking,
}

/// A kind of blocking call: the API, the async way, and the name of the constant whose
/// use raises the warning.
#[derive(Clone, Copy)]
struct Blocking {
    what: &'static str,
    instead: &'static str,
    marker: &'static str,
}

const FIX: &str = "make it a plain `fn` (erlen runs it off the runtime) or use the async equivalent; \
                   `allow_blocking` in the attribute silences this";

impl Blocking {
    fn note(&self) -> String {
        format!("`{}` blocks the async runtime ({}); {FIX}", self.what, self.instead)
    }
}

/// The warnings for the blocking calls in `func`'s body, as items to emit next to it: one
/// deprecated constant per kind of call in the `impl` of the handler's struct (which
/// shares the function's name), and a use of it at each call.
pub(crate) fn warnings(func: &syn::ItemFn) -> TokenStream {
    let mut finder = Finder { found: Vec::new() };
    finder.visit_block(&func.block);
    if finder.found.is_empty() {
        return TokenStream::new();
    }
    let name = &func.sig.ident;
    let mut markers: Vec<Blocking> = Vec::new();
    let mut uses = Vec::new();
    for Finding { span, call } in finder.found {
        if !markers.iter().any(|m| m.marker == call.marker) {
            markers.push(call);
        }
        // Every token on the call, so that the warning points there and nowhere else.
        let mut item = name.clone();
        item.set_span(span);
        let marker = Ident::new(call.marker, span);
        uses.push(quote_spanned!(span=> const _: () = #item::#marker;));
    }
    let consts = markers.iter().map(|call| {
        let marker = Ident::new(call.marker, Span::call_site());
        let note = call.note();
        quote! {
            #[deprecated(note = #note)]
            #[allow(non_upper_case_globals)]
            const #marker: () = ();
        }
    });
    quote! {
        impl #name {
            #(#consts)*
        }
        #(#uses)*
    }
}

struct Finder {
    found: Vec<Finding>,
}

/// The path of a call as written, such as `std::thread::sleep`.
fn path_text(path: &ExprPath) -> String {
    path.path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

/// What a called path is, if it is a known blocking API.
fn blocking_path(text: &str) -> Option<Blocking> {
    let segments: Vec<&str> = text.split("::").collect();
    let from_std = |module: &str| match segments.first() {
        Some(&"std") => segments.get(1) == Some(&module),
        Some(first) => *first == module,
        None => false,
    };
    let found = |what, instead, marker| Some(Blocking { what, instead, marker });
    if segments.ends_with(&["thread", "sleep"]) {
        return found(
            "std::thread::sleep",
            "use `tokio::time::sleep(..).await`",
            "std_thread_sleep_in_async_fn",
        );
    }
    if segments.contains(&"reqwest") && segments.contains(&"blocking") {
        return found(
            "reqwest::blocking",
            "use `reqwest::Client` and `.await`",
            "reqwest_blocking_in_async_fn",
        );
    }
    if from_std("fs") && segments.len() > 1 {
        return found("std::fs", "use `tokio::fs` and `.await`", "std_fs_in_async_fn");
    }
    if from_std("net") && segments.len() > 1 {
        return found("std::net", "use `tokio::net` and `.await`", "std_net_in_async_fn");
    }
    if segments.ends_with(&["io", "stdin"]) && segments.first() == Some(&"std") {
        return found("std::io::stdin", "read input outside the handler", "std_io_stdin_in_async_fn");
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
            if let Some(call) = blocking_path(&path_text(path)) {
                self.found.push(Finding { span: path.span(), call });
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
                    let call = Blocking {
                        what: "std::sync::Mutex::lock",
                        instead: "its guard is held across an `.await`: drop it before, or use `tokio::sync::Mutex`",
                        marker: "std_sync_mutex_guard_across_await",
                    };
                    self.found.push(Finding { span: init.expr.span(), call });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_call_is_one_constant_of_the_handler_used_at_each_call() {
        let func: syn::ItemFn = syn::parse_quote! {
            async fn handler(m: Mutex<u8>) {
                std::thread::sleep(d);
                thread::sleep(d);
                std::fs::read("f");
                fs::write("f", "");
                std::net::TcpStream::connect("a");
                reqwest::blocking::get("u");
                std::io::stdin();
                let guard = m.lock().unwrap();
                yield_now().await;
            }
        };
        let items: syn::File = syn::parse2(warnings(&func)).expect("the warnings are items");
        let syn::Item::Impl(consts) = &items.items[0] else {
            panic!("an impl of the handler's struct first")
        };
        let names: Vec<String> = consts
            .items
            .iter()
            .map(|item| match item {
                syn::ImplItem::Const(c) => c.ident.to_string(),
                _ => panic!("constants only"),
            })
            .collect();
        assert_eq!(
            names,
            [
                // A block's guards are found before its calls.
                "std_sync_mutex_guard_across_await",
                "std_thread_sleep_in_async_fn",
                "std_fs_in_async_fn",
                "std_net_in_async_fn",
                "reqwest_blocking_in_async_fn",
                "std_io_stdin_in_async_fn",
            ]
        );
        // One use per call: the sleeps and the file calls twice each.
        assert_eq!(items.items.len(), 1 + 8);
    }
}
