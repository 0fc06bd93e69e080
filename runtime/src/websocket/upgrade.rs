//! From the upgrade request to a running handler: the handshake (RFC 6455, section 4.2),
//! the 101 response, and the task that takes over the connection once hyper has sent it,
//! runs the handler and closes the socket.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use futures::FutureExt;
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;
use tokio::sync::oneshot;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::socket::{BlockingWebSocket, Io, Returned, WebSocket};
use crate::body::Body;
use crate::context::RequestContext;
use crate::error::{HttpError, abort};
use crate::request::Request;
use crate::response::Response;
use crate::shutdown::{Hold, Shutdown};

/// The test client's end of an in-memory connection, in place of hyper's `OnUpgrade`.
#[derive(Clone)]
pub(crate) struct TestUpgrade(Arc<Mutex<Option<DuplexStream>>>);

impl TestUpgrade {
    pub(crate) fn new(io: DuplexStream) -> TestUpgrade {
        TestUpgrade(Arc::new(Mutex::new(Some(io))))
    }
}

/// Where the connection comes from once the 101 is sent.
enum Upgrade {
    Hyper(OnUpgrade),
    Test(DuplexStream),
}

impl Upgrade {
    async fn connect(self) -> Result<Box<dyn Io>, hyper::Error> {
        match self {
            Upgrade::Hyper(on) => Ok(Box::new(TokioIo::new(on.await?))),
            Upgrade::Test(io) => Ok(Box::new(io)),
        }
    }
}

/// An accepted upgrade: the 101 response to send, and what the handler's task needs.
struct Accepted {
    response: Response,
    upgrade: Upgrade,
    shutdown: Option<Shutdown>,
    ctx: Option<Arc<RequestContext>>,
    path: String,
    /// The connection's place among the server's connections, kept until the socket
    /// closes (none in the test client).
    hold: Option<Hold>,
}

/// Upgrades to a WebSocket run by an `async fn` handler, as a task on the shared runtime.
#[doc(hidden)]
pub fn websocket_async<F, Fut>(req: &mut Request, handler: F) -> Result<Response, HttpError>
where
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let Accepted { response, upgrade, shutdown, ctx, path, hold } = accept(req)?;
    crate::bridge::handle().spawn(async move {
        let _hold = hold;
        let Some((ws, back)) = open(upgrade, shutdown, &path).await else { return };
        let run = AssertUnwindSafe(handler(ws)).catch_unwind();
        let outcome = match ctx {
            Some(ctx) => crate::context::enter_async(ctx, run).await,
            None => run.await,
        };
        finish(outcome, back, &path).await;
    });
    Ok(response)
}

/// Upgrades to a WebSocket run by a plain `fn` handler, on a blocking thread of its own.
#[doc(hidden)]
pub fn websocket_blocking<F>(req: &mut Request, handler: F) -> Result<Response, HttpError>
where
    F: FnOnce(BlockingWebSocket) -> Result<(), String> + Send + 'static,
{
    let Accepted { response, upgrade, shutdown, ctx, path, hold } = accept(req)?;
    let rt = crate::bridge::handle();
    rt.spawn(async move {
        let _hold = hold;
        let Some((ws, back)) = open(upgrade, shutdown, &path).await else { return };
        let ran = rt
            .spawn_blocking(move || {
                let run = || catch_unwind(AssertUnwindSafe(|| handler(BlockingWebSocket::new(ws))));
                match ctx {
                    Some(ctx) => crate::context::enter_sync(ctx, run),
                    None => run(),
                }
            })
            .await;
        let outcome = ran.unwrap_or_else(|e| Ok(Err(format!("the handler's thread stopped: {e}"))));
        finish(outcome, back, &path).await;
    });
    Ok(response)
}

/// Checks the handshake and takes the connection from the request.
fn accept(req: &mut Request) -> Result<Accepted, HttpError> {
    let key = check_handshake(req.method(), req.version(), req.headers())?;
    let ctx = crate::context::current();
    let upgrade = if let Some(on) = req.extensions_mut().remove::<OnUpgrade>() {
        Upgrade::Hyper(on)
    } else if let Some(io) =
        req.extensions_mut().remove::<TestUpgrade>().and_then(|t| crate::sync::lock(&t.0).take())
    {
        Upgrade::Test(io)
    } else {
        return Err(HttpError::internal(
            "this request's connection cannot be upgraded to a WebSocket: serve the app with erlen's \
             Server (or its test client), whose connections support upgrades",
        ));
    };
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|_| HttpError::internal("the Sec-WebSocket-Accept value is not a valid header"))?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    Ok(Accepted {
        response,
        upgrade,
        shutdown: ctx.as_ref().and_then(|ctx| ctx.app.shutdown().cloned()),
        ctx,
        path: req.path().to_owned(),
        hold: req.extensions_mut().remove::<Hold>(),
    })
}

