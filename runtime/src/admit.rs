//! Admission: from an `http::Request` with any body to a request the lifecycle can serve,
//! written once for both backends, the tower service and the test client, so that a test
//! in-process sees what a client over a socket sees.
//!
//! [`Admission::admit`] runs before any future is built (a request's head is not carried
//! in one): it checks the request's framing (the `Host` header), applies what trusted
//! proxies forwarded, routes the request, and checks its declared length against the
//! route's `body_limit`; a body the view streams is left unread, paced. What it decided
//! is handed on as a value ([`Admitted`]), never left on the request.
//! [`Admission::serve`] then reads a body that is to be read in full, and runs the
//! lifecycle on the server's [`Engine`] within the route's timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::StreamExt;
use futures::future::Either;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, RETRY_AFTER};
use http::{HeaderValue, StatusCode, Version};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::app::AppCore;
use crate::body::{BoxError, ChunkStream};
use crate::context::AppHandle;
use crate::error::{HttpError, abort};
use crate::handler::RateLimit;
use crate::incoming::{Cancel, Incoming, Pace, too_large};
use crate::ratelimit::{Limiter, Verdict};
use crate::request::Request;
use crate::response::Response;
use crate::routing::Match;

/// The largest request body a route accepts unless its `body_limit` or the server's says
/// otherwise; the test client applies it too.
pub(crate) const DEFAULT_BODY_LIMIT: u64 = 2 * 1024 * 1024;

/// The limits a request is admitted within; every one is answered with a clear HTTP
/// error.
#[derive(Debug, Clone)]
pub(crate) struct RequestLimits {
    pub(crate) body_limit: u64,
    pub(crate) body_read_timeout: Duration,
    pub(crate) body_min_rate: u64,
    pub(crate) request_timeout: Option<Duration>,
}

impl Default for RequestLimits {
    fn default() -> RequestLimits {
        RequestLimits {
            body_limit: DEFAULT_BODY_LIMIT,
            body_read_timeout: Duration::from_secs(30),
            body_min_rate: 500,
            request_timeout: None,
        }
    }
}

/// The connection a request came on, as the server knows it; handed through tower layers
/// in the request's extensions. Absent in the test client and when erlen is mounted in
/// another server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    pub(crate) remote: SocketAddr,
    pub(crate) tls: bool,
}

/// A request admitted to the lifecycle: routed, its body read or ready to be streamed.
pub(crate) struct Admitted {
    pub(crate) request: Box<Request>,
    /// What routing found, for the lifecycle's step 1.
    pub(crate) routed: Match,
    /// The route's rate limit, counted before the body is read.
    pub(crate) rate_limit: Option<RateLimit>,
}

/// A request as [`Admission::admit`] leaves it.
pub(crate) enum Admit<B> {
    /// Ready for the lifecycle (a streamed body is left unread, with the handle that stops
    /// it when the route's time is up).
    Ready { admitted: Admitted, timeout: Option<Duration>, cancel: Option<Cancel> },
    /// Its body is read in full first, within `limit`.
    Unread { admitted: Admitted, body: B, limit: u64, timeout: Option<Duration> },
    /// Answered with an error before its body was read.
    Refused(HttpError),
}

/// Where admitted requests run their lifecycle: the server's backend.
pub(crate) trait Engine: Send + Sync {
    /// Runs the lifecycle of `admitted` and gives its response; never fails.
    fn run<'a>(
        &'a self,
        admission: &'a Admission,
        admitted: Admitted,
    ) -> impl Future<Output = Response> + Send + 'a;
}

/// The admission of requests to one app: its limits and how many proxies it trusts.
pub(crate) struct Admission {
    pub(crate) app: Arc<AppCore>,
    /// The app as the request context sees it (with the server's shutdown signal).
    pub(crate) handle: Arc<dyn AppHandle>,
    pub(crate) limits: RequestLimits,
    pub(crate) trust_proxy: usize,
}

