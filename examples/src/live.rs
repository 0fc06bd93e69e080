//! Live and large (`cargo run --example live`): one page with an upload and its progress
//! bar (a multipart form, spooled to disk past 500 KiB), a live log over Server-Sent
//! Events that resumes where the browser left off, and a chat over a WebSocket. What
//! Flask needs flask-sock, Flask-SSE and Werkzeug's `request.files` for.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use erlen::prelude::*;
use erlen::{Message, WebSocketError};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// How many log lines a browser that reconnects can catch up on.
const BACKLOG: usize = 100;

/// The app's state: the log, the chat room and where uploads go.
#[derive(Clone)]
pub struct Live {
    log: Log,
    room: broadcast::Sender<String>,
    uploads: Arc<PathBuf>,
}

impl Live {
    /// Keeps uploads under `uploads` (created if missing).
    pub fn new(uploads: impl Into<PathBuf>) -> std::io::Result<Live> {
        let uploads = uploads.into();
        std::fs::create_dir_all(&uploads)?;
        Ok(Live { log: Log::default(), room: broadcast::channel(64).0, uploads: Arc::new(uploads) })
    }

    /// The folder uploads are kept in.
    pub fn uploads(&self) -> &Path {
        &self.uploads
    }

    /// Says something in the log.
    pub fn log(&self, line: impl Into<String>) -> u64 {
        self.log.push(line.into())
    }
}

/// Numbered log lines: the last ones kept for browsers that come back, and a channel for
/// the ones listening.
#[derive(Clone)]
struct Log(Arc<Mutex<Lines>>);

struct Lines {
    next: u64,
    recent: VecDeque<(u64, String)>,
    tx: broadcast::Sender<(u64, String)>,
}

impl Default for Log {
    fn default() -> Log {
        Log(Arc::new(Mutex::new(Lines { next: 1, recent: VecDeque::new(), tx: broadcast::channel(256).0 })))
    }
}

impl Log {
    fn push(&self, line: String) -> u64 {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let id = lines.next;
        lines.next += 1;
        if lines.recent.len() == BACKLOG {
            lines.recent.pop_front();
        }
        lines.recent.push_back((id, line.clone()));
        let _ = lines.tx.send((id, line));
        id
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
        live.log(format!("uploaded {name} ({size} bytes)"));
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
async fn chat(
    mut ws: WebSocket,
    Query(who): Query<Who>,
    State(live): State<Live>,
) -> Result<(), WebSocketError> {
    let name = who.name;
    let mut heard = live.room.subscribe();
    live.log(format!("{name} joined the chat"));
    let result = async {
        loop {
            tokio::select! {
                said = ws.recv() => match said {
                    Some(Message::Text(text)) => {
                        let _ = live.room.send(format!("{name}: {text}"));
                    }
                    Some(_) => {}
                    None => return Ok(()),
                },
                line = heard.recv() => match line {
                    Ok(line) => ws.send_text(line).await?,
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
    .await;
    live.log(format!("{name} left the chat"));
    result
}

/// Where the example keeps its templates and script.
pub fn site_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("live")
}

/// The app, keeping uploads under `uploads`.
pub fn app(uploads: impl Into<PathBuf>) -> std::io::Result<App> {
    let live = Live::new(uploads)?;
    live.log("the server started");
    Ok(App::new()
        .state(live)
        .template_folder(site_dir().join("templates"))
        .static_folder(site_dir().join("static"))
        .register(handlers![index, upload, file, events, chat]))
}
