//! Templates: Jinja2 syntax through minijinja, so that a Flask template ports as it is.
//!
//! The app's environment is built once with its folder, Flask's template globals
//! (`url_for`, `request`) and the `#[template_filter]` / `#[template_global]` functions
//! registered with `handlers![]`; Python's string and dict methods (`.upper()`,
//! `.items()`, `.get()`) work as in Jinja2. Each template is parsed on first use and kept;
//! in debug mode it is parsed again when its file changes.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Environment, ErrorKind};

use crate::error::HttpError;
use crate::handler::TemplateRegistration;
use crate::response::{IntoResponse, Response, html_response};

/// The app's template environment; `None` when the app set no template folder and
/// registered no template functions.
#[derive(Default)]
pub(crate) struct Templates {
    env: Option<Environment<'static>>,
    folder: Option<PathBuf>,
}

impl Templates {
    pub(crate) fn new(
        folder: Option<PathBuf>,
        debug: bool,
        registrations: &[TemplateRegistration],
    ) -> Templates {
        if folder.is_none() && registrations.is_empty() {
            return Templates::default();
        }
        let mut env = Environment::new();
        if let Some(folder) = &folder {
            env.set_loader(minijinja::path_loader(folder));
        }
        env.set_auto_reload(debug);
        if debug {
            // Errors then carry the template's source, for the debug page.
            env.set_debug(true);
        }
        env.set_formatter(markupsafe_formatter);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("url_for", url_for);
        env.add_global("request", Value::from_object(CurrentRequest));
        env.add_global("session", Value::from_object(CurrentSession));
        env.add_function("get_flashed_messages", get_flashed_messages);
        for register in registrations {
            register(&mut env);
        }
        Templates { env: Some(env), folder }
    }

    /// The folder templates are loaded from, if any.
    pub(crate) fn folder(&self) -> Option<&std::path::Path> {
        self.folder.as_deref()
    }

    fn render(&self, name: &str, context: Value) -> Result<String, HttpError> {
        let Some(env) = &self.env else {
            return Err(HttpError::internal(format!(
                "render_template({name:?}): the app has no template folder; set one with `App::template_folder(\"templates\")`"
            )));
        };
        let rendered = env.get_template(name).and_then(|template| template.render(context));
        rendered.map_err(|e| {
            let missing = e.kind() == ErrorKind::TemplateNotFound;
            tracing::error!(
                template = e.name().unwrap_or(name),
                line = e.line(),
                folder = ?self.folder,
                error = %e,
                detail = %e.display_debug_info(),
                "{}",
                if missing { "a template was not found" } else { "a template failed to render" }
            );
            HttpError::internal(format!("template {name:?}: {e}")).with_source(e)
        })
    }
}

