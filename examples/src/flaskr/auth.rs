//! The `auth` blueprint (under `/auth`): register, log in, log out; the hook that loads
//! the logged-in user for every request, and the `login_required` check.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use erlen::prelude::*;
use rusqlite::{ErrorCode, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::blog::index;
use super::db::{db_error, get_db};
use super::{form, render};

/// The logged-in user, put in the request's extensions by [`load_logged_in_user`]
/// (Flask's `g.user`); templates see it as `g.user`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
}

/// The form of the register and login pages.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// The auth blueprint.
pub fn blueprint() -> Blueprint {
    Blueprint::new("auth").url_prefix("/auth").register(handlers![register, login, logout])
}

/// Loads the user whose id the session holds into the request's extensions. flaskr
/// registers it with `bp.before_app_request`, so it runs for every request of the app,
/// not only the blueprint's: here it is registered on the app.
#[before_request]
pub fn load_logged_in_user(req: &mut Request, session: Session) -> Result<(), HttpError> {
    let Some(user_id) = session.get::<i64>("user_id") else {
        return Ok(());
    };
    let user = get_db(req)?
        .query_row("SELECT id, username FROM user WHERE id = ?1", [user_id], |row| {
            Ok(User { id: row.get(0)?, username: row.get(1)? })
        })
        .optional()
        .map_err(db_error)?;
    if let Some(user) = user {
        req.extensions_mut().insert(user);
    }
    Ok(())
}

/// The check views that need a user call first, as flaskr's `@login_required`: the
/// user, or a redirect to the login page (`?` ends the request with it).
pub fn login_required(req: &Request) -> Result<&User, Redirect> {
    req.extensions().get::<User>().ok_or_else(|| redirect(url_for!(login)))
}

/// Hashes a password for storage (argon2id, a PHC string with its salt and parameters).
pub fn generate_password_hash(password: &str) -> Result<String, HttpError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HttpError::internal(format!("hashing the password failed: {e}")))
}

/// Whether `password` is the one `hash` was made from; a malformed hash matches nothing.
pub fn check_password_hash(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// Registers a new user; a taken name, or an empty field, is flashed on the form again.
/// Twenty requests a minute from one address.
#[route("/register", methods = ["GET", "POST"], rate_limit = "20/minute")]
pub fn register(req: &Request, session: Session) -> Result<Response, HttpError> {
    if req.method() == Method::POST {
        let Credentials { username, password } = form(req)?;
        let error = if username.is_empty() {
            "Username is required.".to_string()
        } else if password.is_empty() {
            "Password is required.".to_string()
        } else {
            let hash = generate_password_hash(&password)?;
            let inserted = get_db(req)?
                .execute("INSERT INTO user (username, password) VALUES (?1, ?2)", (&username, &hash));
            match inserted {
                Ok(_) => return Ok(redirect(url_for!(login)).into_response()),
                Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                    format!("User {username} is already registered.")
                }
                Err(e) => return Err(db_error(e)),
            }
        };
        flash(&session, error);
    }
    Ok(render(req, "auth/register.html", context! {}).into_response())
}

/// Logs a user in: the session remembers the user's id, under a new session id. Twenty
/// requests a minute from one address, against password guessing.
#[route("/login", methods = ["GET", "POST"], rate_limit = "20/minute")]
pub fn login(req: &Request, session: Session) -> Result<Response, HttpError> {
    if req.method() == Method::POST {
        let Credentials { username, password } = form(req)?;
        let user: Option<(i64, String)> = get_db(req)?
            .query_row("SELECT id, password FROM user WHERE username = ?1", [&username], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(db_error)?;
        let error = match user {
            None => "Incorrect username.",
            Some((_, hash)) if !check_password_hash(&hash, &password) => "Incorrect password.",
            Some((id, _)) => {
                session.clear();
                // A new session id at login, against session fixation (a no-op for the
                // cookie store, whose cookie is new anyway).
                session.regenerate();
                session.insert("user_id", id);
                return Ok(redirect(url_for!(index)).into_response());
            }
        };
        flash(&session, error);
    }
    Ok(render(req, "auth/login.html", context! {}).into_response())
}

/// Logs out: the session forgets everything.
#[get("/logout")]
pub fn logout(session: Session) -> Redirect {
    session.clear();
    redirect(url_for!(index))
}
