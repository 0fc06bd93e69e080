//! Where the command line writes: the terminal, or a test runner's buffer.

use std::sync::{Arc, Mutex};

use crate::sync::lock;

/// Where the command line writes: the terminal, or a test runner's buffer (stdout and
/// stderr together, as click's runner mixes them).
#[derive(Debug, Clone)]
pub(crate) enum Output {
    Terminal,
    Captured(Arc<Mutex<String>>),
}

impl Output {
    /// Writes `text` to stdout.
    pub(crate) fn out(&self, text: &str) {
        self.write(text, false);
    }

    /// Writes `text` to stderr.
    pub(crate) fn err(&self, text: &str) {
        self.write(text, true);
    }

    fn write(&self, text: &str, error: bool) {
        use std::io::Write;
        match self {
            // Not print!, which panics when the stream is closed (`app routes | head -1`).
            Output::Terminal if error => drop(std::io::stderr().lock().write_all(text.as_bytes())),
            Output::Terminal => drop(std::io::stdout().lock().write_all(text.as_bytes())),
            Output::Captured(buffer) => lock(buffer).push_str(text),
        }
    }

    /// The buffer `echo!` writes to, when captured.
    pub(super) fn buffer(&self) -> Option<Arc<Mutex<String>>> {
        match self {
            Output::Terminal => None,
            Output::Captured(buffer) => Some(buffer.clone()),
        }
    }
}
