//! Watching the app's files for the reloader: the crate's sources, `Cargo.toml` and
//! `build.rs`, and the app's templates and static files, with the `notify` crate. Editors'
//! temporary files, hidden files and cargo's target folder are left out; a burst of
//! events (a save writes, renames, touches) arrives as one change.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};

/// What the reloader waits for.
#[derive(Debug)]
pub(crate) enum Event {
    /// A watched file changed.
    Changed(PathBuf),
    /// ctrl-c or SIGTERM.
    Stop,
}

/// The folders and files watched.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    /// Watched with everything under them: `src/`, `examples/`, the template and static
    /// folders.
    pub(crate) trees: Vec<PathBuf>,
    /// The crate's folder, for `Cargo.toml` and `build.rs` only.
    pub(crate) crate_dir: PathBuf,
    /// Cargo's target folder, whose changes are the builds' own.
    pub(crate) target_dir: PathBuf,
    /// Folders whose files the app reads as they change (templates, static files): a
    /// change there needs no rebuild.
    pub(crate) read_live: Vec<PathBuf>,
}

impl Watched {
    /// Whether a change at `path` concerns the app.
    fn concerns(&self, path: &Path) -> bool {
        if path.starts_with(&self.target_dir) {
            return false;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
        let scratch = name.starts_with('.')
            || name.ends_with('~')
            || name == "4913"
            || [".swp", ".swx", ".tmp", ".bak"].iter().any(|s| name.ends_with(s));
        if scratch {
            return false;
        }
        if path.parent() == Some(self.crate_dir.as_path()) {
            return name == "Cargo.toml" || name == "build.rs";
        }
        self.trees.iter().any(|t| path.starts_with(t))
    }

    /// Whether a change at `path` is one the running app picks up by itself.
    pub(crate) fn is_read_live(&self, path: &Path) -> bool {
        self.read_live.iter().any(|dir| path.starts_with(dir))
    }

    /// Starts watching; the changes go to `events`. The watcher stops when dropped.
    pub(crate) fn start(&self, events: Sender<Event>) -> notify::Result<notify::RecommendedWatcher> {
        let watched = self.clone();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            for path in event.paths {
                if watched.concerns(&path) {
                    let _ = events.send(Event::Changed(path));
                }
            }
        })?;
        watcher.watch(&self.crate_dir, RecursiveMode::NonRecursive)?;
        for tree in &self.trees {
            watcher.watch(tree, RecursiveMode::Recursive)?;
        }
        Ok(watcher)
    }
}

/// The first change and the ones that follow it within a quiet spell of 150 ms (at most
/// two seconds in all): one save is one rebuild. `Err` carries a stop that came meanwhile.
pub(crate) fn debounce(first: PathBuf, events: &Receiver<Event>) -> Result<Vec<PathBuf>, ()> {
    let mut changed = vec![first];
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        match events.recv_timeout(Duration::from_millis(150)) {
            Ok(Event::Changed(path)) => {
                if !changed.contains(&path) {
                    changed.push(path);
                }
            }
            Ok(Event::Stop) => return Err(()),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apps_files_concern_it() {
        let watched = Watched {
            trees: vec!["/app/src".into(), "/app/templates".into()],
            crate_dir: "/app".into(),
            target_dir: "/app/target".into(),
            read_live: vec!["/app/templates".into()],
        };
        assert!(watched.concerns(Path::new("/app/src/main.rs")));
        assert!(watched.concerns(Path::new("/app/Cargo.toml")));
        assert!(watched.concerns(Path::new("/app/templates/index.html")));
        assert!(!watched.concerns(Path::new("/app/README.md")));
        assert!(!watched.concerns(Path::new("/app/src/.main.rs.swp")));
        assert!(!watched.concerns(Path::new("/app/src/main.rs~")));
        assert!(!watched.concerns(Path::new("/app/target/debug/app")));
        assert!(watched.is_read_live(Path::new("/app/templates/index.html")));
    }
}
