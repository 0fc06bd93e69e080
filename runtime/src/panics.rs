//! Backtraces for debug mode: where a panic happened, and where an error became an
//! [`HttpError`](crate::HttpError).
//!
//! A panic's backtrace must be taken where it is raised, before the stack unwinds to the
//! `catch_unwind` that turns it into a 500. [`capture_backtraces`] installs a panic hook
//! (once per process, chained before the hook that was there, which still prints the
//! message) that keeps the panicking thread's backtrace in a thread-local slot; the code
//! that catches the panic on that same thread takes it with [`take_panic_backtrace`]. From
//! then on errors converted into an `HttpError` carry the backtrace of their conversion
//! too ([`capturing`]). Nothing of this runs unless an app in debug mode was built.

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static CAPTURING: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

thread_local! {
    /// The backtrace of the last panic raised on this thread, until it is taken.
    static LAST_PANIC: RefCell<Option<Backtrace>> = const { RefCell::new(None) };
}

/// Turns backtraces on for the rest of the process: installs the panic hook that keeps
/// each panic's backtrace, once.
pub(crate) fn capture_backtraces() {
    CAPTURING.store(true, Ordering::Relaxed);
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let trace = Backtrace::force_capture();
            // `try_with`: a panic while the thread's locals are torn down has no slot.
            let _ = LAST_PANIC.try_with(|slot| {
                if let Ok(mut slot) = slot.try_borrow_mut() {
                    *slot = Some(trace);
                }
            });
            previous(info);
        }));
    });
}

/// Whether backtraces are captured (an app in debug mode was built in this process).
pub(crate) fn capturing() -> bool {
    CAPTURING.load(Ordering::Relaxed)
}

/// The backtrace of the panic this thread just caught, if the hook kept one.
pub(crate) fn take_panic_backtrace() -> Option<Backtrace> {
    if !capturing() {
        return None;
    }
    LAST_PANIC.try_with(|slot| slot.try_borrow_mut().ok().and_then(|mut s| s.take())).ok().flatten()
}
