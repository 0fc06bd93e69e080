//! The channels suite: every behaviour of `Channels`, run against each way an app keeps
//! them (`tests/tests/channels.rs` in-process, `tests/many` through Redis), in-process and
//! over sockets on both backends, from sync and async handlers.

use std::error::Error;
use std::time::{Duration, Instant};

use erlen::prelude::*;
use erlen::{Lagged, Message};
use futures::StreamExt;

/// How long a message may take to arrive before a case fails (not hangs). Generous: the
/// machines these tests run on are shared and slow.
pub const PATIENCE: Duration = Duration::from_secs(20);

type Failure = Box<dyn Error + Send + Sync>;

fn room(name: &str) -> String {
    format!("room:{name}")
}

#[post("/say/<name>")]
async fn say(name: String, channels: Channels, text: String) -> Result<&'static str, HttpError> {
    channels.publish(&room(&name), text).await?;
    Ok("sent")
}

#[post("/sync/say/<name>")]
fn sync_say(name: String, channels: Channels, text: String) -> Result<&'static str, HttpError> {
    channels.publish_blocking(&room(&name), text)?;
    Ok("sent")
}

fn shown(message: Result<Bytes, Lagged>) -> String {
    match message {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(Lagged(missed)) => format!("lagged {missed}"),
    }
}

/// An async member: "ready" once subscribed, then every message of the room, until it
/// leaves.
#[websocket("/listen/<name>")]
async fn listen(mut ws: WebSocket, name: String, channels: Channels) -> Result<(), Failure> {
    let mut heard = channels.subscribe(&room(&name)).await?;
    ws.send_text("ready").await?;
    loop {
        tokio::select! {
            said = ws.recv() => if said.is_none() { return Ok(()) },
            message = heard.next() => match message {
                Some(message) => ws.send_text(shown(message)).await?,
                None => return Ok(()),
            },
        }
    }
}

/// A plain-`fn` member on a blocking subscription: "ready", then `count` messages.
#[websocket("/sync/listen/<name>/<int:count>")]
fn sync_listen(
    mut ws: BlockingWebSocket,
    name: String,
    count: usize,
    channels: Channels,
) -> Result<(), Failure> {
    let heard = channels.subscribe_blocking(&room(&name))?;
    ws.send_text("ready")?;
    for message in heard.take(count) {
        ws.send_text(shown(message))?;
    }
    Ok(())
}

/// The room as Server-Sent Events: a `ready` event once subscribed, then the messages.
#[get("/events/<name>")]
async fn events(name: String, channels: Channels) -> Result<Sse, HttpError> {
    let heard = channels.subscribe(&room(&name)).await?;
    let ready = futures::stream::once(async { Event::default().event("ready").data("") });
    Ok(Sse::new(ready.chain(heard.map(|message| Event::default().data(shown(message))))))
}

/// The suite's app, configured by `configure` (which chooses where channels go).
pub fn app_with(configure: &dyn Fn(App) -> App) -> App {
    configure(App::new()).register(handlers![say, sync_say, listen, sync_listen, events])
}

/// What a listener of the suite's app heard, over a real socket.
enum Listener {
    Socket(crate::WsClient),
    Events(reqwest::Response, String),
}

impl Listener {
    async fn socket(base: &str, path: &str) -> Listener {
        let url = format!("{}{path}", base.replacen("http", "ws", 1));
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("the WebSocket opens");
        let mut listener = Listener::Socket(ws);
        assert_eq!(listener.next().await, "ready", "{path}");
        listener
    }

    async fn events(client: &reqwest::Client, base: &str, path: &str) -> Listener {
        let resp = client.get(format!("{base}{path}")).send().await.expect("the event stream opens");
        assert_eq!(resp.status(), 200, "{path}");
        let mut listener = Listener::Events(resp, String::new());
        assert_eq!(listener.next().await, "", "{path}: the ready event");
        listener
    }

    /// The next message (an event's data), failing after [`PATIENCE`].
    async fn next(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.next_now()).await.expect("a message within the patience")
    }

    async fn next_now(&mut self) -> String {
        match self {
            Listener::Socket(ws) => crate::next_text_now(ws).await,
            Listener::Events(body, seen) => loop {
                if let Some(end) = seen.find("\n\n") {
                    let event: String = seen.drain(..end + 2).collect();
                    let data: Vec<&str> = event.lines().filter_map(|l| l.strip_prefix("data:")).collect();
                    if event.lines().all(|l| l.starts_with(':')) {
                        continue; // a keep-alive comment
                    }
                    return data.iter().map(|d| d.trim_start()).collect::<Vec<_>>().join("\n");
                }
                let chunk = body.chunk().await.expect("the stream reads").expect("the event stream goes on");
                seen.push_str(&String::from_utf8_lossy(&chunk));
            },
        }
    }

    async fn leave(self) {
        if let Listener::Socket(mut ws) = self {
            let _ = ws.close(None).await;
        }
    }
}

