//! The guide's first app (`docs/first-app.md`): a small JSON API with a GET, a POST that
//! echoes JSON, a token check before every request and a JSON 404 page (`cargo run
//! --example api`; its tests are `tests/api.rs`).

use erlen::prelude::*;
use serde::{Deserialize, Serialize};

#[get("/")]
fn index() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "hello": "erlen" }))
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
pub struct Message {
    pub text: String,
}

#[post("/echo")]
fn echo(Json(message): Json<Message>) -> Json<Message> {
    Json(message)
}

/// The token clients must send, as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct ApiToken(pub String);

#[before_request]
fn require_token(req: &Request, State(token): State<ApiToken>) -> Result<(), HttpError> {
    if req.path() == "/" {
        return Ok(()); // the index is public
    }
    match req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")) {
        Some(sent) if sent == token.0 => Ok(()),
        _ => Err(abort(401)),
    }
}

#[errorhandler(404)]
fn not_found(req: &Request) -> (StatusCode, Json<serde_json::Value>) {
    let body = serde_json::json!({ "error": "not found", "path": req.path() });
    (StatusCode::NOT_FOUND, Json(body))
}

pub fn app(token: &str) -> App {
    App::new().state(ApiToken(token.to_string())).register(handlers![index, echo, require_token, not_found])
}
