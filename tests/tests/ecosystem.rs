//! erlen in the ecosystem: the app as a tower `Service` inside axum and plain hyper,
//! tower-http layers around the app on both backends, and ProxyFix (`trust_proxy`) with
//! forged and trusted headers. TLS is tested in `tests/tls` (the package `erlen-tls-tests`).

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use erlen::prelude::*;
use erlen::{Backend, Server};
use erlen_tests::Http;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 4 }];

#[get("/hello")]
async fn hello(req: &Request) -> String {
    format!("hello from erlen at {}", req.path())
}

#[post("/echo")]
fn echo(body: Bytes) -> String {
    format!("{} bytes", body.len())
}

/// A body worth compressing.
#[get("/big")]
fn big() -> String {
    "erlen compresses this line well. ".repeat(500)
}

/// What the view sees of the request id a layer set before the lifecycle.
#[get("/id")]
fn id(req: &Request) -> String {
    req.header("x-request-id").unwrap_or("none").to_string()
}

/// The client as the app sees it, and an external URL, from code and from a template.
#[get("/place")]
fn place(req: &Request) -> Result<String, HttpError> {
    let from_template = render_template("external.txt", context! {}).into_string()?;
    Ok(format!(
        "{} {} {} {} {}",
        req.remote_addr().map(|a| a.to_string()).unwrap_or_default(),
        req.scheme(),
        req.host(),
        url_for!(place, _external = true),
        from_template.trim(),
    ))
}

#[after_request]
fn tag(mut resp: Response) -> Response {
    resp.headers_mut().insert("x-hook", HeaderValue::from_static("after_request"));
    resp
}

fn app() -> App {
    App::new()
        .register(handlers![hello, echo, big, id, place, tag])
        .template_folder(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/templates"))
}

async fn send(
    client: &reqwest::Client,
    req: reqwest::RequestBuilder,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let _ = client;
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.expect("the body").to_vec())
}

#[tokio::test]
async fn into_service_mounts_erlen_in_an_axum_router() {
    let router = axum::Router::new()
        .route("/axum", axum::routing::get(|| async { "hello from axum" }))
        .nest_service("/app", app().into_service().body_limit(64 * 1024));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let (status, _, body) = send(&client, client.get(format!("{base}/axum"))).await;
    assert_eq!((status, &body[..]), (200, &b"hello from axum"[..]));
    let (status, headers, body) = send(&client, client.get(format!("{base}/app/hello"))).await;
    assert_eq!(status, 200);
    // axum strips the prefix it nests erlen under.
    assert_eq!(String::from_utf8_lossy(&body), "hello from erlen at /hello");
    assert_eq!(headers["x-hook"], "after_request", "the whole lifecycle runs");
    let (status, _, body) =
        send(&client, client.post(format!("{base}/app/echo")).body(vec![1u8; 5000])).await;
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "5000 bytes"));
    let (status, _, _) = send(&client, client.post(format!("{base}/app/echo")).body(vec![1u8; 70_000])).await;
    assert_eq!(status, 413, "the body limit holds inside axum too");
    let (status, _, _) = send(&client, client.get(format!("{base}/app/nowhere"))).await;
    assert_eq!(status, 404);
    server.abort();
}

#[tokio::test]
async fn into_service_is_served_by_plain_hyper() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app().into_service();
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    let client = reqwest::Client::new();
    let (status, _, body) = send(&client, client.get(format!("http://{addr}/hello"))).await;
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "hello from erlen at /hello"));
    let (status, _, body) = send(&client, client.post(format!("http://{addr}/echo")).body("abc")).await;
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "3 bytes"));
    server.abort();
}

#[test]
fn a_build_error_is_returned_by_try_into_service() {
    let twice = App::new().register(handlers![hello]).register(handlers![hello]);
    let err = twice.try_into_service().unwrap_err();
    assert!(err.to_string().contains("registered"), "{err}");
}

/// Request ids from a counter.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        HeaderValue::from_str(&format!("req-{n}")).ok().map(RequestId::new)
    }
}

static TRACED: AtomicUsize = AtomicUsize::new(0);

fn layered() -> App {
    app()
        .layer(TraceLayer::new_for_http().on_response(
            |_: &http::Response<_>, _: Duration, _: &tracing::Span| {
                TRACED.fetch_add(1, Ordering::SeqCst);
            },
        ))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(Counter::default()))
        .layer(CorsLayer::permissive())
}

