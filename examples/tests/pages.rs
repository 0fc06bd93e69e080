//! The `pages` example over a real socket on both backends: templates, links, static
//! files, a blueprint and a streamed page.

use std::time::{Duration, Instant};

use erlen::{Backend, Server};

fn get(client: &reqwest::Client, url: String) -> (u16, String, Option<String>) {
    erlen::block_on(async {
        let resp = client.get(url).send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, resp.text().await.expect("a body"), location)
    })
}

#[test]
fn the_site_renders_links_and_streams_on_both_backends() {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let server =
            Server::bind("127.0.0.1:0").backend(backend).spawn(erlen_examples::pages::app()).unwrap();
        let base = format!("http://{}", server.addr());

        let (status, home, _) = get(&client, format!("{base}/"));
        assert_eq!(status, 200, "{backend:?}");
        for expected in [
            "<h1>Hello, Flask Developer!</h1>",
            r#"<link rel="stylesheet" href="/static/style.css">"#,
            r#"<a href="/notes/">Notes</a>"#,
            r#"<a href="/countdown/5">"#,
            r#"<a href="/notes/first%20steps">first note</a>"#,
            "Served by erlen 2026 · GET /",
        ] {
            assert!(home.contains(expected), "{backend:?}: {expected:?} missing from {home}");
        }

        let (status, note, _) = get(&client, format!("{base}/notes/first%20steps"));
        assert_eq!(status, 200, "{backend:?}");
        assert!(note.contains("<h1>First steps</h1>") && note.contains("<p>Mark plain functions"), "{note}");
        assert_eq!(get(&client, format!("{base}/notes/nope")).0, 404);
        assert_eq!(get(&client, format!("{base}/notes/all")).2.as_deref(), Some("/notes/"));
        let (status, css, _) = get(&client, format!("{base}/static/style.css"));
        assert!(status == 200 && css.contains("font-family"), "{backend:?}");

        let start = Instant::now();
        let (status, countdown, _) = get(&client, format!("{base}/countdown/2"));
        assert_eq!((status, countdown.as_str()), (200, "2...\n1...\nliftoff\n"), "{backend:?}");
        assert!(start.elapsed() >= Duration::from_millis(1900), "the countdown sleeps between lines");
    }
}
