//! The OpenAPI 3.1 document of an app (feature `openapi`), built from what the macros
//! recorded of each route (`apidoc`): its path in OpenAPI's form with typed parameters
//! (from the pattern's converters), its methods, the query parameters of a `Query<T>`, the
//! request bodies of `Json<T>`, `Form<T>` and `Multipart`, the response of a `Json<T>`
//! return value, a 422 where `Valid` checks the input, the doc comment's summary and
//! description, and the blueprint as a tag. Schemas come from `schemars` (JSON Schema
//! 2020-12, OpenAPI 3.1's dialect) under `components/schemas`; a type without
//! `JsonSchema` gets an open schema that says so.
//!
//! Input types are described as they deserialize and output types as they serialize
//! (two generators); a type whose two schemas differ is kept twice, its output one as
//! `Name-Output`, as FastAPI does.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use erlen_pattern::{Converter, Pattern, Segment};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::apidoc::{Describe, Generator, Media, Operation, Part, Returns, Schema};
use crate::body::BoxFuture;
use crate::error::HttpError;
use crate::request::Request;
use crate::response::{JSON, Response, with_type};

/// Where the components' schemas are, for `$ref`s.
const COMPONENTS: &str = "#/components/schemas/";

/// One route, as the app registered it.
pub(crate) struct RouteDoc<'a> {
    /// The endpoint's name: `index`, `api.show`.
    pub(crate) endpoint: String,
    /// Its patterns (with the blueprint's prefix) and their methods.
    pub(crate) rules: Vec<(Pattern, &'a [&'a str])>,
    /// The blueprint it belongs to: its tag.
    pub(crate) tag: Option<&'a str>,
    pub(crate) describe: Option<Describe>,
}

/// The document's `info`.
#[derive(Debug, Clone)]
pub(crate) struct Info {
    pub(crate) title: String,
    pub(crate) version: String,
}

impl Default for Info {
    fn default() -> Info {
        Info { title: "API".into(), version: "0.1.0".into() }
    }
}

/// The served document, kept by the app.
pub(crate) struct Document(pub(crate) Bytes);

/// The view of `App::openapi`'s route: the document, as JSON.
pub(crate) fn serve(_req: &mut Request) -> BoxFuture<'_, Result<Response, HttpError>> {
    Box::pin(async {
        let ctx = crate::context::current()
            .ok_or_else(|| HttpError::internal("the OpenAPI view ran outside a request"))?;
        let doc = ctx
            .feature::<Document>()
            .ok_or_else(|| HttpError::internal("the app has no OpenAPI document"))?;
        Ok(with_type(doc.0.clone(), JSON))
    })
}

fn generator(output: bool) -> Generator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let settings = if output { settings.for_serialize() } else { settings.for_deserialize() };
    settings.into_generator()
}

/// Schemas made while the document is built: input types' and output types'.
struct Schemas {
    input: Generator,
    output: Generator,
    validation: bool,
}

impl Schemas {
    /// The schema of a type: schemars', or an open one that names the type.
    fn of(&mut self, schema: &Schema, output: bool) -> Value {
        match schema.make {
            Some(make) => make(if output { &mut self.output } else { &mut self.input }),
            None => json!({
                "description": format!(
                    "`{}` is not described: it does not implement `schemars::JsonSchema`",
                    schema.type_name
                )
            }),
        }
    }

    /// A schema with a `$ref` to the components followed (one level), for the properties
    /// of a query.
    fn resolved(&self, schema: Value) -> Value {
        let target = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(COMPONENTS));
        match target {
            Some(name) => self.input.definitions().get(&decode(name)).cloned().unwrap_or(schema),
            None => schema,
        }
    }
}

/// A `$ref` name as the pointer writes it, decoded (`~1` is `/`, `~0` is `~`).
fn decode(name: &str) -> String {
    name.replace("~1", "/").replace("~0", "~")
}

