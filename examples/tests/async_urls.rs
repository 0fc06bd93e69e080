//! The `async_urls` example, tested the article's way: the route through the test client,
//! and the fetch helper itself in an async test (the article's pytest-asyncio test).

use std::time::{Duration, Instant};

use erlen::Backend;
use erlen_examples::async_urls::{self, Site, fetch_url};
use erlen_examples::upstream::{Upstream, spread};

#[test]
fn test_async_get_urls_v2() {
    let upstream = Upstream::start().unwrap();
    let client = async_urls::app(upstream.urls(&[50, 100, 150])).test_client();
    let response = client.get("/async_get_urls_v2").send();
    assert_eq!(response.status(), 200);
    assert!(response.text().contains("URLs"));
}

#[tokio::test]
async fn test_fetch_url() {
    let upstream = Upstream::start().unwrap();
    let url = upstream.url(10);
    let result = fetch_url(&reqwest::Client::new(), &url, Duration::from_secs(5)).await;
    assert_eq!(result, Site { url: url.clone(), status: Ok(200) });
}

#[test]
fn every_route_lists_every_url_with_its_status() {
    let upstream = Upstream::start().unwrap();
    let urls = upstream.urls(&[20, 40, 60, 80]);
    let client = async_urls::app(urls.clone()).test_client();
    for path in ["/async_get_urls_v2", "/async_get_urls_v1", "/sync_get_urls"] {
        let page = client.get(path).send().text();
        assert!(page.starts_with("<h1>URLs:</h1>"), "{path}: {page}");
        for url in &urls {
            assert!(page.contains(&format!("<p>URL: {url} --- Status Code: 200</p>")), "{path}: {page}");
        }
    }
}

#[test]
fn the_concurrent_routes_wait_for_the_slowest_call_only() {
    let upstream = Upstream::start().unwrap();
    let client = async_urls::app(upstream.urls(&[300; 5])).test_client();
    for path in ["/async_get_urls_v2", "/async_get_urls_v1"] {
        let start = Instant::now();
        assert_eq!(client.get(path).send().status(), 200);
        // Five 300 ms calls: 1.5 s in sequence, about 0.3 s at once.
        assert!(start.elapsed() < Duration::from_millis(1000), "{path} took {:?}", start.elapsed());
    }
    let start = Instant::now();
    client.get("/sync_get_urls").send();
    assert!(start.elapsed() >= Duration::from_millis(1500), "the baseline is sequential");
}

#[test]
fn failing_and_slow_upstreams_are_error_lines_not_500s() {
    let upstream = Upstream::start().unwrap();
    // A port nobody listens on: bind one, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let urls = vec![upstream.url(10), format!("http://{closed}/gone"), upstream.url(2_000)];
    let timeout = Duration::from_millis(300);
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let server = erlen::Server::bind("127.0.0.1:0")
            .backend(backend)
            .spawn(async_urls::app_with_timeout(urls.clone(), timeout))
            .unwrap();
        for path in ["/async_get_urls_v2", "/async_get_urls_v1", "/sync_get_urls"] {
            let start = Instant::now();
            let resp = erlen::block_on(reqwest::get(format!("http://{}{path}", server.addr()))).unwrap();
            assert_eq!(resp.status(), 200, "{backend:?} {path}");
            let page = erlen::block_on(resp.text()).unwrap();
            assert!(page.contains(&format!("<p>URL: {} --- Status Code: 200</p>", urls[0])), "{page}");
            assert!(page.contains(&format!("<p>URL: {} --- Error: ", urls[1])), "{page}");
            assert!(
                page.contains(&format!("<p>URL: {} --- Error: no answer within 300 ms</p>", urls[2])),
                "{page}"
            );
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{backend:?} {path} took {:?}",
                start.elapsed()
            );
        }
    }
}

#[test]
fn the_default_spread_is_the_articles_range() {
    let latencies = spread(10);
    assert_eq!((latencies[0], latencies[9]), (200, 1500));
}
