//! What a route's view says about itself, recorded by the macros for an OpenAPI document:
//! its doc comment, the bodies and query it takes (`Json<T>`, `Form<T>`, `Query<T>`,
//! `Multipart`, inside `Valid` or not), and what it returns. The route attributes
//! generate a function that fills an [`Operation`]; `openapi` turns it into the
//! document when the app asks for one. An app that never does pays a function pointer
//! per route.
//!
//! A type's schema is found by the type itself, at the view: a type that implements
//! `schemars::JsonSchema` (with erlen's `openapi` feature) gives its schema, any other an
//! open one that says so. The choice is made at compile time, on stable Rust, by autoref
//! specialization: the macros call `(&&Probe::<T>::new()).schema()`, which resolves to
//! [`ViaJsonSchema`] when `T: JsonSchema` (its impl is for `&Probe<T>`, found first) and
//! falls back to [`ViaOpen`] (for `Probe<T>`, one autoderef further) otherwise.

use std::any::type_name;
use std::marker::PhantomData;

/// The generator a schema is made with: schemars' (feature `openapi`), else none.
#[cfg(feature = "openapi")]
pub(crate) type Generator = schemars::SchemaGenerator;
/// Without the `openapi` feature no schema is ever made.
#[cfg(not(feature = "openapi"))]
pub(crate) enum Generator {}

/// How a type's JSON Schema is made: into the generator's definitions, returning the
/// schema or a `$ref` to it.
pub(crate) type MakeSchema = fn(&mut Generator) -> serde_json::Value;

/// The schema of a type a view takes or returns: made by schemars, or open.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub struct Schema {
    pub(crate) type_name: &'static str,
    pub(crate) make: Option<MakeSchema>,
}

/// The type whose schema is asked for, for autoref specialization (see the module).
pub struct Probe<T: ?Sized>(PhantomData<fn() -> *const T>);

impl<T: ?Sized> Probe<T> {
    /// The probe of `T`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Probe<T> {
        Probe(PhantomData)
    }
}

impl<T: ?Sized> std::fmt::Debug for Probe<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Probe<{}>", type_name::<T>())
    }
}

/// The schema of a type that implements `schemars::JsonSchema`.
pub trait ViaJsonSchema {
    /// The type's schema.
    fn schema(&self) -> Schema;
}

#[cfg(feature = "openapi")]
impl<T: schemars::JsonSchema + ?Sized> ViaJsonSchema for &Probe<T> {
    fn schema(&self) -> Schema {
        Schema {
            type_name: type_name::<T>(),
            make: Some(|generator| generator.subschema_for::<T>().to_value()),
        }
    }
}

/// The open schema of a type that does not implement `schemars::JsonSchema`.
pub trait ViaOpen {
    /// An open schema, naming the type.
    fn schema(&self) -> Schema;
}

impl<T: ?Sized> ViaOpen for Probe<T> {
    fn schema(&self) -> Schema {
        Schema { type_name: type_name::<T>(), make: None }
    }
}

/// Where a body's media type comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Media {
    Json,
    Form,
    Multipart,
}

/// What a view takes that the document describes.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) enum Part {
    Body { media: Media, schema: Option<Schema>, required: bool, validated: bool },
    Query { schema: Schema, required: bool, validated: bool },
}

/// What a view returns that the document describes.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) enum Returns {
    Json(Schema),
    Html,
    Text,
}

/// What one route's view says about itself; the macros' generated code fills it.
#[derive(Debug, Default)]
pub struct Operation {
    pub(crate) summary: Option<&'static str>,
    pub(crate) description: Option<&'static str>,
    pub(crate) parts: Vec<Part>,
    pub(crate) returns: Option<Returns>,
    /// Not an HTTP operation (a WebSocket): left out of the document.
    pub(crate) hidden: bool,
}

/// The function the macros generate for a route, which describes its view.
pub type Describe = fn(&mut Operation);

impl Operation {
    /// The doc comment: its first paragraph and the rest (either may be empty).
    pub fn doc(&mut self, summary: &'static str, description: &'static str) {
        self.summary = Some(summary).filter(|s| !s.is_empty());
        self.description = Some(description).filter(|s| !s.is_empty());
    }

    /// A `Json<T>` argument.
    pub fn json_body(&mut self, schema: Schema, required: bool, validated: bool) {
        self.parts.push(Part::Body { media: Media::Json, schema: Some(schema), required, validated });
    }

    /// A `Form<T>` argument.
    pub fn form_body(&mut self, schema: Schema, required: bool, validated: bool) {
        self.parts.push(Part::Body { media: Media::Form, schema: Some(schema), required, validated });
    }

    /// A `Multipart` argument.
    pub fn multipart_body(&mut self, required: bool) {
        self.parts.push(Part::Body { media: Media::Multipart, schema: None, required, validated: false });
    }

    /// A `Query<T>` argument.
    pub fn query(&mut self, schema: Schema, required: bool, validated: bool) {
        self.parts.push(Part::Query { schema, required, validated });
    }

    /// A `Json<T>` return value (inside a `Result`, an `Option` or a status tuple).
    pub fn returns_json(&mut self, schema: Schema) {
        self.returns = Some(Returns::Json(schema));
    }

    /// An HTML return value: `Html<T>` or a `Template`.
    pub fn returns_html(&mut self) {
        self.returns = Some(Returns::Html);
    }

    /// A text return value: `String` or `&str`.
    pub fn returns_text(&mut self) {
        self.returns = Some(Returns::Text);
    }

    /// A route that is no HTTP operation (a WebSocket).
    pub fn hide(&mut self) {
        self.hidden = true;
    }
}