/// The document of `routes`.
pub(crate) fn document(info: &Info, routes: &[RouteDoc<'_>]) -> Value {
    let mut schemas = Schemas { input: generator(false), output: generator(true), validation: false };
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut tags = BTreeSet::new();
    for route in routes {
        let mut op = Operation::default();
        if let Some(describe) = route.describe {
            describe(&mut op);
        }
        if op.hidden {
            continue;
        }
        let count: usize = route.rules.iter().map(|(_, methods)| methods.len()).sum();
        for (index, (pattern, methods)) in route.rules.iter().enumerate() {
            for method in methods.iter() {
                let lower = method.to_ascii_lowercase();
                let id = match (count, index) {
                    (1, _) => route.endpoint.clone(),
                    (_, 0) => format!("{}_{lower}", route.endpoint),
                    (_, i) => format!("{}_{lower}_{i}", route.endpoint),
                };
                let operation = operation(&op, pattern, id, route.tag, &mut schemas);
                paths.entry(path_of(pattern)).or_default().insert(lower, operation);
            }
        }
        tags.extend(route.tag);
    }
    let mut components = schemas.input.take_definitions(true);
    let output = schemas.output.take_definitions(true);
    let mut renamed = BTreeMap::new();
    for (name, schema) in output {
        match components.get(&name) {
            None => {
                components.insert(name, schema);
            }
            Some(same) if *same == schema => {}
            Some(_) => {
                let new = format!("{name}-Output");
                renamed.insert(format!("{COMPONENTS}{name}"), format!("{COMPONENTS}{new}"));
                components.insert(new, schema);
            }
        }
    }
    if !renamed.is_empty() {
        // Output schemas are the responses' and those they refer to.
        for op in paths.values_mut().flat_map(|item| item.values_mut()) {
            if let Some(responses) = op.get_mut("responses") {
                rename_refs(responses, &renamed);
            }
        }
        for new in renamed.values() {
            if let Some(schema) = new.strip_prefix(COMPONENTS).and_then(|n| components.get_mut(n)) {
                rename_refs(schema, &renamed);
            }
        }
    }
    if schemas.validation {
        components.insert("ValidationErrors".into(), validation_errors_schema());
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": info.title, "version": info.version },
        "paths": paths,
    });
    if !components.is_empty() {
        doc["components"] = json!({ "schemas": components });
    }
    if !tags.is_empty() {
        doc["tags"] = Value::Array(tags.into_iter().map(|name| json!({ "name": name })).collect());
    }
    doc
}

/// Every `$ref` in `value` that `renamed` names, renamed.
fn rename_refs(value: &mut Value, renamed: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(target) if key == "$ref" => {
                        if let Some(new) = renamed.get(target.as_str()) {
                            *target = new.clone();
                        }
                    }
                    other => rename_refs(other, renamed),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renamed)),
        _ => {}
    }
}

/// `/users/<int:id>` as OpenAPI writes it: `/users/{id}`.
fn path_of(pattern: &Pattern) -> String {
    pattern
        .segments()
        .iter()
        .map(|segment| match segment {
            Segment::Static(text) => text.clone(),
            Segment::Param { name, .. } => format!("{{{name}}}"),
        })
        .collect()
}

/// The schema of a path parameter, from its converter.
fn converter_schema(converter: Converter) -> Value {
    match converter {
        Converter::Int => json!({ "type": "integer" }),
        Converter::Float => json!({ "type": "number" }),
        Converter::Uuid => json!({ "type": "string", "format": "uuid" }),
        Converter::Path => json!({ "type": "string", "description": "may contain slashes" }),
        Converter::String => json!({ "type": "string" }),
    }
}

