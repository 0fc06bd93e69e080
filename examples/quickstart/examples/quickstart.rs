//! The README's quick start: `cargo run --example quickstart`, then
//! `curl http://127.0.0.1:5000/users/7`.

use erlen::prelude::*;

#[route("/")]
async fn index() -> &'static str {
    "Hello from erlen"
}

#[get("/users/<int:id>")]
fn user(id: i64) -> Result<Json<serde_json::Value>, HttpError> {
    if id == 0 {
        return Err(abort(404));
    }
    Ok(Json(serde_json::json!({ "id": id })))
}

#[after_request]
async fn powered_by(mut resp: Response) -> Response {
    resp.headers_mut().insert("x-powered-by", HeaderValue::from_static("erlen"));
    resp
}

pub fn app() -> App {
    App::new().register(handlers![index, user, powered_by])
}

fn main() -> std::io::Result<()> {
    app().run() // 127.0.0.1:5000; ERLEN_ADDR, ERLEN_BACKEND=threaded override
}
