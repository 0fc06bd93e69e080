//! Validation of what a request sends, as FastAPI, APIFlask and Quart-Schema do it:
//! [`Valid`] around [`Json`], [`Form`] or [`Query`] checks the value with `garde` after it
//! is parsed. An invalid value ends the request in a 422 carrying [`ValidationErrors`]:
//! every failing field with its location, a JSON body by default, or the app's own answer
//! from an error handler (by type, `#[errorhandler(ValidationErrors)]`, or by code, 422),
//! which may re-render a form with the messages next to its inputs. A value that does
//! not parse stays the 400 (or 415) of the extractor inside.

use std::fmt;

use bytes::Bytes;
use garde::error::Kind;
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::HttpError;
use crate::extract::{BodyUse, Form, FromRequest, Query};
use crate::request::Request;
use crate::response::Json;

/// A request value checked with `garde` after it is parsed: `Valid<Json<T>>`,
/// `Valid<Form<T>>` or `Valid<Query<T>>`, for a `T` that derives `garde::Validate` (with a
/// context that is `Default`, such as the default `()`). Needs erlen's `validate` feature.
///
/// An invalid value is a 422 whose default body lists every failing field, its location
/// starting with `body` or `query` and following nested fields and list indexes:
/// `{"errors": [{"loc": ["body", "title"], "msg": "length is lower than 1"}]}`. The error
/// carries [`ValidationErrors`], for an error handler to render it otherwise.
///
/// ```
/// use erlen::prelude::*;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, garde::Validate)]
/// struct NewPost {
///     #[garde(length(min = 1, max = 100))]
///     title: String,
///     #[garde(skip)]
///     body: String,
/// }
///
/// #[post("/posts")]
/// async fn create(Valid(Json(post)): Valid<Json<NewPost>>) -> String {
///     format!("{}: {}", post.title, post.body)
/// }
///
/// let client = App::new().register(handlers![create]).test_client();
/// let ok = client.post("/posts").json(&serde_json::json!({"title": "Hi", "body": "..."})).send();
/// assert_eq!(ok.text(), "Hi: ...");
/// let bad = client.post("/posts").json(&serde_json::json!({"title": "", "body": "..."})).send();
/// assert_eq!(bad.status(), 422);
/// assert_eq!(bad.json::<serde_json::Value>()["errors"][0]["loc"], serde_json::json!(["body", "title"]));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Valid<T>(pub T);

impl<T> std::ops::Deref for Valid<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// The extractors [`Valid`] wraps: the value they parse, and where in the request it is.
#[diagnostic::on_unimplemented(
    message = "`Valid` cannot check `{Self}`",
    label = "`Valid` wraps `Json<T>`, `Form<T>` or `Query<T>`",
    note = "take `Valid<Json<T>>`, `Valid<Form<T>>` or `Valid<Query<T>>` where `T` derives `garde::Validate`"
)]
pub trait Validated {
    /// The parsed value, which `garde` checks.
    type Value: garde::Validate;
    /// Where the value is, the first element of every error's location: `body` or `query`.
    const SOURCE: &'static str;

    /// The parsed value.
    fn value(&self) -> &Self::Value;
}

impl<T: garde::Validate> Validated for Json<T> {
    type Value = T;
    const SOURCE: &'static str = "body";

    fn value(&self) -> &T {
        &self.0
    }
}

impl<T: garde::Validate> Validated for Form<T> {
    type Value = T;
    const SOURCE: &'static str = "body";

    fn value(&self) -> &T {
        &self.0
    }
}

impl<T: garde::Validate> Validated for Query<T> {
    type Value = T;
    const SOURCE: &'static str = "query";

    fn value(&self) -> &T {
        &self.0
    }
}

/// Parsed by the extractor inside (its 400 or 415 stays), then checked: a 422 with the
/// failing fields. `Option<Valid<..>>` is `None` when the request has no such value, as
/// the extractor inside says.
impl<E> FromRequest for Valid<E>
where
    E: FromRequest + Validated,
    <E::Value as garde::Validate>::Context: Default,
{
    const BODY: BodyUse = E::BODY;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        let parsed = E::from_request(req)?;
        check(&parsed)?;
        Ok(Valid(parsed))
    }

    fn from_request_optional(req: &Request) -> Result<Option<Self>, HttpError> {
        match E::from_request_optional(req)? {
            Some(parsed) => {
                check(&parsed)?;
                Ok(Some(Valid(parsed)))
            }
            None => Ok(None),
        }
    }
}

fn check<E: Validated>(parsed: &E) -> Result<(), HttpError>
where
    <E::Value as garde::Validate>::Context: Default,
{
    match garde::Validate::validate(parsed.value()) {
        Ok(()) => Ok(()),
        Err(report) => Err(ValidationErrors::from_report(E::SOURCE, &report).into_http()),
    }
}

/// Every field that failed validation, with where it is and why: what a request that
/// [`Valid`] refused carries to the error handlers, as FastAPI's and Quart-Schema's
/// validation errors and the `errors` of a WTForms form.
///
/// By default it answers a 422 with `{"errors": [{"loc": [...], "msg": "..."}]}`. An
/// error handler for it renders it as the app likes: a server-rendered form re-renders
/// with each message next to its input.
///
/// ```
/// use erlen::prelude::*;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, garde::Validate)]
/// struct Signup {
///     #[garde(length(min = 3))]
///     name: String,
///     #[garde(range(min = 18))]
///     age: u32,
/// }
///
/// #[post("/signup")]
/// fn signup(Valid(Form(s)): Valid<Form<Signup>>) -> String { format!("welcome {}", s.name) }
///
/// #[errorhandler(ValidationErrors)]
/// fn invalid(err: &ValidationErrors) -> (StatusCode, Html<String>) {
///     let items: Vec<String> = err.errors().iter().map(|e| format!("<li>{}: {}", e.field(), e.msg())).collect();
///     (StatusCode::UNPROCESSABLE_ENTITY, Html(items.concat()))
/// }
///
/// let client = App::new().register(handlers![signup, invalid]).test_client();
/// let resp = client.post("/signup").form(&[("name", "al"), ("age", "42")]).send();
/// assert_eq!(resp.status(), 422);
/// assert_eq!(resp.text(), "<li>name: length is lower than 3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationErrors {
    errors: Vec<FieldError>,
}

