//! The `blog` blueprint (at the root): the posts, and creating, editing and deleting
//! one's own.

use std::sync::Arc;

use erlen::minijinja::value::{Object, ObjectRepr, Value};
use erlen::minijinja::{Error as TemplateError, ErrorKind, State as TemplateState};
use erlen::prelude::*;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{OptionalExtension, Row};
use serde::Deserialize;

use super::auth::{User, login_required};
use super::db::{db_error, get_db};
use super::{form, render};

/// The blog blueprint.
pub fn blueprint() -> Blueprint {
    Blueprint::new("blog").register(handlers![index, create, update, delete])
}

/// A post and its author's name.
#[derive(Debug, Clone)]
pub struct Post {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created: Timestamp,
    pub author_id: i64,
    pub username: String,
}

/// The columns [`Post::from_row`] reads, in its order.
const POST_COLUMNS: &str = "SELECT p.id, title, body, created, author_id, username \
                            FROM post p JOIN user u ON p.author_id = u.id";

impl Post {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Post> {
        Ok(Post {
            id: row.get(0)?,
            title: row.get(1)?,
            body: row.get(2)?,
            created: row.get(3)?,
            author_id: row.get(4)?,
            username: row.get(5)?,
        })
    }

    /// The post as templates see it: `post['title']`, `post['created'].strftime(..)`.
    fn to_value(&self) -> Value {
        context! {
            id => self.id,
            title => &self.title,
            body => &self.body,
            created => Value::from_object(self.created.clone()),
            author_id => self.author_id,
            username => &self.username,
        }
    }
}

/// A `TIMESTAMP` column (`YYYY-MM-DD HH:MM:SS`, SQLite's `CURRENT_TIMESTAMP`). flaskr's
/// connection turns it into a Python `datetime`, and its index page calls
/// `created.strftime('%Y-%m-%d')`: in templates this value has that method, for the
/// date and time fields (`%Y %m %d %H %M %S %%`).
#[derive(Debug, Clone, PartialEq)]
pub struct Timestamp(String);

impl Timestamp {
    /// The fields of `YYYY-MM-DD HH:MM:SS`, by strftime letter.
    fn field(&self, letter: char) -> Option<&str> {
        let range = match letter {
            'Y' => 0..4,
            'm' => 5..7,
            'd' => 8..10,
            'H' => 11..13,
            'M' => 14..16,
            'S' => 17..19,
            _ => return None,
        };
        self.0.get(range)
    }

    /// Formats the timestamp as Python's `datetime.strftime` does for these fields.
    pub fn strftime(&self, format: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some(letter) => match self.field(letter) {
                    Some(field) => out.push_str(field),
                    None => return Err(format!("strftime: %{letter} is not supported")),
                },
                None => return Err("strftime: the format ends with %".to_string()),
            }
        }
        Ok(out)
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Timestamp> {
        let text = value.as_str()?;
        let shape = text.len() >= 19
            && text.bytes().take(19).enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                10 => b == b' ' || b == b'T',
                13 | 16 => b == b':',
                _ => b.is_ascii_digit(),
            });
        if shape { Ok(Timestamp(text.to_string())) } else { Err(FromSqlError::InvalidType) }
    }
}

impl Object for Timestamp {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut TemplateState<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, TemplateError> {
        match (method, args) {
            ("strftime", [format]) => {
                let format = format.as_str().ok_or_else(|| {
                    TemplateError::new(ErrorKind::InvalidOperation, "strftime takes a format string")
                })?;
                self.strftime(format)
                    .map(Value::from)
                    .map_err(|e| TemplateError::new(ErrorKind::InvalidOperation, e))
            }
            _ => Err(TemplateError::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// The form of the create and update pages.
#[derive(Deserialize)]
struct PostForm {
    title: String,
    body: String,
}

/// Every post, most recent first.
#[get("/")]
pub fn index(req: &Request) -> Result<Template, HttpError> {
    let posts: Vec<Value> = {
        let db = get_db(req)?;
        let mut statement = db.prepare(&format!("{POST_COLUMNS} ORDER BY created DESC")).map_err(db_error)?;
        let rows = statement.query_map([], Post::from_row).map_err(db_error)?;
        rows.map(|post| post.map(|p| p.to_value())).collect::<Result<_, _>>().map_err(db_error)?
    };
    Ok(render(req, "blog/index.html", context! { posts }))
}

/// The post `id`: a 404 when there is none, a 403 when `check_author` and the current
/// user did not write it.
pub fn get_post(req: &Request, id: i64, check_author: bool) -> Result<Post, HttpError> {
    let post = get_db(req)?
        .query_row(&format!("{POST_COLUMNS} WHERE p.id = ?1"), [id], Post::from_row)
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| abort(404).with_message(format!("Post id {id} doesn't exist.")))?;
    let user_id = req.extensions().get::<User>().map(|user| user.id);
    if check_author && user_id != Some(post.author_id) {
        return Err(abort(403));
    }
    Ok(post)
}

/// A new post by the current user.
#[route("/create", methods = ["GET", "POST"])]
pub fn create(req: &Request, session: Session) -> Result<Response, HttpError> {
    let user = login_required(req)?;
    if req.method() == Method::POST {
        let PostForm { title, body } = form(req)?;
        if title.is_empty() {
            flash(&session, "Title is required.");
        } else {
            get_db(req)?
                .execute(
                    "INSERT INTO post (title, body, author_id) VALUES (?1, ?2, ?3)",
                    (&title, &body, user.id),
                )
                .map_err(db_error)?;
            return Ok(redirect(url_for!(index)).into_response());
        }
    }
    Ok(render(req, "blog/create.html", context! {}).into_response())
}

/// Edits a post of the current user.
#[route("/<int:id>/update", methods = ["GET", "POST"])]
pub fn update(id: i64, req: &Request, session: Session) -> Result<Response, HttpError> {
    login_required(req)?;
    let post = get_post(req, id, true)?;
    if req.method() == Method::POST {
        let PostForm { title, body } = form(req)?;
        if title.is_empty() {
            flash(&session, "Title is required.");
        } else {
            get_db(req)?
                .execute("UPDATE post SET title = ?1, body = ?2 WHERE id = ?3", (&title, &body, id))
                .map_err(db_error)?;
            return Ok(redirect(url_for!(index)).into_response());
        }
    }
    Ok(render(req, "blog/update.html", context! { post => post.to_value() }).into_response())
}

/// Deletes a post of the current user.
#[post("/<int:id>/delete")]
pub fn delete(id: i64, req: &Request) -> Result<Redirect, HttpError> {
    login_required(req)?;
    get_post(req, id, true)?;
    get_db(req)?.execute("DELETE FROM post WHERE id = ?1", [id]).map_err(db_error)?;
    Ok(redirect(url_for!(index)))
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn strftime_formats_the_date_and_time_fields() {
        let t = Timestamp("2018-01-02 03:04:05".to_string());
        assert_eq!(t.strftime("%Y-%m-%d").unwrap(), "2018-01-02");
        assert_eq!(t.strftime("%H:%M:%S 100%%").unwrap(), "03:04:05 100%");
        assert!(t.strftime("%A").is_err());
        assert!(t.strftime("%").is_err());
    }
}
