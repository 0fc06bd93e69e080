//! The traits route parameters convert through: the macros check each `<int:id>`,
//! `<float:x>`, `<uuid:u>` and `<name>` against the argument's type with them.

use std::str::FromStr;

use crate::error::{HttpError, abort};
use crate::request::Request;

macro_rules! param_trait {
    ($(#[$doc:meta])* $trait:ident, $message:literal, $label:literal, $note:literal, [$($ty:ty),*]) => {
        $(#[$doc])*
        #[diagnostic::on_unimplemented(message = $message, label = $label, note = $note)]
        pub trait $trait: FromStr {
            /// Converts path parameter `name` of the matched route.
            #[doc(hidden)]
            fn from_param(req: &Request, name: &str) -> Result<Self, HttpError> {
                param(req, name)
            }
        }
        $(impl $trait for $ty {})*
    };
}

param_trait!(
    /// Types an `<int:name>` parameter converts into: the integer types.
    IntParam,
    "an `<int:...>` route parameter cannot be taken as `{Self}`",
    "the `int` converter produces an integer, not this type",
    "declare the argument as an integer type such as `i64`, `u32` or `usize`, or use `<name>` for text",
    [i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize]
);
param_trait!(
    /// Types a `<float:name>` parameter converts into: `f32` and `f64`.
    FloatParam,
    "a `<float:...>` route parameter cannot be taken as `{Self}`",
    "the `float` converter produces a float, not this type",
    "declare the argument as `f64` or `f32`",
    [f32, f64]
);
param_trait!(
    /// Types a `<uuid:name>` parameter converts into: `String` (checked to be a UUID), or
    /// any type implementing this trait, such as a UUID type of your own.
    UuidParam,
    "a `<uuid:...>` route parameter cannot be taken as `{Self}`",
    "the `uuid` converter produces a UUID, not this type",
    "declare the argument as `String`, or implement `erlen::params::UuidParam` for your UUID type",
    [String]
);

/// Types a `<name>`, `<string:name>` or `<path:name>` parameter converts into: anything
/// that implements `FromStr` (`String`, `PathBuf`, numbers, your own enums).
#[diagnostic::on_unimplemented(
    message = "a route parameter cannot be taken as `{Self}`: it does not implement `FromStr`",
    label = "not parseable from the path",
    note = "declare the argument as `String`, or implement `std::str::FromStr` for the type"
)]
pub trait StrParam: FromStr {
    /// Converts path parameter `name` of the matched route.
    #[doc(hidden)]
    fn from_param(req: &Request, name: &str) -> Result<Self, HttpError> {
        param(req, name)
    }
}
impl<T: FromStr> StrParam for T {}

/// Converts the text of path parameter `name` of the matched route; a value that does not
/// convert (say, an `int` too large for `u8`) is a 404, as a converter mismatch is in Flask.
pub(crate) fn param<T: FromStr>(req: &Request, name: &str) -> Result<T, HttpError> {
    let text = req.param(name).ok_or_else(|| {
        HttpError::internal(format!("route parameter `{name}` is missing: the route and its view disagree"))
    })?;
    text.parse().map_err(|_| {
        abort(404).with_message(format!("`{text}` is not a valid value for the route parameter `{name}`"))
    })
}
