//! Attribute macros for [erlen](https://docs.rs/erlen). Use them through `erlen`, which
//! re-exports them: `use erlen::prelude::*;`.
//!
//! Every attribute is declared once, below, in the table of `attributes!` (`table`), and
//! expanded the same way (`attribute`): its arguments are parsed (`args`), the function
//! is checked against them (`model`, `shape`), and the registration is generated
//! (`expand`). Every mistake found is reported, on the user's token, and the user's item
//! is emitted even then, so that one mistake does not cascade into others. Set
//! `ERLEN_MACRO_DEBUG=1` while building to print each expansion.

mod apidoc;
mod args;
mod attribute;
mod blocking;
mod command;
mod docs;
mod errors;
mod expand;
mod kind;
mod model;
mod shape;
mod table;
mod types;
mod units;
mod url_for;

use proc_macro::TokenStream;
use quote::quote;

table::attributes! {
    /// Registers a view for a URL pattern: `#[route("/users/<int:id>", methods = ["GET", "POST"])]`.
    ///
    /// Methods default to `GET` (with automatic `HEAD` and `OPTIONS`). Stack several on one
    /// function to serve several patterns. Every `<name>` needs an argument of that name; every
    /// other argument is `&Request` or an extractor. Patterns use Flask's converters:
    /// `string` (default), `int`, `float`, `path`, `uuid`.
    route => Route;

    /// A `GET` route: `#[get("/path")]`, with the arguments of `#[route]` but `methods`.
    get => Method;

    /// A `POST` route: `#[post("/path")]`, with the arguments of `#[route]` but `methods`.
    post => Method;

    /// A `PUT` route: `#[put("/path")]`, with the arguments of `#[route]` but `methods`.
    put => Method;

    /// A `PATCH` route: `#[patch("/path")]`, with the arguments of `#[route]` but `methods`.
    patch => Method;

    /// A `DELETE` route: `#[delete("/path")]`, with the arguments of `#[route]` but `methods`.
    delete => Method;

    /// Registers a WebSocket endpoint at a URL pattern: `#[websocket("/chat/<room>")]`.
    ///
    /// The function is the socket's handler, as flask-sock's `@sock.route`: an `async fn`
    /// takes `ws: WebSocket` (`ws.recv().await`, `ws.send(..).await`) and runs as a task on
    /// the runtime; a plain `fn` takes `ws: BlockingWebSocket` (`ws.receive()`, `ws.send(..)`)
    /// and runs on a blocking thread of its own for the socket's whole life. The macro picks
    /// at compile time, and taking the other kind of socket is a compile error.
    ///
    /// In every other respect it is a GET route: route parameters, extractors and
    /// `before_request` hooks apply to the upgrade request, and a hook that answers (a 401)
    /// or an extractor that fails refuses the upgrade. The other arguments are extracted
    /// before the `101 Switching Protocols` is sent and moved into the handler, so they are
    /// owned values: `&Request` cannot be taken. `url_for!` works as for any route. The
    /// handler returns `()` or `Result<(), E>`; an `Err` or a panic is logged and the socket
    /// is closed with code 1011.
    ///
    /// ```ignore
    /// #[websocket("/echo")]
    /// async fn echo(mut ws: WebSocket) {
    ///     while let Some(msg) = ws.recv().await {
    ///         if ws.send(msg).await.is_err() { break; }
    ///     }
    /// }
    /// ```
    websocket => WebSocket;

    /// Runs before every request (of the app, or of a blueprint's routes). It may take
    /// `&Request` or `&mut Request` and extractors, and returns `()`, `None` to go on, or
    /// `Some(response)` to answer without running the view.
    before_request => BeforeRequest;

    /// Runs after the view (or a short-circuit or an error) with the response: takes
    /// `resp: Response`, returns it.
    after_request => AfterRequest;

    /// Runs at the very end of every request, whatever happened; may take
    /// `Option<&HttpError>`: the error no handler took, if any.
    teardown_request => TeardownRequest;

    /// Renders errors: `#[errorhandler(404)]` for a status in 400..=599 (taking
    /// `&HttpError`), or `#[errorhandler(MyError)]` for an error type returned in `Err`
    /// (taking `&MyError`).
    errorhandler => ErrorHandler;

    /// Runs once when a server starts, before it accepts its first connection (Quart's
    /// `before_serving`): warm a cache, check the database, run migrations. It takes
    /// application state as `State<T>` (there is no request) and returns `()` or
    /// `Result<(), E>`; an `Err` or a panic stops the start-up, and `Server::spawn` returns
    /// an error that names the hook. Register it on the app with `handlers![]`, not on a
    /// blueprint. Hooks run in registration order; a plain `fn` runs on the thread that
    /// starts the server, an `async fn` on the shared runtime. The test client does not run
    /// serving hooks, as Flask's does not.
    ///
    /// ```ignore
    /// #[before_serving]
    /// async fn warm_up(State(db): State<Db>) -> Result<(), DbError> {
    ///     db.ping().await
    /// }
    /// ```
    before_serving => BeforeServing;

    /// Runs once when a server stops, after the last in-flight request has drained (and the
    /// threaded backend's workers have exited), as Quart's `after_serving`: flush buffers,
    /// close connections. It takes application state as `State<T>` and returns `()` or
    /// `Result<(), E>`; an `Err` or a panic is logged, and the next hook runs. Registered
    /// like `#[before_serving]`; the test client does not run it.
    ///
    /// ```ignore
    /// #[after_serving]
    /// fn flush(State(log): State<AuditLog>) {
    ///     log.flush();
    /// }
    /// ```
    after_serving => AfterServing;

    /// Registers a plain `fn` as a template filter, as Flask's `@app.template_filter()`:
    /// `{{ title | shout }}` calls `fn shout(value: String) -> String`. The filter is named
    /// after the function unless a name is given: `#[template_filter("shout")]`. Register it
    /// with `handlers![]`.
    template_filter => TemplateFilter;

    /// Registers a plain `fn` as a template global function, as Flask's
    /// `@app.template_global()`: `{{ year() }}` calls `fn year() -> u32`. Named after the
    /// function unless a name is given: `#[template_global("year")]`. Register it with
    /// `handlers![]`.
    template_global => TemplateGlobal;

    /// Makes a function a command of the app's command line ([`App::cli`]), as Flask's
    /// `@app.cli.command()`: `cargo run -- init-db`. The command is named after the
    /// function, with `-` for `_` (`init_db` is `init-db`), unless a name is given:
    /// `#[command("init-db")]`. Its doc comment is its help. Register it with `handlers![]`.
    ///
    /// It may be a plain `fn` or an `async fn`, and runs outside any request, with the
    /// app's state but without its `before_serving` hooks. It takes application state as
    /// `State<T>`; every other argument is read from the command line, named after the
    /// parameter: `count: usize` is a positional `<COUNT>`, `name: Option<String>` an
    /// optional `--name <NAME>`, `dry_run: bool` a switch `--dry-run`, each parsed with
    /// `FromStr`. It returns `()`, `Result<(), E>` where `E: Display` (an `Err` prints
    /// `Error: ...` and exits with status 1), or a value that implements `Display`, which
    /// is printed. `echo!` prints its output.
    ///
    /// [`App::cli`]: https://docs.rs/erlen/latest/erlen/struct.App.html#method.cli
    ///
    /// ```ignore
    /// /// Clear the existing data and create new tables.
    /// #[command]
    /// fn init_db(State(db): State<Db>) -> Result<(), DbError> {
    ///     db.reset()?;
    ///     echo!("Initialized the database.");
    ///     Ok(())
    /// }
    /// ```
    command => Command;
}

