//! The article's request callbacks and error handler, all async: load the user before the
//! request, log the status after it, clean up at teardown, and send an "error email" for
//! a 500. The waits are one second each, as in the article; tests shorten them.

use std::time::Duration;

use erlen::prelude::*;

/// How long each simulated external call takes.
#[derive(Clone, Copy, Debug)]
pub struct Delays {
    pub load_user: Duration,
    pub log_status: Duration,
    pub error_email: Duration,
}

impl Default for Delays {
    fn default() -> Delays {
        let second = Duration::from_secs(1);
        Delays { load_user: second, log_status: second, error_email: second }
    }
}

/// The user the before_request hook loads, kept in the request's extensions (Flask's `g`).
#[derive(Clone, Debug)]
pub struct User(pub String);

async fn load_user_from_database(delay: Duration) -> User {
    tracing::info!("Loading user from database...");
    tokio::time::sleep(delay).await;
    User("ada".to_string())
}

async fn log_request_status(status: StatusCode, delay: Duration) {
    tracing::info!(%status, "Logging status of request...");
    tokio::time::sleep(delay).await;
}

async fn send_error_email(error: &HttpError, delay: Duration) {
    tracing::info!(%error, "Logging status of error...");
    tokio::time::sleep(delay).await;
}

#[before_request]
async fn app_before_request(req: &mut Request, State(delays): State<Delays>) {
    let user = load_user_from_database(delays.load_user).await;
    req.extensions_mut().insert(user);
}

#[after_request]
async fn app_after_request(response: Response, State(delays): State<Delays>) -> Response {
    log_request_status(response.status(), delays.log_status).await;
    response
}

#[teardown_request]
async fn app_teardown_request(req: &Request, error: Option<&HttpError>) {
    match error {
        Some(error) => tracing::warn!(path = req.path(), %error, "request failed"),
        None => tracing::debug!(path = req.path(), "request done"),
    }
}

#[errorhandler(500)]
async fn internal_error(error: &HttpError, State(delays): State<Delays>) -> (StatusCode, &'static str) {
    send_error_email(error, delays.error_email).await;
    (StatusCode::INTERNAL_SERVER_ERROR, "500 error")
}

#[route("/")]
async fn index(req: &Request) -> String {
    match req.extensions().get::<User>() {
        Some(User(name)) => format!("Hello, {name}!"),
        None => "Hello, stranger!".to_string(),
    }
}

#[route("/error")]
async fn error() -> Result<String, std::io::Error> {
    Err(std::io::Error::other("the database is unreachable"))
}

/// The app, with the article's one-second waits.
pub fn app() -> App {
    app_with(Delays::default())
}

/// The app with chosen waits.
pub fn app_with(delays: Delays) -> App {
    App::new().state(delays).register(handlers![
        app_before_request,
        app_after_request,
        app_teardown_request,
        internal_error,
        index,
        error
    ])
}
