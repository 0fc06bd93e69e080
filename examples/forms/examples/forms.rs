//! Posts through a validated form and a JSON API, with its OpenAPI document:
//! `cargo run -p erlen-forms-examples --example forms`, then open http://127.0.0.1:5000/
//! and http://127.0.0.1:5000/openapi.json.

fn main() -> std::io::Result<()> {
    erlen_forms_examples::app().run()
}