/// One operation object.
fn operation(
    op: &Operation,
    pattern: &Pattern,
    id: String,
    tag: Option<&str>,
    schemas: &mut Schemas,
) -> Value {
    let mut object = Map::new();
    if let Some(tag) = tag {
        object.insert("tags".into(), json!([tag]));
    }
    if let Some(summary) = op.summary {
        object.insert("summary".into(), json!(summary));
    }
    if let Some(description) = op.description {
        object.insert("description".into(), json!(description));
    }
    object.insert("operationId".into(), json!(id));
    let mut parameters: Vec<Value> = pattern
        .params()
        .map(|(name, converter)| {
            json!({ "name": name, "in": "path", "required": true, "schema": converter_schema(converter) })
        })
        .collect();
    let mut bodies = Map::new();
    let mut body_required = false;
    let mut validated = false;
    for part in &op.parts {
        match part {
            Part::Query { schema, required, validated: v } => {
                validated |= v;
                parameters.extend(query_parameters(schema, *required, schemas));
            }
            Part::Body { media, schema, required, validated: v } => {
                validated |= v;
                body_required |= required;
                let (kind, schema) = match (media, schema) {
                    (Media::Json, Some(schema)) => ("application/json", schemas.of(schema, false)),
                    (Media::Form, Some(schema)) => {
                        ("application/x-www-form-urlencoded", schemas.of(schema, false))
                    }
                    _ => ("multipart/form-data", json!({ "type": "object" })),
                };
                bodies.insert(kind.into(), json!({ "schema": schema }));
            }
        }
    }
    if !parameters.is_empty() {
        object.insert("parameters".into(), Value::Array(parameters));
    }
    if !bodies.is_empty() {
        object.insert("requestBody".into(), json!({ "required": body_required, "content": bodies }));
    }
    let ok = match &op.returns {
        Some(Returns::Json(schema)) => {
            json!({ "description": "OK", "content": { "application/json": { "schema": schemas.of(schema, true) } } })
        }
        Some(Returns::Html) => {
            json!({ "description": "OK", "content": { "text/html": { "schema": { "type": "string" } } } })
        }
        Some(Returns::Text) => {
            json!({ "description": "OK", "content": { "text/plain": { "schema": { "type": "string" } } } })
        }
        None => json!({ "description": "OK" }),
    };
    let mut responses = Map::new();
    responses.insert("200".into(), ok);
    if validated {
        schemas.validation = true;
        responses.insert(
            "422".into(),
            json!({
                "description": "Validation error: every failing field, with its location",
                "content": { "application/json": { "schema": { "$ref": format!("{COMPONENTS}ValidationErrors") } } }
            }),
        );
    }
    object.insert("responses".into(), Value::Object(responses));
    Value::Object(object)
}

/// The query parameters of a `Query<T>`: one per property of `T`'s schema; for a type
/// without a schema, one free-form object that says so.
fn query_parameters(schema: &Schema, required: bool, schemas: &mut Schemas) -> Vec<Value> {
    if schema.make.is_none() {
        let short = schema.type_name.rsplit("::").next().unwrap_or(schema.type_name);
        return vec![json!({
            "name": short,
            "in": "query",
            "style": "form",
            "explode": true,
            "schema": { "type": "object", "description": schemas.of(schema, false)["description"] },
        })];
    }
    let value = schemas.of(schema, false);
    let value = schemas.resolved(value);
    let needed: BTreeSet<&str> = value
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let Some(properties) = value.get("properties").and_then(Value::as_object) else { return Vec::new() };
    properties
        .iter()
        .map(|(name, property)| {
            let mut parameter = json!({
                "name": name,
                "in": "query",
                "required": required && needed.contains(name.as_str()),
                "schema": property,
            });
            if let Some(description) = property.get("description") {
                parameter["description"] = description.clone();
            }
            parameter
        })
        .collect()
}

/// The schema of a 422's body, `ValidationErrors::to_json`.
fn validation_errors_schema() -> Value {
    json!({
        "type": "object",
        "description": "The fields that failed validation: where each is (`body` or `query`, then field names and list indexes) and why.",
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "loc": { "type": "array", "items": { "anyOf": [{ "type": "string" }, { "type": "integer" }] } },
                        "msg": { "type": "string" }
                    },
                    "required": ["loc", "msg"]
                }
            }
        },
        "required": ["errors"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_become_openapi_paths_with_typed_parameters() {
        let pattern = Pattern::parse("/users/<int:id>/files/<path:rest>").unwrap();
        assert_eq!(path_of(&pattern), "/users/{id}/files/{rest}");
        let mut schemas = Schemas { input: generator(false), output: generator(true), validation: false };
        let op = operation(&Operation::default(), &pattern, "f".into(), None, &mut schemas);
        assert_eq!(
            op["parameters"][0],
            json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}})
        );
        assert_eq!(op["parameters"][1]["schema"]["type"], "string");
        assert_eq!(op["responses"]["200"], json!({"description": "OK"}));
    }

    #[test]
    fn renamed_refs_are_rewritten_everywhere() {
        let renamed = BTreeMap::from([(format!("{COMPONENTS}Post"), format!("{COMPONENTS}Post-Output"))]);
        let mut value =
            json!({"a": [{"$ref": "#/components/schemas/Post"}], "$ref": "#/components/schemas/Other"});
        rename_refs(&mut value, &renamed);
        assert_eq!(
            value,
            json!({"a": [{"$ref": "#/components/schemas/Post-Output"}], "$ref": "#/components/schemas/Other"})
        );
    }
}
