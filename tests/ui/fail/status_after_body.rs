use erlen::prelude::*;

// Flask's `return jsonify(error="no such user"), 404`: erlen wants the status first.
#[get("/users/<int:id>")]
fn user(id: i64) -> (Json<serde_json::Value>, u16) {
    (Json(serde_json::json!({ "error": "no such user", "id": id })), 404)
}

fn main() {}
