//! Readiness, by systemd's notification protocol: once the app serves, it sends
//! `READY=1` to the datagram socket named by `NOTIFY_SOCKET`, if there is one. The
//! reloader waits for it before it lets the previous process go; systemd's
//! `Type=notify` services wait for it too.

/// Says the app is ready, when something asked to know (`NOTIFY_SOCKET`).
pub(crate) fn ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET").filter(|p| !p.is_empty()) else { return };
    let message = format!("READY=1\nMAINPID={}", std::process::id());
    if let Err(e) = send(&path, message.as_bytes()) {
        tracing::warn!(error = %e, socket = ?path, "cannot say READY=1 to NOTIFY_SOCKET");
    }
}

#[cfg(unix)]
fn send(path: &std::ffi::OsStr, message: &[u8]) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;
    let socket = UnixDatagram::unbound()?;
    // A name that starts with `@` is in Linux's abstract namespace.
    #[cfg(target_os = "linux")]
    if let Some(name) = path.as_bytes().strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        return socket.send_to_addr(message, &addr).map(drop);
    }
    socket.send_to(message, path).map(drop)
}

#[cfg(not(unix))]
fn send(_: &std::ffi::OsStr, _: &[u8]) -> std::io::Result<()> {
    Ok(())
}