/// Collects functions marked with erlen's attributes for `App::register` and
/// `Blueprint::register`: `handlers![index, api::users]`.
#[proc_macro]
pub fn handlers(input: TokenStream) -> TokenStream {
    use syn::parse::Parser;
    use syn::spanned::Spanned;
    let parser = syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated;
    let paths = match parser.parse(input) {
        Ok(paths) => paths,
        Err(e) => {
            let message = format!(
                "{e}: `handlers!` takes the names of annotated functions, as in `handlers![index, api::users]`"
            );
            return syn::Error::new(e.span(), message).to_compile_error().into();
        }
    };
    // `path {}` builds the struct the attribute generated next to the function; the
    // braces carry the path's span, so that a plain function is reported at its name.
    let items = paths.iter().map(|path| {
        let build = quote::quote_spanned!(path.span()=> #path {});
        quote!(::erlen::__private::Item::entries(#build))
    });
    quote!(::erlen::__private::Handlers::from_entries(::std::vec![#(#items),*])).into()
}

/// The URL of a route handler, checked at compile time: `url_for!(user, id = 7)` is
/// `"/users/7"`, with the prefix of the blueprint the handler is registered under, its
/// values percent-encoded. `_external = true` makes it absolute (scheme and host of the
/// current request), `_anchor = "top"` adds `#top`. Every parameter of the handler's
/// (first) route must be given, with a value of its converter's type; an unknown handler
/// or parameter is a compile error.
#[proc_macro]
pub fn url_for(input: TokenStream) -> TokenStream {
    url_for::front(input.into()).into()
}

#[doc(hidden)]
#[proc_macro]
pub fn __url_for_checked(input: TokenStream) -> TokenStream {
    url_for::checked(input.into()).into()
}

/// The names of the attributes, as `&[&str]`, for the runtime's tests: its diagnostic
/// note on `Item` lists them and is checked against this.
#[doc(hidden)]
#[proc_macro]
pub fn __attribute_names(_input: TokenStream) -> TokenStream {
    let names = table::Attr::ALL.iter().map(|a| a.name);
    quote!(&[#(#names),*]).into()
}
