//! Locks that recover from a poisoned mutex. erlen never panics while holding one of its
//! locks (user code runs outside them), so the data behind a poisoned lock is consistent
//! and serving goes on.

use std::sync::{Condvar, Mutex, MutexGuard};

/// Locks `mutex`, even if a thread panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The value of `mutex`, even if a thread panicked while holding it.
pub(crate) fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `condvar`, even if a thread panicked while holding the lock.
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The value of `mutex`, borrowed mutably, even if a thread panicked while holding it.
pub(crate) fn get_mut<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner())
}
