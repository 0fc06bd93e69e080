//! A login, the Flask way: the signed session remembers the user, a `before_request` hook
//! loads them for every request (Flask's `g.user`), a reusable check guards the pages that
//! need a user, and `flash` tells the user what went wrong.

use erlen::prelude::*;

/// The logged-in user, put in the request's extensions by [`load_user`].
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
}

/// The users and their passwords (a database, in a real app).
const USERS: &[(&str, &str)] = &[("ada", "lovelace"), ("grace", "hopper")];

#[before_request]
fn load_user(req: &mut Request, session: Session) {
    if let Some(name) = session.get::<String>("user_id") {
        req.extensions_mut().insert(User { name });
    }
}

/// The login check views call first, as Flask's `@login_required`: the user, or a
/// redirect to the login page.
pub fn login_required(req: &Request) -> Result<&User, Redirect> {
    req.extensions().get::<User>().ok_or_else(|| redirect(url_for!(login_form)))
}

#[derive(serde::Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[get("/login")]
fn login_form(session: Session) -> Result<Html<String>, HttpError> {
    let errors: Vec<String> = get_flashed_messages(&session).into_iter().map(|(_, m)| m).collect();
    // The form carries the CSRF token the app checks on every POST.
    let token = erlen::csrf::csrf_token()?;
    Ok(Html(format!(
        "<p>{}</p><form method=post><input type=hidden name=csrf_token value=\"{token}\">...</form>",
        erlen::escape_html(&errors.join(" "))
    )))
}

#[post("/login")]
fn login(Form(form): Form<Credentials>, session: Session) -> Redirect {
    let known = USERS.iter().any(|(user, password)| *user == form.username && *password == form.password);
    if !known {
        flash(&session, "Incorrect username or password.");
        return redirect(url_for!(login_form));
    }
    session.clear();
    session.insert("user_id", &form.username);
    redirect(url_for!(dashboard))
}

#[get("/")]
fn dashboard(req: &Request) -> Result<String, HttpError> {
    let user = login_required(req)?;
    Ok(format!("Hello, {}!", user.name))
}

#[post("/logout")]
fn logout(session: Session) -> Redirect {
    session.clear();
    redirect(url_for!(login_form))
}

/// The app: the secret key signs the session cookie (read it from the environment in
/// production: `ERLEN_SECRET_KEY`) and the CSRF tokens its forms carry.
pub fn app() -> App {
    App::new()
        .secret_key("dev")
        .csrf_protect()
        .register(handlers![load_user, login_form, login, dashboard, logout])
}
