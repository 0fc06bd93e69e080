//! TLS (`Server::tls`, erlen's `tls` feature) over real sockets on both backends: HTTP/2
//! and HTTP/1.1 chosen by ALPN, with a self-signed certificate made for the test, a
//! clear error for PEM that is not a certificate and a key, and CSRF protection's
//! referrer rule, which applies over HTTPS only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use erlen::prelude::*;
use erlen::{Backend, Server};

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 4 }];

#[get("/hello")]
async fn hello(req: &Request) -> String {
    format!("hello from erlen at {}", req.path())
}

/// The client as the app sees it, and an external URL.
#[get("/place")]
fn place(req: &Request) -> String {
    format!(
        "{} {} {} {}",
        req.remote_addr().map(|a| a.to_string()).unwrap_or_default(),
        req.scheme(),
        req.host(),
        url_for!(place, _external = true),
    )
}

fn app() -> App {
    App::new().register(handlers![hello, place])
}

/// A client TLS connection that trusts `cert` and offers `alpn`.
async fn tls_connect(
    addr: SocketAddr,
    cert: &rcgen::Certificate,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.expect("the TLS handshake succeeds")
}

#[test]
fn tls_serves_http2_and_http1_by_alpn_on_both_backends() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (certified.cert.pem(), certified.signing_key.serialize_pem());
    for backend in BACKENDS {
        let server = Server::bind("127.0.0.1:0")
            .backend(backend)
            .tls(cert_pem.clone(), key_pem.clone())
            .spawn(app())
            .expect("the TLS server starts");
        let addr = server.addr();
        erlen::block_on(async {
            tokio::time::timeout(Duration::from_secs(20), async {
                // HTTP/2, chosen by ALPN.
                let tls = tls_connect(addr, &certified.cert, b"h2").await;
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                let (mut h2, conn) = h2::client::handshake(tls).await.unwrap();
                let driver = tokio::spawn(conn);
                let req = http::Request::get("https://localhost/place").body(()).unwrap();
                let (resp, _) = h2.send_request(req, true).unwrap();
                let resp = resp.await.unwrap();
                assert_eq!(resp.status(), 200);
                let mut body = resp.into_body();
                let mut text = Vec::new();
                while let Some(chunk) = body.data().await {
                    text.extend_from_slice(&chunk.unwrap());
                }
                let text = String::from_utf8_lossy(&text);
                assert!(text.contains(" https localhost https://localhost/place"), "{backend:?}: {text}");
                drop(h2);
                driver.abort();

                // HTTP/1.1, chosen by ALPN.
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut tls = tls_connect(addr, &certified.cert, b"http/1.1").await;
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
                tls.write_all(b"GET /hello HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let mut reply = Vec::new();
                tls.read_to_end(&mut reply).await.unwrap();
                let reply = String::from_utf8_lossy(&reply);
                assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
                assert!(reply.ends_with("hello from erlen at /hello"), "{reply}");
            })
            .await
        })
        .expect("the TLS exchange finishes in time");
        server.shutdown();
    }
}

#[test]
fn tls_with_bad_pem_says_what_to_pass() {
    let err = Server::bind("127.0.0.1:0").tls("not a certificate", "nor a key").spawn(app()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("Server::tls"), "{err}");
    assert!(err.to_string().contains("BEGIN CERTIFICATE"), "{err}");
}

#[get("/token")]
fn token() -> Result<String, HttpError> {
    erlen::csrf::csrf_token()
}

#[post("/save")]
fn save() -> &'static str {
    "saved"
}

/// One HTTP/1.1 exchange over a new TLS connection: the whole reply.
async fn exchange(addr: SocketAddr, cert: &rcgen::Certificate, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = tls_connect(addr, cert, b"http/1.1").await;
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    tls.read_to_end(&mut reply).await.unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

/// Over HTTPS a token is not enough, as with Flask-WTF's `WTF_CSRF_SSL_STRICT`: the
/// `Referer` must be of the app's own origin.
#[test]
fn over_https_a_csrf_checked_request_needs_a_same_origin_referrer() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (certified.cert.pem(), certified.signing_key.serialize_pem());
    let app = App::new().secret_key("tls secret").csrf_protect().register(handlers![token, save]);
    let server =
        Server::bind("127.0.0.1:0").tls(cert_pem, key_pem).spawn(app).expect("the TLS server starts");
    let addr = server.addr();
    let host = format!("localhost:{}", addr.port());
    erlen::block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            let reply =
                exchange(addr, &certified.cert, format!("GET /token HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"))
                    .await;
            let cookie = reply
                .lines()
                .find_map(|l| l.strip_prefix("set-cookie: "))
                .and_then(|c| c.split(';').next())
                .expect("the session cookie")
                .to_string();
            let token = reply.rsplit("\r\n\r\n").next().unwrap().to_string();
            let post = |referer: Option<String>| {
                let referer = referer.map(|r| format!("referer: {r}\r\n")).unwrap_or_default();
                let request = format!(
                    "POST /save HTTP/1.1\r\nhost: {host}\r\ncookie: {cookie}\r\nx-csrftoken: {token}\r\n{referer}content-length: 0\r\nconnection: close\r\n\r\n"
                );
                exchange(addr, &certified.cert, request)
            };
            let missing = post(None).await;
            assert!(missing.starts_with("HTTP/1.1 400"), "{missing}");
            assert!(missing.contains("The referrer header is missing."), "{missing}");
            for foreign in ["https://evil.example/".to_string(), format!("http://{host}/form"), "https://localhost/".to_string()] {
                let refused = post(Some(foreign.clone())).await;
                assert!(refused.contains("The referrer does not match the host."), "{foreign}: {refused}");
            }
            let ok = post(Some(format!("https://{host}/form"))).await;
            assert!(ok.starts_with("HTTP/1.1 200") && ok.ends_with("saved"), "{ok}");
        })
        .await
    })
    .expect("the exchanges finish in time");
    server.shutdown();
}
