//! A small site the way a Flask app builds one: Jinja templates with a base layout and an
//! include, a static stylesheet, links from `url_for`, a blueprint, and a page that streams
//! (`cargo run --example pages`).

use std::path::PathBuf;
use std::time::Duration;

use erlen::prelude::*;
use serde::Serialize;

/// A note of the `notes` blueprint.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub slug: &'static str,
    pub title: &'static str,
    pub body: &'static str,
}

/// The notes the site shows.
pub const NOTES: &[Note] = &[
    Note {
        slug: "first steps",
        title: "First steps",
        body: "Mark plain functions with #[get] and return a template.",
    },
    Note {
        slug: "streams",
        title: "Streams",
        body: "Return Body::from_iter to send a page as it is produced.",
    },
];

#[get("/")]
fn index() -> Template {
    render_template("index.html", context! { name => "flask developer" })
}

/// Counts down, one line a second, as a Flask generator view would: the browser shows
/// each line as it arrives.
#[get("/countdown/<int:seconds>")]
fn countdown(seconds: u32) -> Response {
    let lines = (0..=seconds.min(30)).rev().map(move |n| {
        if n != seconds {
            std::thread::sleep(Duration::from_secs(1));
        }
        if n == 0 { "liftoff\n".to_string() } else { format!("{n}...\n") }
    });
    let mut resp = Body::from_iter(lines).into_response();
    resp.headers_mut().insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// The footer's year, as a template global.
#[template_global]
fn year() -> u32 {
    2026
}

/// The notes, a blueprint under `/notes`.
pub mod notes {
    use super::NOTES;
    use erlen::prelude::*;

    #[get("/")]
    pub fn list_notes() -> Template {
        render_template("notes.html", context! { notes => NOTES })
    }

    #[get("/<slug>")]
    pub fn show_note(slug: String) -> Result<Template, HttpError> {
        let note = NOTES.iter().find(|n| n.slug == slug).ok_or_else(|| abort(404))?;
        Ok(render_template("note.html", context! { note }))
    }

    /// The old address of the list: a redirect, built with `url_for!`.
    #[get("/all")]
    pub fn all() -> Redirect {
        redirect(url_for!(list_notes))
    }
}

/// Where the example keeps its templates and static files.
pub fn site_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pages")
}

/// The site.
pub fn app() -> App {
    App::new()
        .template_folder(site_dir().join("templates"))
        .static_folder(site_dir().join("static"))
        .register(handlers![index, countdown, year])
        .register_blueprint(Blueprint::new("notes").url_prefix("/notes").register(handlers![
            notes::list_notes,
            notes::show_note,
            notes::all
        ]))
}
