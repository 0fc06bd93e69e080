//! The app's start and stop, with Quart's names: `#[before_serving]` hooks run once when a
//! server starts, before it accepts its first connection, and `#[after_serving]` hooks run
//! once when it stops, after the last request has drained.
//!
//! They run outside any request, so they take only application state (`State<T>`): each
//! is called with a request that carries nothing but the app's state, which is all a
//! `State<T>` extractor reads. A sync hook runs on the thread that starts or stops the
//! server; an async one is driven through the blocking bridge on the shared runtime.
//!
//! The [`TestClient`](crate::TestClient) does not run them (Flask's test client does not
//! run serving hooks either): a test that needs what a `before_serving` hook prepares
//! calls the hook itself, or puts the prepared value in the app's state.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;
use http::Extensions;

use crate::error::HttpError;
use crate::extract::{FromRequest, State};
use crate::handler::{Callable, Serving};
use crate::request::Request;

/// The serving hooks of an app, each with its function's name, in registration order.
#[derive(Default)]
pub(crate) struct ServingHooks {
    pub(crate) before: Vec<(&'static str, Serving)>,
    pub(crate) after: Vec<(&'static str, Serving)>,
}

/// What a `before_serving` or `after_serving` hook can take: application state only,
/// since there is no request to extract anything else from.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken by a `before_serving` or `after_serving` hook",
    label = "serving hooks take `State<T>` arguments only",
    note = "serving hooks run once, outside any request, so there is no body, header or query to extract; take application state added with `App::state(value)` as `State<T>`"
)]
pub trait ServingArg: Sized {
    /// Reads the value from the app's state.
    fn from_serving(req: &Request) -> Result<Self, HttpError>;
}

impl<T: Send + Sync + 'static> ServingArg for State<T> {
    fn from_serving(req: &Request) -> Result<Self, HttpError> {
        State::from_request(req)
    }
}

impl<T: Send + Sync + 'static> ServingArg for Option<State<T>> {
    fn from_serving(req: &Request) -> Result<Self, HttpError> {
        Ok(req.shared_state::<T>().map(State))
    }
}

impl ServingHooks {
    /// Runs the `before_serving` hooks in registration order, with the app's `state`; the
    /// first failure (an `Err` or a panic) stops them and is returned, naming the hook.
    pub(crate) fn run_before(&self, state: &Arc<Extensions>) -> io::Result<()> {
        for (name, hook) in &self.before {
            if let Err(e) = call(state, hook) {
                return Err(io::Error::other(format!(
                    "the server did not start: the #[before_serving] hook `{name}` failed: {}",
                    describe(&e)
                )));
            }
            tracing::debug!(hook = name, "before_serving hook done");
        }
        Ok(())
    }

    /// Runs the `after_serving` hooks in registration order, with the app's `state`; a
    /// failure is logged and the next hook runs all the same.
    pub(crate) fn run_after(&self, state: &Arc<Extensions>) {
        for (name, hook) in &self.after {
            match call(state, hook) {
                Ok(()) => tracing::debug!(hook = name, "after_serving hook done"),
                Err(e) => tracing::error!(hook = name, error = %describe(&e), "an after_serving hook failed"),
            }
        }
    }
}

/// Calls one hook with a request that carries the app's state, turning a panic into an
/// error.
fn call(state: &Arc<Extensions>, hook: &Serving) -> Result<(), HttpError> {
    let (parts, ()) = http::Request::new(()).into_parts();
    let mut req = Request::from_parts(parts, Bytes::new())?;
    req.state = state.clone();
    match hook {
        Callable::Sync(f) => catch_unwind(AssertUnwindSafe(|| f(&mut req)))
            .unwrap_or_else(|panic| Err(HttpError::from_panic(&*panic))),
        Callable::Async(f) => crate::bridge::block_on(AssertUnwindSafe(f(&mut req)).catch_unwind())
            .unwrap_or_else(|panic| Err(HttpError::from_panic(&*panic))),
    }
}

/// The error as a sentence, without the HTTP status, which means nothing at start-up.
fn describe(error: &HttpError) -> String {
    error.message().map(|m| m.into_owned()).unwrap_or_else(|| error.to_string())
}
