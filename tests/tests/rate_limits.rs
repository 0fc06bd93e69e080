//! Rate limits in the attribute: so many requests per period for each client, a 429 with
//! `Retry-After` past it; each client (its address as `trust_proxy` resolves it) counted
//! apart; in-process and over sockets on both backends, sync and async views.

use erlen::prelude::*;

#[post("/login", rate_limit = "3/minute")]
fn login() -> &'static str {
    "welcome"
}

#[get("/search", rate_limit = "2/hour")]
async fn search() -> &'static str {
    "results"
}

#[get("/free")]
fn free() -> &'static str {
    "free"
}

fn app() -> App {
    App::new().register(handlers![login, search, free])
}

#[test]
fn the_test_client_is_limited_as_a_client() {
    let client = app().test_client();
    for _ in 0..3 {
        assert_eq!(client.post("/login").send().text(), "welcome");
    }
    let refused = client.post("/login").send();
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(client.get("/free").send().status(), 200, "other routes are not counted");
    assert_eq!(client.get("/search").send().status(), 200, "each route has its own count");
}

#[test]
fn each_client_behind_a_trusted_proxy_has_its_own_count() {
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let server = Server::bind("127.0.0.1:0").backend(backend).trust_proxy(1).spawn(app()).unwrap();
        let url = format!("http://{}/search", server.addr());
        let statuses = erlen::block_on(async {
            let client = reqwest::Client::new();
            let mut seen = Vec::new();
            for who in ["192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2"] {
                let resp = client.get(&url).header("x-forwarded-for", who).send().await.unwrap();
                seen.push(resp.status().as_u16());
            }
            seen
        });
        assert_eq!(statuses, [200, 200, 429, 200], "{backend:?}");
    }
}
