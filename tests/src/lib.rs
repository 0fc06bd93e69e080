//! Shared test apps and the [`Transport`] abstraction that lets one behaviour suite run
//! in-process through the test client and over real sockets on each backend.

pub mod channel_cases;
pub mod flask_port;
pub mod lifecycle;
pub mod outside;
pub mod raw;
pub mod session_cases;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use erlen::http::{HeaderMap, Method};
use erlen::{App, Backend, Server, ServerHandle, TestClient};

/// Declares an error type for tests: `test_error!(AppError, "app error");`.
#[macro_export]
macro_rules! test_error {
    ($name:ident, $text:literal) => {
        #[derive(Debug)]
        pub struct $name;
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($text)
            }
        }
        impl std::error::Error for $name {}
    };
}

/// A response as every transport sees it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Something that sends a request to an app.
pub trait Transport: Send + Sync {
    fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply;

    fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Vec::new())
    }

    fn post(&self, path: &str) -> Reply {
        self.send(Method::POST, path, &[], Vec::new())
    }
}

impl Transport for TestClient {
    fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let mut req = self.request(method, path).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send();
        Reply { status: resp.status().as_u16(), headers: resp.headers().clone(), body: resp.bytes().to_vec() }
    }
}

/// A real server on loopback, reached with reqwest (no redirects followed).
pub struct Http {
    // Dropped first: the client's idle connections close, so the server's shutdown does
    // not wait out its grace for them.
    pub client: reqwest::Client,
    pub server: ServerHandle,
    pub base: String,
}

impl Http {
    pub fn start(app: App, backend: Backend) -> Http {
        Http::start_with(Server::bind("127.0.0.1:0").backend(backend), app)
    }

    pub fn start_with(server: Server, app: App) -> Http {
        let server = server.spawn(app).expect("the test server starts");
        let base = format!("http://{}", server.addr());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client");
        Http { server, base, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl Transport for Http {
    fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let mut req = self.client.request(method, self.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        erlen::block_on(async {
            let resp = req.send().await.expect("the server answers");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.expect("the body arrives").to_vec();
            Reply { status, headers, body }
        })
    }
}

/// Makes a transport for an app: in-process, or a server on one backend.
pub type Connect = dyn Fn(App) -> Box<dyn Transport>;

/// The in-process transport.
pub fn in_process(app: App) -> Box<dyn Transport> {
    Box::new(app.test_client())
}

/// A transport over HTTP to a fresh server of `app` on `backend`.
pub fn over_http(backend: Backend) -> impl Fn(App) -> Box<dyn Transport> {
    move |app| Box::new(Http::start(app, backend))
}

fn events() -> &'static Mutex<HashMap<String, Vec<String>>> {
    static EVENTS: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();
    EVENTS.get_or_init(Default::default)
}

/// Records what a handler did for the request tagged `x-id`.
pub fn record(req: &erlen::Request, event: impl Into<String>) {
    let id = req.header("x-id").unwrap_or("untagged").to_string();
    events().lock().unwrap().entry(id).or_default().push(event.into());
}

/// Sends a request tagged with a fresh `x-id`; returns the reply and what was recorded.
pub fn send_recorded(
    t: &dyn Transport,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (Reply, Vec<String>) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let id = format!("req-{}", NEXT.fetch_add(1, Ordering::SeqCst));
    let mut tagged = vec![("x-id", id.as_str())];
    tagged.extend_from_slice(headers);
    let reply = t.send(method, path, &tagged, Vec::new());
    let recorded = events().lock().unwrap().remove(&id).unwrap_or_default();
    (reply, recorded)
}

/// One `#[test]` per behaviour of the suite, each on transports made by `$connect`
/// (an `App -> Box<dyn Transport>` function): the same behaviours, in-process and over
/// sockets on each backend.
#[macro_export]
macro_rules! behaviour_suite {
    ($connect:expr) => {
        $crate::behaviour_suite!(@cases $connect;
            flask_port::async_route,
            flask_port::async_error_handler,
            flask_port::async_before_after_request,
            lifecycle::plain_request_runs_hooks_in_flask_order,
            lifecycle::blueprint_hooks_wrap_app_hooks,
            lifecycle::before_hook_short_circuits_the_view_and_later_hooks,
            lifecycle::routing_errors_run_app_before_hooks_then_app_handlers_only,
            lifecycle::method_not_allowed_carries_allow,
            lifecycle::strict_slashes_redirect_with_308,
            lifecycle::head_and_options_are_automatic,
            lifecycle::typed_errors_are_handled_and_not_passed_to_teardown,
            lifecycle::unhandled_errors_render_with_the_500_handler_and_reach_teardown,
            lifecycle::panics_in_views_are_500s_and_reach_teardown,
            lifecycle::panic_in_a_before_hook_skips_the_view,
            lifecycle::panic_in_an_after_hook_is_handled_and_skips_the_rest,
            lifecycle::panic_in_a_teardown_hook_is_ignored,
            lifecycle::failing_error_handlers_give_a_plain_500,
            lifecycle::abort_without_a_handler_gets_the_default_page,
            lifecycle::blueprint_error_handlers_come_first_for_its_routes,
        );
    };
    (@cases $connect:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::$module::$case(&$connect);
            }
        )*
    };
}

/// Every log line the process writes through `tracing`, as one text, for tests that check
/// what was logged. The first call installs the capturing subscriber.
pub fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        struct Writer;
        impl std::io::Write for Writer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                logs().lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt().with_ansi(false).with_writer(|| Writer).try_init();
        Mutex::new(Vec::new())
    })
}

/// A WebSocket client over a real socket, as `tokio_tungstenite::connect_async` opens it.
pub type WsClient =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message of `ws`, skipping pings and binary ones; fails when the socket
/// ends first.
pub async fn next_text_now(ws: &mut WsClient) -> String {
    use futures::StreamExt;
    loop {
        match ws.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => return text.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("the WebSocket ended: {other:?}"),
        }
    }
}

/// [`next_text_now`], failing (not hanging) after 20 s.
pub async fn next_text(ws: &mut WsClient) -> String {
    let patience = std::time::Duration::from_secs(20);
    tokio::time::timeout(patience, next_text_now(ws)).await.expect("a message within 20 s")
}

/// Seconds since the Unix epoch: a test of a rate limit repeats itself when the limit's
/// window turned while it ran.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs()
}
