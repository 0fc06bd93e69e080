//! The forms and APIs example as a user meets it: the form with its CSRF token, an invalid
//! post rendered again with its messages, the JSON API and its 422; and the OpenAPI
//! documents of the examples, checked field by field here and against the OpenAPI 3.1
//! schema by `openapi-spec-validator` (Python, in a virtualenv the test makes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use erlen_forms_examples::app;
use serde_json::{Value, json};

/// The token the page wrote into its form.
fn token_in(page: &str) -> String {
    let needle = r#"name="csrf_token" value=""#;
    let start = page.find(needle).expect("the form has a token") + needle.len();
    page[start..].split('"').next().unwrap().to_string()
}

#[test]
fn a_post_through_the_form_with_its_token() {
    let client = app().test_client();
    let page = client.get("/").send().text();
    assert!(page.contains("No posts yet."), "{page}");
    let token = token_in(&page);
    let done = client
        .post("/posts")
        .form(&[("csrf_token", token.as_str()), ("title", "Hello"), ("body", "First!")])
        .follow_redirects()
        .send();
    assert_eq!(done.request_path(), "/");
    assert!(done.text().contains("<h2>Hello</h2><p>First!</p>"), "{}", done.text());
}

#[test]
fn an_invalid_post_shows_the_form_again_with_its_messages() {
    let client = app().test_client();
    let token = token_in(&client.get("/").send().text());
    let long = "x".repeat(101);
    let resp = client.post("/posts").form(&[("csrf_token", token.as_str()), ("title", long.as_str())]).send();
    let page = resp.text();
    assert_eq!(resp.status(), 422, "{page}");
    assert!(page.contains(&format!(r#"value="{long}""#)), "what was typed stays: {page}");
    assert!(page.contains(r#"<span class="error">length is greater than 100</span>"#), "{page}");
    assert!(page.contains("No posts yet."));
}

#[test]
fn a_form_without_its_token_is_refused() {
    let client = app().test_client();
    let resp = client.post("/posts").form(&[("title", "Hello")]).send();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().contains("The CSRF token is missing."));
    assert!(client.get("/").send().text().contains("No posts yet."));
}

#[test]
fn the_json_api_writes_lists_and_refuses_with_a_422() {
    let client = app().test_client();
    let created = client.post("/api/posts").json(&json!({"title": "Via the API"})).send();
    assert_eq!(created.status(), 201, "the API is exempt from CSRF: {}", created.text());
    assert_eq!(created.json::<Value>(), json!({"id": 1, "title": "Via the API", "body": ""}));
    assert_eq!(client.get("/api/posts/1").send().json::<Value>()["title"], "Via the API");
    assert_eq!(client.get("/api/posts/2").send().status(), 404);
    assert_eq!(client.get("/api/posts?per_page=1").send().json::<Value>().as_array().map(Vec::len), Some(1));
    let invalid = client.post("/api/posts").json(&json!({"title": ""})).send();
    assert_eq!(invalid.status(), 422);
    assert_eq!(
        invalid.json::<Value>(),
        json!({"errors": [{"loc": ["body", "title"], "msg": "length is lower than 1"}]})
    );
    let page = client.get("/api/posts?page=0&per_page=51").send();
    assert_eq!(page.status(), 422, "the pages' handler renders HTML for the pages only");
    assert_eq!(page.header("content-type"), Some("application/json"));
}

#[test]
fn the_document_describes_the_api_field_by_field() {
    let client = app().test_client();
    let doc: Value = client.get("/openapi.json").send().json();
    assert_eq!(doc, app().openapi_document());
    assert_eq!(doc["info"], json!({"title": "Posts", "version": "1.0.0"}));
    let create = &doc["paths"]["/api/posts"]["post"];
    assert_eq!(create["operationId"], "api.create");
    assert_eq!(create["tags"], json!(["api"]));
    assert_eq!(create["summary"], "Writes a post.");
    assert_eq!(
        create["requestBody"],
        json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPost"}}}})
    );
    assert_eq!(
        create["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Post"})
    );
    assert!(create["responses"]["422"].is_object());
    let list = &doc["paths"]["/api/posts"]["get"];
    assert_eq!(list["description"], "Oldest first, `per_page` at a time.");
    let names: Vec<&Value> = list["parameters"].as_array().unwrap().iter().map(|p| &p["name"]).collect();
    assert_eq!(names, [&json!("page"), &json!("per_page")]);
    assert_eq!(list["parameters"][0]["required"], false, "it has a default");
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"type": "array", "items": {"$ref": "#/components/schemas/Post"}})
    );
    let show = &doc["paths"]["/api/posts/{id}"]["get"];
    assert_eq!(
        show["parameters"],
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}])
    );
    let form = &doc["paths"]["/posts"]["post"];
    assert_eq!(form["tags"], json!(["pages"]));
    assert_eq!(
        form["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"],
        json!({"$ref": "#/components/schemas/NewPost"})
    );
    assert_eq!(
        doc["paths"]["/"]["get"]["responses"]["200"]["content"]["text/html"]["schema"]["type"],
        "string"
    );
    let new_post = &doc["components"]["schemas"]["NewPost"];
    assert_eq!(new_post["properties"]["title"]["description"], "Between 1 and 100 characters.");
    assert_eq!(new_post["required"], json!(["title"]));
    assert!(doc["paths"].get("/openapi.json").is_none());
}

