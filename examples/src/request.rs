//! The guide's tour of the request (`docs/request.md`): each way a handler reads it, and
//! what a `before_request` hook may return. Tested in `tests/request.rs`.

use erlen::prelude::*;
use serde::{Deserialize, Serialize};

// A path parameter: `<name>` in the route, and an argument of the same name.
#[get("/users/<int:id>")]
fn user(id: i64) -> String {
    format!("user {id}")
}

#[derive(Deserialize)]
pub struct Search {
    q: String,
    page: Option<u32>,
}

// The query string (`/search?q=rust&page=2`), into a struct.
#[get("/search")]
fn search(Query(search): Query<Search>) -> String {
    format!("{} page {}", search.q, search.page.unwrap_or(1))
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
pub struct Note {
    pub title: String,
}

// A JSON body, with a path parameter; the status goes first in the tuple.
#[put("/notes/<int:id>")]
fn save_note(id: i64, Json(note): Json<Note>) -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::CREATED, Json(serde_json::json!({ "id": id, "title": note.title })))
}

#[derive(Deserialize, Serialize)]
pub struct Login {
    pub user: String,
}

// A form body (`application/x-www-form-urlencoded`).
#[post("/login")]
fn login(Form(login): Form<Login>) -> String {
    format!("welcome, {}", login.user)
}

// Everything else is on `&Request`: headers, the method, the path, one query value, the body.
#[get("/whoami")]
fn whoami(req: &Request) -> String {
    let agent = req.header("user-agent").unwrap_or("an unknown agent");
    let user = req.extensions().get::<User>().map_or("nobody", |u| u.0.as_str());
    format!("{user} with {agent}, {} {} lang={:?}", req.method(), req.path(), req.query("lang"))
}

/// Who is asking: set by `load_user` for the views, as Flask's `g.user`.
#[derive(Clone)]
pub struct User(pub String);

// `()`: always go on to the view. With `&mut Request`, a hook can leave values for the view.
#[before_request]
fn load_user(req: &mut Request) {
    if let Some(name) = req.header("x-user").map(str::to_string) {
        req.extensions_mut().insert(User(name));
    }
}

/// Whether the app answers 503 to everything.
#[derive(Clone)]
pub struct Maintenance(pub bool);

// `Option<impl IntoResponse>`: `Some(response)` answers at once, and the view is skipped.
#[before_request]
fn maintenance(State(mode): State<Maintenance>) -> Option<(StatusCode, &'static str)> {
    mode.0.then_some((StatusCode::SERVICE_UNAVAILABLE, "down for maintenance"))
}

pub fn app(maintenance_mode: bool) -> App {
    App::new().state(Maintenance(maintenance_mode)).register(handlers![
        user,
        search,
        save_note,
        login,
        whoami,
        load_user,
        maintenance
    ])
}