#[test]
fn tower_http_layers_wrap_the_app_on_both_backends() {
    for backend in BACKENDS {
        let traced = TRACED.load(Ordering::SeqCst);
        let http =
            Http::start_with(Server::bind("127.0.0.1:0").backend(backend).body_limit(64 * 1024), layered());
        let c = &http.client;
        erlen::block_on(async {
            // CORS: a preflight is answered by the layer, an actual request carries the header.
            let (status, headers, _) = send(
                c,
                c.request(Method::OPTIONS, http.url("/hello"))
                    .header("origin", "https://example.com")
                    .header("access-control-request-method", "GET"),
            )
            .await;
            assert_eq!(status, 200, "{backend:?}");
            assert_eq!(headers["access-control-allow-origin"], "*", "{backend:?}");
            let (_, headers, body) =
                send(c, c.get(http.url("/hello")).header("origin", "https://example.com")).await;
            assert_eq!(headers["access-control-allow-origin"], "*");
            assert_eq!(String::from_utf8_lossy(&body), "hello from erlen at /hello");

            // Compression: gzip that decompresses to the original, hooks' headers kept.
            let (status, headers, body) =
                send(c, c.get(http.url("/big")).header(ACCEPT_ENCODING, "gzip")).await;
            assert_eq!(status, 200);
            assert_eq!(headers[CONTENT_ENCODING], "gzip", "{backend:?}");
            assert_eq!(headers["x-hook"], "after_request", "the layer wraps the after_request hooks");
            let original = "erlen compresses this line well. ".repeat(500);
            assert!(body.len() < original.len() / 10, "compressed: {} bytes", body.len());
            let mut unzipped = String::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut unzipped).unwrap();
            assert_eq!(unzipped, original);
            let (_, headers, body) = send(c, c.get(http.url("/big"))).await;
            assert!(headers.get(CONTENT_ENCODING).is_none());
            assert_eq!(body.len(), original.len());

            // Request ids: set before the lifecycle (the view sees it), sent back.
            let (_, headers, body) = send(c, c.get(http.url("/id"))).await;
            let seen = String::from_utf8_lossy(&body).into_owned();
            assert!(seen.starts_with("req-"), "{seen}");
            assert_eq!(headers["x-request-id"], seen.as_str());
            let (_, headers, body) = send(c, c.get(http.url("/id")).header("x-request-id", "mine")).await;
            assert_eq!(
                (&body[..], &headers["x-request-id"]),
                (&b"mine"[..], &HeaderValue::from_static("mine"))
            );

            // The body is read after the layers, within the limit; errors pass through them.
            let (status, _, body) = send(c, c.post(http.url("/echo")).body(vec![7u8; 60_000])).await;
            assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "60000 bytes"));
            let (status, _, _) = send(c, c.post(http.url("/echo")).body(vec![7u8; 70_000])).await;
            assert_eq!(status, 413);
            let (status, headers, _) = send(c, c.get(http.url("/missing"))).await;
            assert_eq!(status, 404);
            assert!(headers.contains_key("x-request-id"));
        });
        assert!(TRACED.load(Ordering::SeqCst) >= traced + 8, "TraceLayer saw every response");
    }
}

/// Forged proxy headers: `X-Forwarded-*` and `Forwarded`.
const FORGED: [(&str, &str); 4] = [
    ("x-forwarded-for", "203.0.113.9"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "evil.example"),
    ("forwarded", "for=198.51.100.1;proto=https;host=evil.example"),
];

fn where_from(http: &Http, headers: &[(&str, &str)]) -> String {
    let mut req = http.client.get(http.url("/place")).header("host", "app.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    erlen::block_on(async { req.send().await.unwrap().text().await.unwrap() })
}

#[test]
fn proxy_headers_are_ignored_unless_the_proxy_is_trusted() {
    for backend in BACKENDS {
        let http = Http::start(app(), backend);
        let seen = where_from(&http, &FORGED);
        let fields: Vec<&str> = seen.split(' ').collect();
        assert!(fields[0].starts_with("127.0.0.1:"), "{backend:?}: {seen}");
        assert_eq!(
            fields[1..],
            ["http", "app.test", "http://app.test/place", "http://app.test/place"],
            "{backend:?}"
        );

        // One trusted proxy: the last value it appended counts, not the client's.
        let http = Http::start_with(Server::bind("127.0.0.1:0").backend(backend).trust_proxy(1), app());
        let seen = where_from(
            &http,
            &[
                ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "shop.example"),
            ],
        );
        assert_eq!(
            seen, "203.0.113.9:0 https shop.example https://shop.example/place https://shop.example/place",
            "{backend:?}"
        );
        // RFC 7239's Forwarded, when no X-Forwarded-* header is there.
        let seen =
            where_from(&http, &[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https;host=shop.example")]);
        assert!(seen.starts_with("[2001:db8::7]:4711 https shop.example "), "{seen}");
        // Fewer values than trusted hops: ignored.
        let two = Http::start_with(Server::bind("127.0.0.1:0").backend(backend).trust_proxy(2), app());
        let seen = where_from(&two, &[("x-forwarded-for", "203.0.113.9")]);
        assert!(seen.starts_with("127.0.0.1:"), "{seen}");
    }
}