/// Messages published by sync and async views (and from outside any request) reach
/// every kind of subscriber, async and blocking WebSockets and event streams, in the
/// order they were published, over sockets on both backends.
pub fn messages_arrive_in_publish_order_on_both_backends(configure: &dyn Fn(App) -> App) {
    const COUNT: usize = 30;
    for backend in [Backend::Async, Backend::Threaded { workers: 4 }] {
        let app = app_with(configure);
        let channels = app.channels();
        let server = crate::Http::start(app, backend);
        erlen::block_on(async {
            let base = server.base.clone();
            let mut listeners = vec![
                Listener::socket(&base, "/listen/lobby").await,
                Listener::socket(&base, &format!("/sync/listen/lobby/{COUNT}")).await,
                Listener::events(&server.client, &base, "/events/lobby").await,
            ];
            for n in 0..COUNT {
                let text = format!("message {n}");
                match n % 3 {
                    0 => {
                        let resp = server.client.post(format!("{base}/say/lobby")).body(text).send().await;
                        assert_eq!(resp.expect("the server answers").status(), 200);
                    }
                    1 => {
                        let resp =
                            server.client.post(format!("{base}/sync/say/lobby")).body(text).send().await;
                        assert_eq!(resp.expect("the server answers").status(), 200);
                    }
                    _ => channels.publish("room:lobby", text).await.expect("a publish outside requests"),
                }
            }
            for (which, listener) in listeners.iter_mut().enumerate() {
                for n in 0..COUNT {
                    assert_eq!(
                        listener.next().await,
                        format!("message {n}"),
                        "{backend:?}, listener {which}"
                    );
                }
            }
            for listener in listeners {
                listener.leave().await;
            }
        });
        server.server.shutdown();
    }
}

/// The test client's sockets and streams subscribe as a browser's do; other rooms hear
/// nothing.
pub fn the_test_client_subscribes_in_process(configure: &dyn Fn(App) -> App) {
    let client = app_with(configure).test_client();
    let mut lobby = client.websocket("/listen/lobby").connect().expect("the WebSocket opens");
    let mut kitchen = client.websocket("/listen/kitchen").connect().expect("the WebSocket opens");
    assert_eq!(lobby.receive(), Some(Message::text("ready")));
    assert_eq!(kitchen.receive(), Some(Message::text("ready")));
    let mut stream = client.get("/events/lobby").send().into_stream();
    assert_eq!(stream.next_blocking().as_deref(), Some(&b"event: ready\ndata: \n\n"[..]));
    assert_eq!(client.post("/sync/say/lobby").body("one").send().text(), "sent");
    assert_eq!(client.post("/say/kitchen").body("two").send().text(), "sent");
    assert_eq!(lobby.receive(), Some(Message::text("one")));
    assert_eq!(kitchen.receive(), Some(Message::text("two")));
    assert_eq!(stream.next_blocking().as_deref(), Some(&b"data: one\n\n"[..]));
}

/// A subscriber that reads nothing while thousands of messages go by never holds the
/// publisher up; it is told how many it missed, then goes on in order, async or
/// blocking.
pub fn a_slow_subscriber_is_told_it_lagged(configure: &dyn Fn(App) -> App) {
    const SENT: u64 = 3_000;
    let app = app_with(configure);
    let channels = app.channels();
    let _built = app.test_client(); // builds the app, with its Redis if it has one
    let mut slow = erlen::block_on(channels.subscribe("news")).expect("a subscription");
    let mut blocking = channels.subscribe_blocking("news").expect("a subscription");
    let started = Instant::now();
    for n in 0..SENT {
        channels.publish_blocking("news", n.to_string()).expect("the publish is taken");
    }
    assert!(
        started.elapsed() < PATIENCE,
        "publishing took {:?}: a slow subscriber held it up",
        started.elapsed()
    );

    let heard = |next: &mut dyn FnMut() -> Option<Result<Bytes, Lagged>>, which: &str| {
        let (mut missed, mut received, mut last) = (0, 0, None::<u64>);
        while last != Some(SENT - 1) {
            match next().unwrap_or_else(|| panic!("{which}: the subscription ended")) {
                Err(Lagged(n)) => missed += n,
                Ok(message) => {
                    let n: u64 = String::from_utf8_lossy(&message).parse().expect("a number");
                    if let Some(before) = last {
                        assert!(n > before, "{which}: {n} came after {before}");
                    }
                    received += 1;
                    last = Some(n);
                }
            }
        }
        assert!(missed > 0, "{which}: a subscriber {SENT} messages behind was not told it lagged");
        assert_eq!(missed + received, SENT, "{which}: every message is either received or counted as missed");
    };
    let mut next_async =
        || erlen::block_on(async { tokio::time::timeout(PATIENCE, slow.next()).await }).expect("in time");
    heard(&mut next_async, "async");
    heard(&mut || blocking.next(), "blocking");
}
