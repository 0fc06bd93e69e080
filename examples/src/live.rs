//! Live and large (`cargo run --example live`): one page with an upload and its progress
//! bar (a multipart form, spooled to disk past 500 KiB), a live log over Server-Sent
//! Events that resumes where the browser left off, and a chat over a WebSocket. What
//! Flask needs flask-sock, Flask-SSE and Werkzeug's `request.files` for.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use erlen::prelude::*;
use erlen::{Lagged, Message, Subscription};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// How many log lines a browser that reconnects can catch up on.
const BACKLOG: usize = 100;
/// The channel the log's lines go on, to every instance.
const LOG: &str = "live:log";
/// The channel the chat speaks on.
const ROOM: &str = "live:chat";

/// The app's state: the log, the channels and where uploads go.
#[derive(Clone)]
pub struct Live {
    log: Log,
    channels: Channels,
    uploads: Arc<PathBuf>,
}

impl Live {
    /// Keeps uploads under `uploads` (created if missing), and the log's last lines as
    /// they come on `channels`.
    pub fn new(uploads: impl Into<PathBuf>, channels: Channels) -> std::io::Result<Live> {
        let uploads = uploads.into();
        std::fs::create_dir_all(&uploads)?;
        let log = Log::default();
        // Subscribed before the app is built: the subscription is in this process until
        // then, and through Redis (when the app has one) from the moment it is built.
        let lines = erlen::block_on(channels.subscribe(LOG)).map_err(std::io::Error::other)?;
        erlen::runtime::handle().spawn(log.clone().keep(lines));
        Ok(Live { log, channels, uploads: Arc::new(uploads) })
    }

    /// The folder uploads are kept in.
    pub fn uploads(&self) -> &Path {
        &self.uploads
    }

    /// Says something in the log of every instance. A line that cannot be published
    /// (Redis is down) is left out: the store logs the outage, and nothing else fails.
    pub async fn log(&self, line: impl Into<String>) {
        let _ = self.channels.publish(LOG, stamped(line.into())).await;
    }

    /// [`Live::log`] for a plain `fn`.
    pub fn log_blocking(&self, line: impl Into<String>) {
        let _ = self.channels.publish_blocking(LOG, stamped(line.into()));
    }
}

/// A log line with its id: the time in microseconds, one more than the last one this
/// process gave when the clock has not moved on.
fn stamped(line: String) -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    let mut id = now;
    let _ = LAST.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
        id = now.max(last + 1);
        Some(id)
    });
    format!("{id} {line}")
}

/// The log's last lines, kept for browsers that come back, and a channel for the ones
/// listening, in this process.
#[derive(Clone)]
struct Log(Arc<Mutex<Lines>>);

struct Lines {
    recent: VecDeque<(u64, String)>,
    tx: broadcast::Sender<(u64, String)>,
}

impl Default for Log {
    fn default() -> Log {
        Log(Arc::new(Mutex::new(Lines { recent: VecDeque::new(), tx: broadcast::channel(256).0 })))
    }
}

impl Log {
    /// Keeps the lines published on the log's channel, from this instance or another,
    /// until the app's channels are gone.
    async fn keep(self, mut lines: Subscription) {
        while let Some(line) = lines.next().await {
            // Lines missed by falling behind are missed by the backlog too.
            let Ok(line) = line else { continue };
            let line = String::from_utf8_lossy(&line);
            if let Some((id, text)) = line.split_once(' ').and_then(|(id, t)| Some((id.parse().ok()?, t))) {
                self.push(id, text.to_string());
            }
        }
    }

    fn push(&self, id: u64, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.recent.len() == BACKLOG {
            lines.recent.pop_front();
        }
        lines.recent.push_back((id, line.clone()));
        let _ = lines.tx.send((id, line));
    }