/// The documents of every example app: this one, and the guide's apps, which derive no
/// `JsonSchema` (their types' schemas are open, and say so).
fn documents() -> Vec<(&'static str, Value)> {
    use erlen_examples::{api, async_urls, chat, data, flaskr, hooks, live, login, notes, pages, request};
    let flaskr = flaskr::create_app(flaskr::Config::for_tests(std::env::temp_dir().join("unused.sqlite")));
    let uploads = std::env::temp_dir().join(format!("erlen-openapi-uploads-{}", std::process::id()));
    let live = live::app(&uploads).expect("the live example's uploads folder");
    // The document is made from the routes only: the folder the app made is not needed.
    let _ = std::fs::remove_dir_all(&uploads);
    vec![
        ("forms", app().openapi_document()),
        ("api", api::app("token").openapi_document()),
        ("request", request::app(false).openapi_document()),
        ("login", login::app().openapi_document()),
        ("pages", pages::app().openapi_document()),
        ("notes", notes::app().openapi_document()),
        ("chat", chat::app().openapi_document()),
        ("data", data::app().openapi_document()),
        ("hooks", hooks::app().openapi_document()),
        ("flaskr", flaskr.openapi_document()),
        ("live", live.openapi_document()),
        ("async_urls", async_urls::app(Vec::new()).openapi_document()),
    ]
}

#[test]
fn the_guides_apps_are_documented_without_json_schema() {
    let docs = documents();
    let api = &docs.iter().find(|(name, _)| *name == "api").unwrap().1;
    let echo = &api["paths"]["/echo"]["post"];
    let schema = &echo["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        schema["description"].as_str().unwrap().contains("erlen_examples::api::Message` is not described"),
        "{schema}"
    );
    let flaskr = &docs.iter().find(|(name, _)| *name == "flaskr").unwrap().1;
    assert_eq!(flaskr["paths"]["/{id}/update"]["get"]["operationId"], "blog.update_get");
    assert_eq!(
        flaskr["paths"]["/{id}/update"]["post"]["parameters"][0]["schema"],
        json!({"type": "integer"})
    );
    assert_eq!(flaskr["tags"], json!([{"name": "auth"}, {"name": "blog"}]));
}

/// `openapi-spec-validator`, the OpenAPI Initiative's schemas and the checks beyond them
/// (parameters that match their path, unique operation ids, `$ref`s that resolve), in a
/// virtualenv under `target/`, made on first use and kept.
fn validator() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let venv = target.join("openapi-venv");
    let python = venv.join("bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import openapi_spec_validator"])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if ready(&python) {
        return python;
    }
    let run = |what: &str, out: std::io::Result<Output>| {
        let out = out.unwrap_or_else(|e| panic!("{what}: {e}; this test needs python3 with venv and pip"));
        assert!(
            out.status.success(),
            "{what} failed; this test needs python3 with venv, and PyPI for openapi-spec-validator:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run("python3 -m venv", Command::new("python3").args(["-m", "venv"]).arg(&venv).output());
    run(
        "pip install openapi-spec-validator",
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "--timeout", "30", "--retries", "2"])
            .arg("openapi-spec-validator==0.9.0")
            .output(),
    );
    assert!(ready(&python), "openapi-spec-validator is installed in {} but does not import", venv.display());
    python
}

const VALIDATE: &str = r#"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
failed = False
for path in sys.argv[1:]:
    with open(path) as f:
        doc = json.load(f)
    try:
        validate(doc)
        print(f"{path}: valid OpenAPI {doc['openapi']}")
    except OpenAPIValidationError as e:
        failed = True
        print(f"{path}: INVALID: {e}")
sys.exit(1 if failed else 0)
"#;

#[test]
#[ignore = "needs python3 -m venv + openapi-spec-validator from PyPI; run with: cargo test --workspace -- --include-ignored"]
fn every_examples_document_is_valid_openapi_3_1() {
    let python = validator();
    let dir = std::env::temp_dir().join(format!("erlen-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (name, doc) in documents() {
        assert_eq!(doc["openapi"], "3.1.0", "{name}");
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        files.push(file);
    }
    let validate = |files: &[PathBuf]| {
        let out = Command::new(&python).args(["-c", VALIDATE]).args(files).output().unwrap();
        let report =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), report)
    };
    let (valid, report) = validate(&files);
    assert!(valid, "openapi-spec-validator refused a document:\n{report}");
    assert_eq!(report.matches("valid OpenAPI 3.1.0").count(), files.len(), "{report}");

    // The validator does refuse: a response that is not an object (the schema), and a path
    // parameter no operation declares (a check beyond it).
    let mut broken = app().openapi_document();
    broken["paths"]["/api/posts"]["post"]["responses"] = json!("none");
    let mut undeclared = app().openapi_document();
    let (path, _) = undeclared["paths"].as_object().unwrap().iter().find(|(p, _)| p.contains('{')).unwrap();
    let path = path.clone();
    for operation in undeclared["paths"][&path].as_object_mut().unwrap().values_mut() {
        operation.as_object_mut().unwrap().remove("parameters");
    }
    let controls = [("broken", broken), ("undeclared", undeclared)].map(|(name, doc)| {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        file
    });
    for control in &controls {
        let (valid, report) = validate(std::slice::from_ref(control));
        assert!(!valid && report.contains("INVALID"), "{}: {report}", control.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
