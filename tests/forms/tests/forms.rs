//! `Valid` (feature `validate`) and the OpenAPI document (feature `openapi`): validation of
//! JSON, forms and queries in sync and async views, nested fields and list indexes, the
//! 422's body, the error handlers that render it otherwise (a form re-rendered with its
//! messages); and the document the macros' records make, field by field.

use erlen::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize, Serialize, garde::Validate, schemars::JsonSchema)]
struct Author {
    #[garde(length(min = 1))]
    name: String,
    #[garde(contains("@"))]
    email: String,
}

/// A new post.
#[derive(Debug, Deserialize, Serialize, garde::Validate, schemars::JsonSchema)]
struct NewPost {
    /// The post's title.
    #[garde(length(min = 1, max = 100))]
    title: String,
    #[garde(skip)]
    body: String,
    #[garde(dive)]
    author: Author,
    #[garde(length(max = 3), inner(length(min = 1)))]
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize, garde::Validate, schemars::JsonSchema)]
struct Page {
    /// The page, from 1.
    #[garde(range(min = 1))]
    page: u32,
    #[garde(range(min = 1, max = 100))]
    per_page: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize, garde::Validate)]
struct Signup {
    #[garde(length(min = 3))]
    name: String,
    #[garde(range(min = 18))]
    age: u32,
}

mod views {
    use super::*;

    /// Creates a post.
    ///
    /// The title must be 1 to 100 characters long.
    #[post("/posts")]
    pub async fn create(Valid(Json(post)): Valid<Json<NewPost>>) -> (StatusCode, Json<NewPost>) {
        (StatusCode::CREATED, Json(post))
    }

    #[put("/posts/<int:id>")]
    pub fn replace(id: i64, Valid(Json(post)): Valid<Json<NewPost>>) -> String {
        format!("{id}: {}", post.title)
    }

    #[get("/posts")]
    pub fn list(Valid(Query(page)): Valid<Query<Page>>) -> Json<Vec<String>> {
        Json(vec![format!("page {} of {:?}", page.page, page.per_page)])
    }

    #[post("/signup")]
    pub fn signup(Valid(Form(s)): Valid<Form<Signup>>) -> String {
        format!("welcome {} ({})", s.name, s.age)
    }

    #[post("/async/signup")]
    pub async fn signup_async(Valid(Form(s)): Valid<Form<Signup>>) -> String {
        format!("welcome {} ({})", s.name, s.age)
    }

    #[get("/async/posts")]
    pub async fn list_async(Valid(Query(page)): Valid<Query<Page>>) -> String {
        format!("page {}", page.page)
    }

    #[post("/maybe")]
    pub async fn maybe(post: Option<Valid<Json<NewPost>>>) -> String {
        post.map_or("none".to_string(), |Valid(Json(p))| p.title)
    }
}

fn app() -> App {
    App::new().register(handlers![
        views::create,
        views::replace,
        views::list,
        views::signup,
        views::signup_async,
        views::list_async,
        views::maybe
    ])
}

fn post(title: &str) -> Value {
    json!({"title": title, "body": "b", "author": {"name": "Ada", "email": "ada@example.com"}})
}

mod validation {
    use super::*;

    #[test]
    fn a_valid_json_body_reaches_the_view_sync_or_async() {
        let client = app().test_client();
        let created = client.post("/posts").json(&post("Hello")).send();
        assert_eq!(created.status(), 201);
        assert_eq!(created.json::<Value>()["title"], "Hello");
        assert_eq!(client.put("/posts/7").json(&post("Hello")).send().text(), "7: Hello");
    }