    /// The lines after `last` (all kept ones without it), then every new one: taken under
    /// one lock, so that none is missed or seen twice.
    fn since(&self, last: Option<u64>) -> impl Stream<Item = (u64, String)> + Send + 'static {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let backlog: Vec<_> =
            lines.recent.iter().filter(|(id, _)| last.is_none_or(|l| *id > l)).cloned().collect();
        let rx = lines.tx.subscribe();
        let live = futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(line) => return Some((line, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        futures::stream::iter(backlog).chain(live)
    }
}

/// An uploaded file, as the page lists it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Stored {
    pub name: String,
    pub size: u64,
}

#[get("/")]
fn index(State(live): State<Live>) -> Result<Template, HttpError> {
    let files = list(live.uploads())?;
    Ok(render_template("index.html", context! { files }))
}

/// The uploads so far, by name.
fn list(dir: &Path) -> std::io::Result<Vec<Stored>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let size = entry.metadata()?.len();
            files.push(Stored { name: entry.file_name().to_string_lossy().into_owned(), size });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Keeps every file of the form, under a safe name; a plain `fn`, as in Flask. The form
/// is parsed before the call: small files in memory, large ones already on disk, so
/// `persist` is a rename.
#[post("/upload", body_limit = "1 GiB")]
fn upload(mut form: Multipart, State(live): State<Live>) -> Result<Json<Vec<Stored>>, HttpError> {
    let mut stored = Vec::new();
    for file in form.take_files() {
        let Some(name) = file.filename().map(secure_filename).filter(|n| !n.is_empty()) else { continue };
        let size = file.len();
        file.persist(live.uploads().join(&name))?;
        live.log_blocking(format!("uploaded {name} ({size} bytes)"));
        stored.push(Stored { name, size });
    }
    if stored.is_empty() {
        return Err(abort(400).with_message("choose a file to upload"));
    }
    Ok(Json(stored))
}

#[get("/files/<path:name>")]
fn file(name: String, State(live): State<Live>) -> SendFile {
    send_from_directory(live.uploads(), &name)
}

/// The log as Server-Sent Events. A browser that reconnects sends the last id it saw,
/// and gets what it missed first.
#[get("/events")]
async fn events(req: &Request, State(live): State<Live>) -> Sse {
    let last = req.last_event_id().and_then(|id| id.parse().ok());
    let events = live.log.since(last).map(|(id, line)| Event::default().id(id.to_string()).data(line));
    Sse::new(events).keep_alive(Duration::from_secs(15))
}

#[derive(Deserialize)]
struct Who {
    name: String,
}

/// A member of the chat: what they say goes to everyone and to the log.
#[websocket("/chat")]
async fn chat(mut ws: WebSocket, Query(who): Query<Who>, State(live): State<Live>) -> Result<(), ChatError> {
    let name = who.name;
    let mut heard = live.channels.subscribe(ROOM).await?;
    live.log(format!("{name} joined the chat")).await;
    let result: Result<(), ChatError> = async {
        loop {
            tokio::select! {
                said = ws.recv() => match said {
                    Some(Message::Text(text)) => live.channels.publish(ROOM, format!("{name}: {text}")).await?,
                    Some(_) => {}
                    None => return Ok(()),
                },
                line = heard.next() => match line {
                    Some(Ok(line)) => ws.send_text(String::from_utf8_lossy(&line)).await?,
                    Some(Err(Lagged(missed))) => ws.send_text(format!("({missed} messages missed)")).await?,
                    None => return Ok(()),
                },
            }
        }
    }
    .await;
    live.log(format!("{name} left the chat")).await;
    result
}

/// What a chat member's handler can fail with: the socket, or the channels (Redis down).
type ChatError = Box<dyn std::error::Error + Send + Sync>;

/// Where the example keeps its templates and script.
pub fn site_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("live")
}

/// The app, keeping uploads under `uploads`.
pub fn app(uploads: impl Into<PathBuf>) -> std::io::Result<App> {
    let app = App::new();
    let live = Live::new(uploads, app.channels())?;
    live.log_blocking("the server started");
    Ok(app
        .state(live)
        .template_folder(site_dir().join("templates"))
        .static_folder(site_dir().join("static"))
        .register(handlers![index, upload, file, events, chat]))
}
