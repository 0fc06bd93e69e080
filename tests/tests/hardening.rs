//! Hostile and careless clients over real sockets, on both backends: redirect abuse.

use erlen::prelude::*;
use erlen::{Backend, Server, ServerHandle};
use erlen_tests::raw;

const BACKENDS: [Backend; 2] = [Backend::Async, Backend::Threaded { workers: 4 }];

fn serve(server: Server, app: App) -> ServerHandle {
    server.spawn(app).expect("the test server starts")
}

#[get("/<user>/")]
fn profile(user: String) -> String {
    user
}

#[get("/files/<name>/")]
fn file(name: String) -> String {
    name
}

#[test]
fn the_trailing_slash_redirect_is_never_a_500_nor_an_open_redirect() {
    for backend in BACKENDS {
        let server = serve(
            Server::bind("127.0.0.1:0").backend(backend),
            App::new().register(handlers![profile, file]),
        );
        let redirect = |target: &str| {
            let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
            let resp = raw::exchange(server.addr(), request.as_bytes()).expect("an answer");
            assert_eq!(resp.status(), 308, "{backend:?} {target}: {resp:?}");
            resp.header("location").map(str::to_string)
        };
        // Browsers read `\` as `/`: `/\evil.example/` would be `//evil.example/`.
        assert_eq!(redirect("/%5Cevil.example").as_deref(), Some("/%5Cevil.example/"), "{backend:?}");
        // A CR LF in the decoded path cannot go into a header: this was a 500.
        assert_eq!(redirect("/files/a%0d%0aX:%20y").as_deref(), Some("/files/a%0d%0aX:%20y/"), "{backend:?}");
        assert_eq!(redirect("/files/caf%C3%A9?x=1").as_deref(), Some("/files/caf%C3%A9/?x=1"), "{backend:?}");
        // Following the redirect reaches the route with the decoded value.
        let resp = raw::exchange(server.addr(), b"GET /files/a%0d%0aX:%20y/ HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(resp.map(|r| r.body), Some(b"a\r\nX: y".to_vec()), "{backend:?}");
    }
}
