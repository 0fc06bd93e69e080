//! Extractors: the values a handler can take as parameters besides path parameters and
//! `&Request`. [`FromRequest`] is the trait; erlen's own extractors read the request's
//! parts ([`State`], [`Query`], `Method`, `HeaderMap`), its body in full ([`Json`],
//! [`Form`], `Bytes`, `String`) or streamed ([`BodyStream`], [`BodyReader`]), and the
//! route's parameters (the `*Param` traits, for the macros).
//!
//! [`Json`]: crate::Json

mod body;
mod from_request;
mod params;
mod parts;

pub use body::{BodyReader, BodyStream};
pub use from_request::{BodyUse, FromRequest, Prepare};
pub use params::{FloatParam, IntParam, StrParam, UuidParam};
pub use parts::{Form, Query, State};
