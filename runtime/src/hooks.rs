//! What hooks and WebSocket handlers may return, as traits so that a wrong return type is
//! a compile error that says what to return instead.

use crate::error::HttpError;
use crate::response::{IntoResponse, Response};

/// What a `before_request` hook returns: `()` or `None` to go on, `Some(response)` to
/// answer right away and skip the view, or a `Result` of those.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a `before_request` hook",
    label = "a before_request hook returns `()`, `Option<impl IntoResponse>` or a `Result` of those",
    note = "return `None` to go on to the view, or `Some(response)` to answer without it"
)]
pub trait BeforeOutcome {
    #[doc(hidden)]
    fn into_before(self) -> Result<Option<Response>, HttpError>;
}

impl BeforeOutcome for () {
    fn into_before(self) -> Result<Option<Response>, HttpError> {
        Ok(None)
    }
}

impl<T: IntoResponse> BeforeOutcome for Option<T> {
    fn into_before(self) -> Result<Option<Response>, HttpError> {
        self.map(IntoResponse::into_outcome).transpose()
    }
}

impl<T: BeforeOutcome, E: Into<HttpError>> BeforeOutcome for Result<T, E> {
    fn into_before(self) -> Result<Option<Response>, HttpError> {
        self.map_err(Into::into)?.into_before()
    }
}

/// What an `after_request` hook returns: the response, or a `Result` of it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from an `after_request` hook",
    label = "an after_request hook returns the `Response` it was given (or `Result<Response, E>`)",
    note = "take `resp: Response` as a parameter, change it, and return it"
)]
pub trait AfterOutcome {
    #[doc(hidden)]
    fn into_after(self) -> Result<Response, HttpError>;
}

impl AfterOutcome for Response {
    fn into_after(self) -> Result<Response, HttpError> {
        Ok(self)
    }
}

impl<E: Into<HttpError>> AfterOutcome for Result<Response, E> {
    fn into_after(self) -> Result<Response, HttpError> {
        self.map_err(Into::into)
    }
}

/// What a `teardown_request` hook returns: `()` or `Result<(), E>` (errors are logged and
/// otherwise ignored: the response is already decided).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a `teardown_request` hook",
    label = "a teardown_request hook returns `()` or `Result<(), E>`",
    note = "the response is decided before teardown runs; a teardown hook only cleans up"
)]
pub trait TeardownOutcome {
    #[doc(hidden)]
    fn into_teardown(self) -> Result<(), HttpError>;
}

impl TeardownOutcome for () {
    fn into_teardown(self) -> Result<(), HttpError> {
        Ok(())
    }
}

impl<E: Into<HttpError>> TeardownOutcome for Result<(), E> {
    fn into_teardown(self) -> Result<(), HttpError> {
        self.map_err(Into::into)
    }
}

/// What a `before_serving` or `after_serving` hook returns: `()` or `Result<(), E>` where
/// `E` converts into [`HttpError`] (any `std::error::Error + Send + Sync` does). An `Err`
/// from a `before_serving` hook stops the server's start-up; one from an `after_serving`
/// hook is logged.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a `before_serving` or `after_serving` hook",
    label = "a serving hook returns `()` or `Result<(), E>`",
    note = "return `Err(e)` from a `before_serving` hook to stop the server from starting"
)]
pub trait ServingOutcome {
    #[doc(hidden)]
    fn into_serving(self) -> Result<(), HttpError>;
}

impl ServingOutcome for () {
    fn into_serving(self) -> Result<(), HttpError> {
        Ok(())
    }
}

impl<E: Into<HttpError>> ServingOutcome for Result<(), E> {
    fn into_serving(self) -> Result<(), HttpError> {
        self.map_err(Into::into)
    }
}

/// What a WebSocket handler returns: `()` or `Result<(), E>`; an error is logged and the
/// socket closed with 1011. Generated code calls it; not for use by hand.
#[diagnostic::on_unimplemented(
    message = "a WebSocket handler returns `()` or `Result<(), E>`, not `{Self}`",
    label = "return `()` or `Result<(), E>` where `E: Display`",
    note = "send messages with `ws.send(..)`; what the handler returns only says whether it failed"
)]
pub trait WebSocketOutcome {
    /// `Err` with the error's text when the handler failed.
    fn into_outcome(self) -> Result<(), String>;
}

impl WebSocketOutcome for () {
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: std::fmt::Display> WebSocketOutcome for Result<(), E> {
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}