    #[test]
    fn an_invalid_json_body_is_a_422_listing_every_field() {
        let client = app().test_client();
        let mut bad = post("");
        bad["author"] = json!({"name": "", "email": "nope"});
        bad["tags"] = json!(["ok", "", "x", "y"]);
        for (method, path) in [(Method::POST, "/posts"), (Method::PUT, "/posts/1")] {
            let resp = client.request(method, path).json(&bad).send();
            assert_eq!(resp.status(), 422, "{path}");
            assert_eq!(resp.header("content-type"), Some("application/json"));
            let body: Value = resp.json();
            // In garde's order, which is not the fields' own: compared as a set.
            let mut errors: Vec<(String, String)> = body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["loc"].to_string(), e["msg"].as_str().unwrap().to_string()))
                .collect();
            errors.sort();
            assert_eq!(
                errors,
                [
                    (r#"["body","author","email"]"#.into(), r#"does not contain "@""#.into()),
                    (r#"["body","author","name"]"#.into(), "length is lower than 1".into()),
                    (r#"["body","tags",1]"#.into(), "length is lower than 1".into()),
                    (r#"["body","tags"]"#.into(), "length is greater than 3".into()),
                    (r#"["body","title"]"#.into(), "length is lower than 1".into()),
                ],
                "{body}"
            );
        }
    }

    #[test]
    fn what_does_not_parse_stays_a_400_or_a_415() {
        let client = app().test_client();
        let broken = client.post("/posts").header("content-type", "application/json").body("{").send();
        assert_eq!(broken.status(), 400);
        let missing = client.post("/posts").json(&json!({"title": "t"})).send();
        assert_eq!(missing.status(), 400, "a missing field is a parse error, not a validation one");
        assert_eq!(client.post("/posts").body("x").send().status(), 415);
        assert_eq!(client.post("/signup").json(&json!({"name": "ada"})).send().status(), 415);
        assert_eq!(client.get("/posts?page=x").send().status(), 400);
    }

    #[test]
    fn forms_and_queries_are_checked_too() {
        let client = app().test_client();
        let ok = client.post("/signup").form(&[("name", "ada"), ("age", "36")]).send();
        assert_eq!(ok.text(), "welcome ada (36)");
        let bad = client.post("/signup").form(&[("name", "al"), ("age", "12")]).send();
        assert_eq!(bad.status(), 422);
        let errors = bad.json::<Value>()["errors"].as_array().unwrap().clone();
        assert_eq!(errors.len(), 2);
        assert!(errors.contains(&json!({"loc": ["body", "name"], "msg": "length is lower than 3"})));
        assert!(errors.contains(&json!({"loc": ["body", "age"], "msg": "lower than 18"})));
        assert_eq!(client.get("/posts?page=2").send().json::<Value>(), json!(["page 2 of None"]));
        let bad = client.get("/posts?page=0&per_page=500").send();
        assert_eq!(bad.status(), 422);
        let mut locs: Vec<String> =
            bad.json::<Value>()["errors"].as_array().unwrap().iter().map(|e| e["loc"].to_string()).collect();
        locs.sort();
        assert_eq!(locs, [r#"["query","page"]"#, r#"["query","per_page"]"#]);
    }

    #[test]
    fn forms_and_queries_are_checked_in_async_views_as_in_sync_ones() {
        let client = app().test_client();
        let ok = client.post("/async/signup").form(&[("name", "ada"), ("age", "36")]).send();
        assert_eq!(ok.text(), "welcome ada (36)");
        let bad = client.post("/async/signup").form(&[("name", "ada"), ("age", "12")]).send();
        assert_eq!(bad.status(), 422);
        assert_eq!(
            bad.json::<Value>(),
            json!({"errors": [{"loc": ["body", "age"], "msg": "lower than 18"}]})
        );
        assert_eq!(client.get("/async/posts?page=3").send().text(), "page 3");
        let bad = client.get("/async/posts?page=0").send();
        assert_eq!(
            bad.json::<Value>(),
            json!({"errors": [{"loc": ["query", "page"], "msg": "lower than 1"}]})
        );
    }

    #[test]
    fn an_optional_value_is_absent_only_when_it_is_not_sent() {
        let client = app().test_client();
        assert_eq!(client.post("/maybe").send().text(), "none");
        assert_eq!(client.post("/maybe").json(&post("t")).send().text(), "t");
        assert_eq!(client.post("/maybe").json(&post("")).send().status(), 422, "present and invalid");
    }

    /// Renders the signup form again with the values sent and each message next to its
    /// input, as a Flask-WTF view does with `form.errors`.
    #[errorhandler(ValidationErrors)]
    fn rerender(err: &ValidationErrors) -> (StatusCode, Template) {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            render_template("signup.html", context! { errors => err.by_field() }),
        )
    }

    #[test]
    fn a_typed_handler_re_renders_the_form_with_its_messages() {
        let client = app()
            .template_folder(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
            .register(handlers![rerender])
            .test_client();
        let resp = client.post("/signup").form(&[("name", "al"), ("age", "12")]).send();
        assert_eq!(resp.status(), 422);
        assert_eq!(resp.header("content-type"), Some("text/html; charset=utf-8"));
        let page = resp.text();
        assert!(
            page.contains(
                r#"<input name="name" value="al"><span class="error">length is lower than 3</span>"#
            ),
            "{page}"
        );
        assert!(
            page.contains(r#"<input name="age" value="12"><span class="error">lower than 18</span>"#),
            "{page}"
        );
    }

    #[errorhandler(422)]
    fn by_code(err: &HttpError) -> (u16, String) {
        let fields: Vec<String> = err
            .downcast_ref::<ValidationErrors>()
            .map(|e| {
                e.fields().iter().map(|(loc, msg)| format!("{}: {msg}", serde_json::json!(loc))).collect()
            })
            .unwrap_or_default();
        (422, format!("{} | {}", err.message().unwrap_or_default(), fields.join(", ")))
    }

    #[test]
    fn a_handler_by_code_sees_the_errors_too() {
        let client = app().register(handlers![by_code]).test_client();
        let resp = client.post("/signup").form(&[("name", "al"), ("age", "40")]).send();
        assert_eq!(
            resp.text(),
            r#"validation failed: body.name: length is lower than 3 | ["body","name"]: length is lower than 3"#
        );
    }

    #[test]
    fn validation_works_over_sockets_on_both_backends() {
        for backend in [Backend::Async, Backend::Threaded { workers: 2 }] {
            let server = Server::bind("127.0.0.1:0").backend(backend).spawn(app()).unwrap();
            let resp = erlen_raw_post(server.addr(), "/signup", "name=al&age=40");
            assert!(resp.starts_with("HTTP/1.1 422"), "{backend:?}: {resp}");
            assert!(
                resp.ends_with(r#"{"errors":[{"loc":["body","name"],"msg":"length is lower than 3"}]}"#),
                "{resp}"
            );
            server.shutdown();
        }
    }

    /// A form POST over a plain socket, read to the end.
    fn erlen_raw_post(addr: std::net::SocketAddr, path: &str, body: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        out
    }
}

mod openapi {
    use super::*;

    /// Input and output differ: `id` may be left out of what is sent, and is always in
    /// what is returned.
    #[derive(Serialize, Deserialize, schemars::JsonSchema)]
    struct Item {
        #[serde(default)]
        id: u32,
        name: String,
    }

    /// No `JsonSchema`: the document says so.
    #[derive(Serialize, Deserialize)]
    struct Opaque {
        x: u8,
    }

    #[derive(Deserialize)]
    struct Filter {
        #[allow(dead_code)]
        q: String,
    }

    /// Shows one item.
    #[get("/items/<int:id>")]
    fn show(id: i64) -> Result<Json<Item>, HttpError> {
        Ok(Json(Item { id: u32::try_from(id).unwrap_or_default(), name: "x".into() }))
    }

    /// Saves an item.
    #[post("/items")]
    async fn save(Json(item): Json<Item>) -> Json<Item> {
        Json(item)
    }

    #[route("/things/<float:x>/<uuid:u>/<path:rest>", methods = ["GET", "POST"])]
    fn things(
        x: f64,
        u: String,
        rest: String,
        Query(_f): Query<Filter>,
        body: Option<Json<Opaque>>,
    ) -> String {
        format!("{x} {u} {rest} {}", body.is_some())
    }

    #[post("/upload")]
    fn upload(form: Multipart) -> Html<String> {
        Html(form.fields().len().to_string())
    }

    #[websocket("/ws")]
    async fn socket(_ws: WebSocket) {}

    fn app_with_docs() -> App {
        let api = Blueprint::new("api").url_prefix("/api").register(handlers![show, save]);
        app()
            .openapi("/openapi.json")
            .openapi_info("Forms tests", "1.2.3")
            .register(handlers![things, upload, socket])
            .register_blueprint(api)
    }

    fn doc() -> Value {
        app_with_docs().openapi_document()
    }

    #[test]
    fn the_document_is_served_as_built() {
        let client = app_with_docs().test_client();
        let resp = client.get("/openapi.json").send();
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(resp.json::<Value>(), doc());
        assert_eq!(doc()["openapi"], "3.1.0");
        assert_eq!(doc()["info"], json!({"title": "Forms tests", "version": "1.2.3"}));
        let paths: Vec<String> = doc()["paths"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            paths,
            [
                "/api/items",
                "/api/items/{id}",
                "/async/posts",
                "/async/signup",
                "/maybe",
                "/posts",
                "/posts/{id}",
                "/signup",
                "/things/{x}/{u}/{rest}",
                "/upload"
            ],
            "no WebSocket, no document route"
        );
    }

    #[test]
    fn a_validated_json_route_field_by_field() {
        let doc = doc();
        let create = &doc["paths"]["/posts"]["post"];
        assert_eq!(create["operationId"], "create");
        assert_eq!(create["summary"], "Creates a post.");
        assert_eq!(create["description"], "The title must be 1 to 100 characters long.");
        assert_eq!(create.get("tags"), None);
        assert_eq!(
            create["requestBody"],
            json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPost"}}}})
        );
        // `tags` may be left out of a post sent (`#[serde(default)]`), never out of one
        // returned: the response is described by the output's schema.
        assert_eq!(
            create["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/NewPost-Output"})
        );
        let output = &doc["components"]["schemas"]["NewPost-Output"];
        assert_eq!(output["required"], json!(["title", "body", "author", "tags"]));
        assert_eq!(output["properties"]["author"], json!({"$ref": "#/components/schemas/Author"}));
        assert_eq!(
            create["responses"]["422"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/ValidationErrors"})
        );
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["NewPost"]["properties"]["title"]["description"], "The post's title.");
        assert_eq!(
            schemas["NewPost"]["properties"]["author"],
            json!({"$ref": "#/components/schemas/Author"})
        );
        assert_eq!(schemas["NewPost"]["required"], json!(["title", "body", "author"]));
        assert!(schemas["ValidationErrors"]["properties"]["errors"].is_object());
        let replace = &doc["paths"]["/posts/{id}"]["put"];
        assert_eq!(
            replace["parameters"],
            json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}])
        );
        assert_eq!(replace["responses"]["200"]["content"]["text/plain"]["schema"], json!({"type": "string"}));
    }

    #[test]
    fn a_query_becomes_parameters_and_a_form_its_content_type() {
        let doc = doc();
        let list = &doc["paths"]["/posts"]["get"];
        assert_eq!(
            list["parameters"],
            json!([
                {"name": "page", "in": "query", "required": true, "description": "The page, from 1.",
                 "schema": {"type": "integer", "format": "uint32", "minimum": 1, "description": "The page, from 1."}},
                {"name": "per_page", "in": "query", "required": false,
                 "schema": {"type": ["integer", "null"], "format": "uint32", "minimum": 1, "maximum": 100}},
            ])
        );
        assert!(list["responses"]["422"].is_object());
        let signup = &doc["paths"]["/signup"]["post"];
        let content = signup["requestBody"]["content"].as_object().unwrap();
        assert_eq!(content.keys().collect::<Vec<_>>(), ["application/x-www-form-urlencoded"]);
        assert!(
            content["application/x-www-form-urlencoded"]["schema"]["description"]
                .as_str()
                .unwrap()
                .contains("Signup` is not described: it does not implement `schemars::JsonSchema`")
        );
        assert_eq!(doc["paths"]["/maybe"]["post"]["requestBody"]["required"], false);
    }

    #[test]
    fn typed_path_parameters_open_schemas_and_unique_operation_ids() {
        let doc = doc();
        let item = &doc["paths"]["/things/{x}/{u}/{rest}"];
        let (get, post) = (&item["get"], &item["post"]);
        assert_eq!(
            (get["operationId"].as_str(), post["operationId"].as_str()),
            (Some("things_get"), Some("things_post"))
        );
        let params = get["parameters"].as_array().unwrap();
        assert_eq!(params[0]["schema"], json!({"type": "number"}));
        assert_eq!(params[1]["schema"], json!({"type": "string", "format": "uuid"}));
        assert_eq!(params[2]["schema"]["type"], "string");
        assert_eq!(params[3]["name"], "Filter");
        assert_eq!(params[3]["style"], "form");
        assert!(params[3]["schema"]["description"].as_str().unwrap().contains("Filter` is not described"));
        assert!(
            get["requestBody"]["content"]["application/json"]["schema"]["description"]
                .as_str()
                .unwrap()
                .contains("Opaque` is not described")
        );
        let upload = &doc["paths"]["/upload"]["post"];
        assert!(upload["requestBody"]["content"]["multipart/form-data"].is_object());
        assert_eq!(upload["responses"]["200"]["content"]["text/html"]["schema"]["type"], "string");
    }

    #[test]
    fn blueprints_are_tags_and_outputs_that_differ_are_kept_apart() {
        let doc = doc();
        assert_eq!(doc["tags"], json!([{"name": "api"}]));
        let show = &doc["paths"]["/api/items/{id}"]["get"];
        assert_eq!(show["tags"], json!(["api"]));
        assert_eq!(show["operationId"], "api.show");
        assert_eq!(show["summary"], "Shows one item.");
        assert_eq!(
            show["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/Item-Output"})
        );
        let save = &doc["paths"]["/api/items"]["post"];
        assert_eq!(
            save["requestBody"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/Item"})
        );
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Item"]["required"], json!(["name"]));
        assert!(schemas["Item-Output"].is_object());
    }
}