impl Admission {
    /// Admits and serves one request on `engine`: [`Admission::admit`], then
    /// [`Admission::serve`]. Never fails: every problem is an HTTP error response.
    pub(crate) async fn respond<B, E>(
        &self,
        req: http::Request<B>,
        peer: Option<Peer>,
        engine: &E,
    ) -> Response
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
        E: Engine,
    {
        let admitted = self.admit(req, peer);
        self.serve(admitted, engine).await
    }

    /// Reads the body if it is still to be read, and runs the lifecycle on `engine` within
    /// the route's timeout.
    ///
    /// A plain fn, not an `async fn`: the request is taken apart before the future is
    /// made, so that what it holds has one place in the future (it sits inside every
    /// request's), not a second one for the `Admit` it came in.
    pub(crate) fn serve<'a, B, E>(
        &'a self,
        admit: Admit<B>,
        engine: &'a E,
    ) -> impl Future<Output = Response> + Send + 'a
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
        E: Engine,
    {
        let (mut admitted, unread, timeout, cancel) = match admit {
            Admit::Ready { admitted, timeout, cancel } => (admitted, None, timeout, cancel),
            Admit::Unread { admitted, body, limit, timeout } => {
                (admitted, Some((body, limit)), timeout, None)
            }
            Admit::Refused(e) => return Either::Left(std::future::ready(e.default_response())),
        };
        Either::Right(async move {
            if let Some(limit) = admitted.rate_limit {
                // Boxed: a store's round trip would make every request's future larger.
                let checking = Box::pin(self.rate_limited(&admitted, limit));
                if let Some(refused) = checking.await {
                    return refused.default_response();
                }
            }
            if let Some((body, limit)) = unread {
                let version = admitted.request.version;
                // Boxed: reading takes a timer and a collector, which would make the
                // future of every request as large, bodiless or not.
                let reading = Box::pin(self.read_body(body, limit, version));
                match reading.await {
                    Ok(body) => admitted.request.body = body,
                    Err(e) => return e.default_response(),
                }
            }
            let served = engine.run(self, admitted);
            match timeout {
                None => served.await,
                Some(limit) => {
                    let timed = Box::pin(tokio::time::timeout(limit, served));
                    timed.await.unwrap_or_else(|_| {
                        // A view still reading a streamed body stops at its next read.
                        if let Some(cancel) = cancel {
                            cancel.cancel();
                        }
                        HttpError::new(StatusCode::SERVICE_UNAVAILABLE)
                            .with_message("the request took too long")
                            .default_response()
                    })
                }
            }
        })
    }

    /// Checks the request's framing, applies what trusted proxies forwarded, routes it,
    /// and checks its declared length against the route's limit; a body that the view
    /// streams is left unread, paced. `peer` is the connection's; without it, it is taken
    /// from the request's extensions (where the server puts it for tower layers).
    pub(crate) fn admit<B>(&self, req: http::Request<B>, peer: Option<Peer>) -> Admit<B>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        if let Err(e) = check_host(&req) {
            return Admit::Refused(e);
        }
        let (mut parts, body) = req.into_parts();
        let peer = peer.or_else(|| parts.extensions.remove::<Peer>());
        // Most requests have no body, and need no look at its length.
        let bodiless = body.is_end_stream();
        let declared = if bodiless { None } else { declared_length(&parts.headers) };
        let mut request = match Request::from_parts(parts, Bytes::new()) {
            Ok(request) => Box::new(request),
            Err(e) => return Admit::Refused(e),
        };
        if let Some(peer) = peer {
            request.remote_addr = Some(peer.remote);
            if peer.tls {
                request.scheme = "https";
            }
        }
        crate::proxy::apply(&mut request, self.trust_proxy);
        // Routed first: the route's limits apply before a byte of the body is read.
        let routed = self.app.router.lookup(&request.method, request.path(), &request.uri);
        let route = match &routed {
            Match::Found { endpoint, options: None, .. } => self.app.endpoints[*endpoint].options,
            _ => Default::default(),
        };
        let rate_limit = route.rate_limit;
        let limit = route.body_limit.unwrap_or(self.limits.body_limit);
        if declared.is_some_and(|n| n > limit) {
            return Admit::Refused(too_large(limit).to_http());
        }
        let timeout = route.timeout.or(self.limits.request_timeout);
        let streams = route.body.streams();
        // Skip the reading machinery for a request without a body.
        if bodiless && !streams {
            return Admit::Ready {
                admitted: Admitted { request, routed, rate_limit },
                timeout,
                cancel: None,
            };
        }
        if !streams {
            return Admit::Unread {
                admitted: Admitted { request, routed, rate_limit },
                body,
                limit,
                timeout,
            };
        }
        let chunks: ChunkStream = Box::pin(
            body.into_data_stream()
                .map(|chunk| chunk.map(|mut data| data.copy_to_bytes(data.remaining())).map_err(Into::into)),
        );
        let pace = Pace { idle: self.limits.body_read_timeout, min_rate: self.limits.body_min_rate };
        let cancel = timeout.map(|_| Cancel::default());
        request.set_unread(Incoming::new(chunks, limit, Some(pace), cancel.clone()));
        Admit::Ready { admitted: Admitted { request, routed, rate_limit }, timeout, cancel }
    }

    /// The 429 for a request over its route's rate limit, if it is: counted for its client
    /// (its address as the trusted proxies give it) and route.
    async fn rate_limited(&self, admitted: &Admitted, limit: RateLimit) -> Option<HttpError> {
        let limiter = self.app.features.get::<Limiter>()?;
        let Match::Found { endpoint, .. } = &admitted.routed else { return None };
        let route = &self.app.endpoints[*endpoint].name;
        let client = admitted.request.remote_addr.map_or_else(|| "-".to_string(), |a| a.ip().to_string());
        match limiter.check(route, &client, limit).await {
            Verdict::Allowed => None,
            Verdict::Limited(left) => {
                let secs = left.as_secs().max(1);
                Some(
                    HttpError::new(StatusCode::TOO_MANY_REQUESTS)
                        .with_message(format!(
                            "too many requests: at most {} per {:?}",
                            limit.count, limit.per
                        ))
                        .with_header(RETRY_AFTER, HeaderValue::from(secs)),
                )
            }
        }
    }

    /// Reads a body in full, within `limit` bytes and the read timeout.
    async fn read_body<B>(&self, body: B, limit: u64, version: Version) -> Result<Bytes, HttpError>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let read_timeout = self.limits.body_read_timeout;
        let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
        match tokio::time::timeout(read_timeout, limited.collect()).await {
            Err(_) => {
                let mut error = abort(408)
                    .with_message(format!("the request body did not arrive within {read_timeout:?}"));
                if version < Version::HTTP_2 {
                    // The rest of the body is never read: the connection cannot be reused.
                    error = error.with_header(CONNECTION, HeaderValue::from_static("close"));
                }
                Err(error)
            }
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit).to_http()),
            Ok(Err(e)) => Err(abort(400).with_message(format!("the request body could not be read: {e}"))),
        }
    }
}

/// The body's length as the request declares it, if it does.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

/// RFC 9112, section 3.2: an HTTP/1.1 request has exactly one `Host`, and no request has
/// two. HTTP/1.0 may omit it; HTTP/2 names the host in `:authority`.
fn check_host<B>(req: &http::Request<B>) -> Result<(), HttpError> {
    let mut hosts = req.headers().get_all(HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(abort(400).with_message("the request has more than one Host header"));
    }
    if first.is_none() && req.version() == Version::HTTP_11 {
        return Err(abort(400).with_message("an HTTP/1.1 request needs a Host header"));
    }
    Ok(())
}
