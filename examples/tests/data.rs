//! The `data` example: an async and a sync route in one app.

use std::time::{Duration, Instant};

use erlen::Backend;
use erlen_examples::data;

#[test]
fn async_and_sync_routes_answer_in_one_app() {
    let client = data::app().test_client();
    let start = Instant::now();
    let resp = client.get("/data").send();
    assert_eq!((resp.status().as_u16(), resp.text()), (200, "Done!".to_string()));
    assert!(start.elapsed() >= Duration::from_secs(1), "the route awaits its one-second task");
    assert_eq!(client.get("/sync_data").send().text(), "Done, without waiting!");
}

#[test]
fn ten_requests_to_data_wait_together_over_http() {
    let server = erlen::Server::bind("127.0.0.1:0").backend(Backend::Async).spawn(data::app()).unwrap();
    let url = format!("http://{}/data", server.addr());
    let client = reqwest::Client::new();
    let start = Instant::now();
    let bodies = erlen::block_on(futures::future::join_all(
        (0..10).map(|_| async { client.get(&url).send().await.unwrap().text().await.unwrap() }),
    ));
    assert!(bodies.iter().all(|b| b == "Done!"));
    // Ten one-second waits on one runtime: about one second, not ten.
    assert!(start.elapsed() < Duration::from_secs(4), "took {:?}", start.elapsed());
}
