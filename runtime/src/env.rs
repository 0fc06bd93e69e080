//! The `ERLEN_*` environment variables that change the runtime's behaviour, read in one
//! place.

/// A positive number from the environment variable `name` (`ERLEN_THREADS`,
/// `ERLEN_BLOCKING_THREADS`), if it holds one.
pub(crate) fn positive(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().parse().ok().filter(|n| *n > 0)
}

/// `ERLEN_DEBUG=1` (or `true`): debug mode, unless the app says otherwise with
/// [`App::debug`](crate::App::debug).
pub(crate) fn debug() -> bool {
    std::env::var("ERLEN_DEBUG").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"))
}

/// `ERLEN_SECRET_KEY`: the secret key that signs sessions, unless the app sets one with
/// [`App::secret_key`](crate::App::secret_key).
pub(crate) fn secret_key() -> Option<Vec<u8>> {
    std::env::var("ERLEN_SECRET_KEY").ok().filter(|k| !k.is_empty()).map(String::into_bytes)
}

/// `ERLEN_DEBUG_ANY_HOST=1`: debug mode may serve on an address other than loopback.
pub(crate) fn debug_any_host() -> bool {
    std::env::var("ERLEN_DEBUG_ANY_HOST").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"))
}

/// `ERLEN_RELOAD_STATUS`: the file in which the reloader (`run --debug`) leaves the
/// compiler's output when its last build failed, for the debug page.
pub(crate) fn reload_status_file() -> Option<std::path::PathBuf> {
    std::env::var_os("ERLEN_RELOAD_STATUS").filter(|v| !v.is_empty()).map(Into::into)
}

/// `ERLEN_REDIS_URL`: the Redis server the app shares state through, unless the app names
/// one with [`App::redis`](crate::App::redis) (or, without the `redis` feature, a mistake
/// the app refuses to start with).
pub(crate) fn redis_url() -> Option<String> {
    std::env::var("ERLEN_REDIS_URL").ok().filter(|u| !u.trim().is_empty())
}
