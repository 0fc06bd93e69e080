//! The notes app of the guide's first chapter: a dict of notes shared by every request, a
//! form that creates one (with a flashed message when its title is empty), the notes as
//! JSON, and a 404 page of its own (`cargo run --example notes`).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use erlen::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Note {
    pub title: String,
    pub body: String,
}

/// The app's notes: one value, shared by every request (`App::state` never copies it),
/// behind a lock because requests change it.
#[derive(Default)]
pub struct Notes(Mutex<BTreeMap<u32, Note>>);

impl Notes {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, Note>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Deserialize)]
pub struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

#[get("/")]
fn index(State(notes): State<Notes>) -> Template {
    let notes = notes.lock().clone();
    render_template("index.html", context! { notes })
}

#[post("/notes")]
fn create(State(notes): State<Notes>, session: Session, Form(new): Form<NewNote>) -> Redirect {
    if new.title.trim().is_empty() {
        flash(&session, "A note needs a title.");
        return redirect(url_for!(index));
    }
    let mut notes = notes.lock();
    let id = notes.keys().next_back().map_or(1, |last| last + 1);
    notes.insert(id, Note { title: new.title, body: new.body });
    flash(&session, format!("Created note {id}."));
    redirect(url_for!(index))
}

#[get("/notes.json")]
fn list(State(notes): State<Notes>) -> Json<BTreeMap<u32, Note>> {
    Json(notes.lock().clone())
}

#[errorhandler(404)]
fn not_found(req: &Request) -> (StatusCode, Template) {
    (StatusCode::NOT_FOUND, render_template("404.html", context! { path => req.path() }))
}

pub fn app() -> App {
    App::new()
        .secret_key("a development key; set ERLEN_SECRET_KEY in production")
        .template_folder("notes/templates")
        .state(Notes::default())
        .register(handlers![index, create, list, not_found])
}