/// Escapes text as Jinja2's MarkupSafe does (`&`, `<`, `>`, `"`, `'`; not `/`), so that a
/// ported template renders the same HTML as under Flask.
fn markupsafe_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match (state.auto_escape(), value.as_str()) {
        (minijinja::AutoEscape::Html, Some(text)) if !value.is_safe() => {
            crate::error::write_escaped_html(out, text)
                .map_err(|e| minijinja::Error::new(ErrorKind::WriteFailure, e.to_string()))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// A rendered template: an HTML response (`text/html`), or the error that a missing or
/// broken template ended in (a 500, logged with the template, the line and the error).
///
/// Made by [`render_template`].
pub struct Template {
    rendered: Result<String, HttpError>,
}

impl Template {
    /// The rendered text, or the error.
    ///
    /// # Errors
    ///
    /// A 500 [`HttpError`] when the template is missing or fails to render.
    pub fn into_string(self) -> Result<String, HttpError> {
        self.rendered
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template").field("ok", &self.rendered.is_ok()).finish()
    }
}

impl IntoResponse for Template {
    fn into_response(self) -> Response {
        self.into_outcome().unwrap_or_else(|e| e.into_response())
    }

    fn into_outcome(self) -> Result<Response, HttpError> {
        self.rendered.map(html_response)
    }
}

/// Renders the template `name` from the app's template folder with `context`, as Flask's
/// `render_template`: `.html`, `.htm` and `.xml` templates autoescape, and the template
/// sees `url_for()`, `request` and the app's template filters and globals.
///
/// ```
/// use erlen::prelude::*;
/// # let dir = std::env::temp_dir().join(format!("erlen-doc-templates-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::fs::write(dir.join("hello.html"), "<p>Hello {{ name }} from {{ url_for('hello') }}</p>").unwrap();
///
/// #[get("/hello")]
/// fn hello() -> Template {
///     render_template("hello.html", context! { name => "<erlen>" })
/// }
///
/// let client = App::new().template_folder(&dir).register(handlers![hello]).test_client();
/// assert_eq!(client.get("/hello").send().text(), "<p>Hello &lt;erlen&gt; from /hello</p>");
/// ```
///
/// # Panics
///
/// Outside a request (the app is found through the request context).
pub fn render_template(name: &str, context: impl serde::Serialize) -> Template {
    let ctx = crate::context::expect("render_template");
    let context = Value::from(minijinja::value::Serde(&context));
    let rendered = match ctx.feature::<Templates>() {
        Some(templates) => templates.render(name, context),
        None => Templates::default().render(name, context),
    };
    Template { rendered }
}

/// Builds a template context, as minijinja's `context!` and Flask's
/// `render_template(name, **values)`: `context! { title => "Notes", notes, ..base }` (a
/// name alone takes the variable of that name; `..value` merges a map under the pairs).
/// Any value that implements `serde::Serialize` goes in as it is: maps with any key,
/// your own structs, `Vec`s of them.
///
/// ```
/// use std::collections::BTreeMap;
/// use erlen::context;
///
/// #[derive(serde::Serialize)]
/// struct Note { title: String }
///
/// let notes = BTreeMap::from([(1, Note { title: "milk".into() })]);
/// let ctx = context! { heading => "Notes", notes };
/// assert_eq!(ctx.get_attr("heading").unwrap().as_str(), Some("Notes"));
/// assert_eq!(ctx.get_attr("notes").unwrap().get_item(&1.into()).unwrap().get_attr("title").unwrap().as_str(), Some("milk"));
/// ```
#[macro_export]
macro_rules! context {
    () => {
        $crate::minijinja::Value::from(::std::collections::BTreeMap::<
            ::std::string::String,
            $crate::minijinja::Value,
        >::new())
    };
    ($($key:ident $(=> $value:expr)?),* $(, .. $merge:expr)* $(,)?) => {{
        #[allow(unused_mut)]
        let mut pairs =
            ::std::collections::BTreeMap::<::std::string::String, $crate::minijinja::Value>::new();
        $(pairs.insert(::std::stringify!($key).into(), $crate::__context_value!($key $(=> $value)?));)*
        let pairs = $crate::minijinja::Value::from(pairs);
        let merged: ::std::vec::Vec<$crate::minijinja::Value> =
            ::std::vec![$($crate::minijinja::Value::from($crate::minijinja::value::Serde(&$merge))),*];
        if merged.is_empty() {
            pairs
        } else {
            $crate::minijinja::value::merge_maps(merged.into_iter().rev().chain(::std::iter::once(pairs)))
        }
    }};
    ($(.. $merge:expr),+ $(,)?) => {
        $crate::minijinja::value::merge_maps(
            ::std::vec![$($crate::minijinja::Value::from($crate::minijinja::value::Serde(&$merge))),+].into_iter().rev(),
        )
    };
}

/// A value of [`context!`], serialized.
#[doc(hidden)]
#[macro_export]
macro_rules! __context_value {
    ($key:ident) => {
        $crate::minijinja::Value::from($crate::minijinja::value::Serde(&$key))
    };
    ($key:ident => $value:expr) => {
        $crate::minijinja::Value::from($crate::minijinja::value::Serde(&$value))
    };
}

/// The templates' `url_for(endpoint, **values)`: values the route does not name become
/// the query string, `_external=true` makes the URL absolute, `_anchor` adds `#anchor`.
fn url_for(endpoint: &str, values: Kwargs) -> Result<String, minijinja::Error> {
    let fail =
        |e: &dyn fmt::Display| minijinja::Error::new(ErrorKind::InvalidOperation, format!("url_for: {e}"));
    let ctx = crate::context::current().ok_or_else(|| fail(&"there is no request"))?;
    let mut external = false;
    let mut anchor = None;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for key in values.args() {
        match key {
            "_external" => external = values.get::<bool>(key)?,
            "_anchor" => anchor = Some(values.get::<String>(key)?),
            _ => {
                let value: Value = values.get(key)?;
                pairs.push((key.to_string(), value.to_string()));
            }
        }
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ctx.app.url_for(&ctx, endpoint, &borrowed, true, external, anchor.as_deref()).map_err(|e| fail(&e))
}

/// The templates' `get_flashed_messages(with_categories=false, category_filter=[])`:
/// the messages, or `(category, message)` pairs; empty without a session.
fn get_flashed_messages(options: Kwargs) -> Result<Value, minijinja::Error> {
    let with_categories: Option<bool> = options.get("with_categories")?;
    let filter: Option<Vec<String>> = options.get("category_filter")?;
    options.assert_all_used()?;
    let session = crate::session::current();
    let mut flashes = session.map(|s| s.take_flashes()).unwrap_or_default();
    if let Some(filter) = filter.filter(|f| !f.is_empty()) {
        flashes.retain(|(category, _)| filter.contains(category));
    }
    Ok(if with_categories.unwrap_or(false) {
        Value::from_iter(flashes.into_iter().map(|(c, m)| Value::from_iter([Value::from(c), Value::from(m)])))
    } else {
        Value::from_iter(flashes.into_iter().map(|(_, m)| Value::from(m)))
    })
}

/// The templates' `session`: the current session's values (empty without one).
#[derive(Debug)]
struct CurrentSession;

impl Object for CurrentSession {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let session = crate::session::current()?;
        session.value(key.as_str()?).map(|v| Value::from(minijinja::value::Serde(v)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys = crate::session::current().map(|s| s.keys()).unwrap_or_default();
        Enumerator::Values(keys.into_iter().map(Value::from).collect())
    }
}

/// The templates' `request`: the current request's method, path, args (the query, first
/// value of each key), form (a urlencoded body, likewise), endpoint, blueprint, url, host and scheme.
#[derive(Debug)]
struct CurrentRequest;

const REQUEST_KEYS: &[&str] = &[
    "method",
    "path",
    "full_path",
    "query_string",
    "args",
    "form",
    "endpoint",
    "blueprint",
    "url",
    "host",
    "scheme",
];

/// The first value of each key of a urlencoded text, as Flask's `request.args.get` and
/// `request.form.get`; empty when it does not parse.
fn first_values(pairs: Result<Vec<(String, String)>, serde_urlencoded::de::Error>) -> Value {
    let mut values = std::collections::BTreeMap::new();
    for (k, v) in pairs.unwrap_or_default() {
        values.entry(k).or_insert(v);
    }
    Value::from(values)
}

impl Object for CurrentRequest {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let ctx = crate::context::current()?;
        let path = || percent_encoding::percent_decode_str(ctx.uri.path()).decode_utf8_lossy().into_owned();
        let query = ctx.uri.query().unwrap_or("");
        Some(match key.as_str()? {
            "method" => Value::from(ctx.method.as_str()),
            "path" => Value::from(path()),
            "full_path" => Value::from(format!("{}?{query}", path())),
            "query_string" => Value::from(query),
            "args" => first_values(serde_urlencoded::from_str(query)),
            "form" => first_values(serde_urlencoded::from_bytes(&ctx.form)),
            "endpoint" => ctx.endpoint_name().map(Value::from).unwrap_or_default(),
            "blueprint" => ctx.blueprint().map(Value::from).unwrap_or_default(),
            "url" => {
                let target = ctx.uri.path_and_query().map_or("/", |p| p.as_str());
                Value::from(format!("{}://{}{target}", ctx.scheme(), ctx.host()))
            }
            "host" => Value::from(ctx.host()),
            "scheme" => Value::from(ctx.scheme()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(REQUEST_KEYS)
    }
}