/// One failing field: its location and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    loc: Vec<Loc>,
    msg: String,
}

/// One step of a field's location: a key (a field's name) or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Loc {
    /// A field or map key, or where the value is: `body`, `query`.
    Key(String),
    /// An index in a list.
    Index(usize),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Key(key) => f.write_str(key),
            Loc::Index(i) => write!(f, "{i}"),
        }
    }
}

impl FieldError {
    /// Where the field is: `["body", "author", "name"]`, `["body", "tags", 1]`,
    /// `["query", "page"]`; just `["body"]` for a rule on the whole value.
    pub fn loc(&self) -> &[Loc] {
        &self.loc
    }

    /// Why it failed, as `garde` says.
    pub fn msg(&self) -> &str {
        &self.msg
    }

    /// The field's path within its value, as a form names its inputs: `title`,
    /// `author.name`, `tags[1]`; empty for a rule on the whole value.
    pub fn field(&self) -> String {
        let mut out = String::new();
        for step in self.loc.iter().skip(1) {
            match step {
                Loc::Key(key) if out.is_empty() => out.push_str(key),
                Loc::Key(key) => {
                    out.push('.');
                    out.push_str(key);
                }
                Loc::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

impl ValidationErrors {
    /// The failing fields, in the order `garde` reports them (by location, not in the
    /// order of the fields' declaration).
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// The (loc, msg) pairs, as the 422's body lists them: `(["body", "title"], "...")`.
    /// For a form, [`ValidationErrors::messages`] and [`ValidationErrors::by_field`] name
    /// each field as its input is named (`title`, `author.name`, `tags[1]`).
    pub fn fields(&self) -> Vec<(&[Loc], &str)> {
        self.errors.iter().map(|e| (e.loc.as_slice(), e.msg.as_str())).collect()
    }

    /// The messages of the field `field` (`title`, `author.name`), for a template:
    /// `{% for msg in errors.get('title', []) %}` reads the same map from
    /// [`ValidationErrors::by_field`].
    pub fn messages(&self, field: &str) -> Vec<&str> {
        self.errors.iter().filter(|e| e.field() == field).map(|e| e.msg.as_str()).collect()
    }

    /// Every field's messages, by field, for a template's context.
    pub fn by_field(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut map = std::collections::BTreeMap::<String, Vec<String>>::new();
        for e in &self.errors {
            map.entry(e.field()).or_default().push(e.msg.clone());
        }
        map
    }

    /// The default body of the 422: `{"errors": [{"loc": [...], "msg": "..."}, ...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "errors": self.errors })
    }

    fn from_report(source: &'static str, report: &garde::Report) -> ValidationErrors {
        let errors = report
            .iter()
            .map(|(path, error)| {
                // garde keeps a path's steps innermost first, with their kind: a key, an
                // index, or none (the value inside an `Option`, a newtype).
                let steps = path.__iter().rev().filter_map(|(kind, step)| match kind {
                    Kind::Key => Some(Loc::Key(step.to_string())),
                    Kind::Index => Some(step.parse().map_or_else(|_| Loc::Key(step.to_string()), Loc::Index)),
                    Kind::None => None,
                });
                let loc = std::iter::once(Loc::Key(source.to_string())).chain(steps).collect();
                FieldError { loc, msg: error.message().to_string() }
            })
            .collect();
        ValidationErrors { errors }
    }

    /// The 422 that carries these errors, with their JSON as its default body.
    fn into_http(self) -> HttpError {
        let body = serde_json::to_vec(&self.to_json()).map(Bytes::from).unwrap_or_default();
        HttpError::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_message(self.to_string())
            .with_page(HeaderValue::from_static("application/json"), body)
            .with_source(self)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("validation failed")?;
        for (i, e) in self.errors.iter().enumerate() {
            let loc: Vec<String> = e.loc.iter().map(Loc::to_string).collect();
            write!(f, "{} {}: {}", if i == 0 { ":" } else { ";" }, loc.join("."), e.msg)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_follow_nested_fields_and_indexes() {
        let mut report = garde::Report::new();
        report.append(garde::Path::new("title"), garde::Error::new("too short"));
        report.append(garde::Path::new("tags").join(1usize), garde::Error::new("empty"));
        report.append(garde::Path::new("author").join("name"), garde::Error::new("required"));
        report.append(garde::Path::empty(), garde::Error::new("whole"));
        let errors = ValidationErrors::from_report("body", &report);
        assert_eq!(
            errors.to_json(),
            serde_json::json!({"errors": [
                {"loc": ["body", "title"], "msg": "too short"},
                {"loc": ["body", "tags", 1], "msg": "empty"},
                {"loc": ["body", "author", "name"], "msg": "required"},
                {"loc": ["body"], "msg": "whole"},
            ]})
        );
        let fields: Vec<String> = errors.errors().iter().map(FieldError::field).collect();
        assert_eq!(fields, ["title", "tags[1]", "author.name", ""]);
        assert_eq!(errors.messages("author.name"), ["required"]);
        assert_eq!(
            errors.to_string(),
            "validation failed: body.title: too short; body.tags.1: empty; body.author.name: required; body: whole"
        );
    }
}
