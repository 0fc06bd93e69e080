//! The app: what the user registers ([`App`], [`Blueprint`]), checked and frozen into the
//! [`AppCore`] every backend and the test client serve, with the tower layers around it
//! and what the request context may ask of it.

mod builder;
mod core;
mod handle;
mod layers;
mod static_files;

pub use builder::{App, Blueprint, BuildError};
pub(crate) use core::{AppCore, Endpoint, NamedHandler, Scope};
pub use layers::Stack;
pub(crate) use layers::{Erased, LayerFn, into_body};