/// RFC 6455's opening handshake: a GET over HTTP/1.1 with `Upgrade: websocket`,
/// `Connection: upgrade`, version 13 and a key of 16 bytes in base64. Gives the key.
fn check_handshake(method: &Method, version: Version, headers: &HeaderMap) -> Result<String, HttpError> {
    if version >= Version::HTTP_2 {
        return Err(abort(400).with_message(
            "WebSockets over HTTP/2 are not supported: connect over HTTP/1.1 (ws:// or wss://)",
        ));
    }
    let not_websocket = || {
        abort(400).with_message(
            "this URL is a WebSocket: connect with a WebSocket client (in a browser, `new WebSocket(url)`), \
             which sends `Upgrade: websocket` and `Connection: upgrade`",
        )
    };
    if method != Method::GET
        || !has_token(headers, &UPGRADE, "websocket")
        || !has_token(headers, &CONNECTION, "upgrade")
    {
        return Err(not_websocket());
    }
    let version =
        headers.get(SEC_WEBSOCKET_VERSION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if version.as_deref().map(str::trim) != Some("13") {
        let asked = version.map_or("none".to_string(), |v| format!("`{v}`"));
        return Err(abort(426)
            .with_message(format!(
                "this server speaks WebSocket version 13 (RFC 6455), and the request's Sec-WebSocket-Version is {asked}"
            ))
            .with_header(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13")));
    }
    let key = headers.get(SEC_WEBSOCKET_KEY).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    let decoded = base64::engine::general_purpose::STANDARD.decode(key).map(|k| k.len());
    if decoded != Ok(16) {
        return Err(abort(400).with_message(
            "the Sec-WebSocket-Key header is missing or is not 16 random bytes in base64, as RFC 6455 asks",
        ));
    }
    Ok(key.to_owned())
}

/// Whether a comma-separated header holds `token`, in any case.
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Small buffers: an idle socket costs little (tungstenite reserves its read buffer up
/// front, 128 KiB by default). Messages may still be up to 64 MiB.
fn config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024).write_buffer_size(8 * 1024)
}

/// Waits for hyper to hand the connection over (after the 101 has gone out), and makes
/// the socket.
async fn open(
    upgrade: Upgrade,
    shutdown: Option<Shutdown>,
    path: &str,
) -> Option<(WebSocket, oneshot::Receiver<Returned>)> {
    let io = match upgrade.connect().await {
        Ok(io) => io,
        Err(e) => {
            tracing::debug!(
                error = %e, path,
                "the WebSocket upgrade did not happen (the client left, or an after_request hook replaced the 101 response)"
            );
            return None;
        }
    };
    let stream = WebSocketStream::from_raw_socket(io, Role::Server, Some(config())).await;
    let (back, returned) = oneshot::channel();
    Some((WebSocket::new(stream, shutdown, back), returned))
}

/// Logs a failed handler and closes its socket: 1000 after a normal return, 1011 after an
/// error or a panic.
async fn finish(
    outcome: Result<Result<(), String>, Box<dyn std::any::Any + Send>>,
    returned: oneshot::Receiver<Returned>,
    path: &str,
) {
    let code = match outcome {
        Ok(Ok(())) => 1000,
        Ok(Err(error)) => {
            tracing::error!(%error, path, "a WebSocket handler failed; the socket is closed with 1011");
            1011
        }
        Err(panic) => {
            let error = HttpError::from_panic(&*panic);
            tracing::error!(%error, path, "a WebSocket handler panicked; the socket is closed with 1011");
            1011
        }
    };
    // The socket comes back when the handler drops it (it may have moved it elsewhere).
    if let Ok(socket) = returned.await {
        socket.close(code).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    fn check(pairs: &[(&'static str, &'static str)]) -> Result<String, u16> {
        check_handshake(&Method::GET, Version::HTTP_11, &headers(pairs)).map_err(|e| e.status().as_u16())
    }

    #[test]
    fn the_handshake_is_checked_as_rfc_6455_asks() {
        assert_eq!(check(GOOD).as_deref(), Ok("dGhlIHNhbXBsZSBub25jZQ=="));
        // The RFC's own example.
        assert_eq!(derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let without = |name: &str| GOOD.iter().copied().filter(|(k, _)| *k != name).collect::<Vec<_>>();
        assert_eq!(check(&without("upgrade")), Err(400));
        assert_eq!(check(&without("connection")), Err(400));
        assert_eq!(check(&without("sec-websocket-key")), Err(400));
        assert_eq!(check(&without("sec-websocket-version")), Err(426));
        let mut old = without("sec-websocket-version");
        old.push(("sec-websocket-version", "8"));
        assert_eq!(check(&old), Err(426));
        let mut short = without("sec-websocket-key");
        short.push(("sec-websocket-key", "c2hvcnQ="));
        assert_eq!(check(&short), Err(400));
        let post = check_handshake(&Method::POST, Version::HTTP_11, &headers(GOOD));
        assert_eq!(post.map_err(|e| e.status().as_u16()), Err(400));
        let h2 = check_handshake(&Method::GET, Version::HTTP_2, &headers(GOOD));
        assert_eq!(h2.map_err(|e| e.status().as_u16()), Err(400));
    }
}
