//! The extractor trait, and what an extractor does with the body.

use crate::body::BoxFuture;
use crate::context::RequestContext;
use crate::error::HttpError;
use crate::request::Request;

/// A value a handler or hook can take as a parameter, built from the request.
///
/// A failure is a 400 (or whatever [`HttpError`] it returns) with a message, and goes to
/// the error handlers like any other error.
///
/// ```
/// use erlen::prelude::*;
///
/// struct UserAgent(String);
///
/// impl FromRequest for UserAgent {
///     fn from_request(req: &Request) -> Result<Self, HttpError> {
///         req.header("user-agent")
///             .map(|ua| UserAgent(ua.to_string()))
///             .ok_or_else(|| abort(400).with_message("a User-Agent header is required"))
///     }
/// }
///
/// #[get("/ua")]
/// fn ua(UserAgent(ua): UserAgent) -> String { ua }
///
/// let client = App::new().register(handlers![ua]).test_client();
/// assert_eq!(client.get("/ua").header("user-agent", "me").send().text(), "me");
/// assert_eq!(client.get("/ua").send().status(), 400);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither a route parameter nor an extractor",
    label = "no route parameter has this argument's name, and its type is not an extractor",
    note = "name the argument like a `<param>` of the route, or take `&Request`, `State<T>`, `Json<T>`, `Query<T>`, `Form<T>`, `Bytes`, `String`, `Method`, `HeaderMap`, `Session`, `Channels`, `Multipart`, `BodyStream` or `BodyReader`",
    note = "for your own type, implement `erlen::FromRequest` for it"
)]
pub trait FromRequest: Sized {
    /// What the extractor does with the body: by default nothing. erlen's `Bytes`,
    /// `String`, `Json` and `Form` need it in full; `BodyStream`, `BodyReader` and
    /// `Multipart` stream it. The macros combine the arguments' values at compile time.
    #[doc(hidden)]
    const BODY: BodyUse = BodyUse::None;

    /// Builds the value from the request.
    fn from_request(req: &Request) -> Result<Self, HttpError>;

    /// Builds the value for an `Option<Self>` argument: `Ok(None)` when the request has no
    /// such value, an error when it has a bad one. `Option` means "absent", not "failed",
    /// as axum's `OptionalFromRequestParts`.
    ///
    /// The default takes a client error (4xx) from [`FromRequest::from_request`] as absent
    /// and keeps a server error (a missing `State`, a 500) an error. erlen's extractors
    /// override it: `Option<Json<T>>` and `Option<Form<T>>` are `None` for an empty body
    /// only, `Option<Query<T>>` for an empty query only; a malformed one stays a 400.
    fn from_request_optional(req: &Request) -> Result<Option<Self>, HttpError> {
        match Self::from_request(req) {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.status().is_client_error() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What a view does with the request body, known at compile time from the types of its
/// arguments ([`FromRequest::BODY`](crate::FromRequest::BODY)); the most demanding
/// argument decides.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub enum BodyUse {
    /// The argument does not look at the body (state, query, headers, session...).
    #[default]
    None,
    /// The body is read in full, within the limit, before the lifecycle starts
    /// (`Bytes`, `String`, `Json`, `Form`). A view whose arguments are all `None` or
    /// `Buffered` gets it so too, for `&Request`.
    Buffered,
    /// The body is left unread for the view to stream
    /// ([`BodyStream`](crate::BodyStream), [`BodyReader`](crate::BodyReader)).
    Stream,
    /// The body is left unread and made into what the extractor takes right before the
    /// view, after the `before_request` hooks, by the step it names (a multipart form:
    /// [`Multipart`](crate::Multipart)).
    Prepared(Prepare),
}

/// A step that reads a streamed body before the view (after the `before_request` hooks, so
/// that a hook can refuse an upload unread) and leaves what it made in the request, with
/// [`Request::set_prepared`](crate::Request), for the extractor to take.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Prepare(pub(crate) for<'a> fn(&'a mut Request, &'a RequestContext) -> BoxFuture<'a, ()>);

impl std::fmt::Debug for Prepare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepare")
    }
}

impl BodyUse {
    /// Whether the body is handed to the view unread.
    pub const fn streams(self) -> bool {
        matches!(self, BodyUse::Stream | BodyUse::Prepared(_))
    }

    /// A view's use from its arguments'; `const`, so that the macro's registration
    /// computes it at compile time, where a view that would take the body twice, or both
    /// in full and streamed, fails to compile with the reason.
    pub const fn of(uses: &[BodyUse]) -> BodyUse {
        let (mut buffered, mut streamed, mut view) = (false, 0, BodyUse::None);
        let mut i = 0;
        while i < uses.len() {
            match uses[i] {
                BodyUse::None => {}
                BodyUse::Buffered => buffered = true,
                streaming => {
                    streamed += 1;
                    view = streaming;
                }
            }
            i += 1;
        }
        if streamed > 1 {
            panic!(
                "this view takes the request body twice: take one `BodyStream`, `BodyReader` or `Multipart`"
            );
        }
        if streamed == 1 && buffered {
            panic!(
                "this view takes the request body both in full (`Bytes`, `String`, `Json`, `Form`) and streamed (`BodyStream`, `BodyReader`, `Multipart`): a body is read once, so keep one of them"
            );
        }
        if streamed == 0 && buffered { BodyUse::Buffered } else { view }
    }
}

/// An optional extractor: `None` when the request has no such value (see
/// [`FromRequest::from_request_optional`]); a malformed value is still an error.
impl<T: FromRequest> FromRequest for Option<T> {
    const BODY: BodyUse = T::BODY;

    fn from_request(req: &Request) -> Result<Self, HttpError> {
        T::from_request_optional(req)
    }
}
