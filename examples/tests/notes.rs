//! The notes app: every request sees the notes the others wrote (one shared value), an
//! empty title is flashed, the notes come back as JSON, and an unknown page is the app's
//! own 404; in-process, and over a socket on the threaded backend, where requests run on
//! several threads at once.

use std::collections::BTreeMap;

use erlen::prelude::*;
use erlen_examples::notes::{self, Note};

#[test]
fn notes_written_by_one_request_are_read_by_the_next() {
    let client = notes::app().test_client();
    for (title, body) in [("milk", "2 l"), ("eggs", "")] {
        let created =
            client.post("/notes").form(&[("title", title), ("body", body)]).follow_redirects().send();
        assert_eq!(created.status(), 200);
    }
    let page = client.get("/").send().text();
    assert!(page.contains(r#"<li id="note-1">milk: 2 l</li>"#), "{page}");
    assert!(page.contains(r#"<li id="note-2">eggs: </li>"#), "{page}");
    let listed: BTreeMap<u32, Note> = client.get("/notes.json").send().json();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[&1].title, "milk");
}

#[test]
fn an_empty_title_is_flashed_and_nothing_is_created() {
    let client = notes::app().test_client();
    let page = client.post("/notes").form(&[("title", " ")]).follow_redirects().send().text();
    assert!(page.contains(r#"<p class="flash">A note needs a title.</p>"#), "{page}");
    assert!(client.get("/notes.json").send().json::<BTreeMap<u32, Note>>().is_empty());
}

#[test]
fn an_unknown_page_is_the_apps_own_404() {
    let resp = notes::app().test_client().get("/nowhere").send();
    assert_eq!(resp.status(), 404);
    assert!(resp.text().contains("Nothing at /nowhere."), "{}", resp.text());
}

#[test]
fn concurrent_writers_on_the_threaded_backend_lose_nothing() {
    let server =
        Server::bind("127.0.0.1:0").backend(Backend::Threaded { workers: 8 }).spawn(notes::app()).unwrap();
    let base = format!("http://{}", server.addr());
    erlen::block_on(async {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let posts = (0..40).map(|i| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let form = format!("title=note+{i}&body=x");
                let sent = client
                    .post(format!("{base}/notes"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form);
                assert_eq!(sent.send().await.unwrap().status(), 302);
            }
        });
        futures::future::join_all(posts).await;
        let listed: BTreeMap<u32, Note> =
            client.get(format!("{base}/notes.json")).send().await.unwrap().json().await.unwrap();
        assert_eq!(listed.len(), 40, "every write kept");
    });
}
