//! The listening socket and the defaults sized to the machine: the listen backlog and the
//! cap on open connections; and a socket passed by the `LISTEN_FDS` protocol (systemd's
//! socket activation, systemfd, erlen's own reloader).

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// The listen backlog by default: gunicorn's. Rust's standard library asks for 128, and
/// a burst of a few hundred connects overflows that; each refused SYN then waits a second
/// or more for the client's retransmit. The kernel caps it (`net.core.somaxconn`).
pub(crate) const DEFAULT_BACKLOG: u32 = 2048;

/// Binds `addr` with room for `backlog` connections waiting to be accepted. Must be
/// called inside the runtime.
pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // As the standard library does: a restarted server can bind at once, even while the
    // previous one's connections linger in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// The cap on open connections by default: three quarters of the process's descriptor
/// limit, so that files, outbound connections and the runtime keep the rest. Reaching it
/// stops accepting (new connections wait in the backlog) instead of failing `accept`.
pub(crate) fn default_max_connections() -> usize {
    (descriptor_limit() / 4 * 3).max(16)
}

#[cfg(unix)]
#[allow(unsafe_code)] // A call into libc; see SAFETY below.
fn descriptor_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
    let found = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    match found {
        true if limit.rlim_cur == libc::RLIM_INFINITY => 1 << 20,
        true => usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX),
        false => 1024,
    }
}

#[cfg(not(unix))]
fn descriptor_limit() -> usize {
    // Windows has no per-process descriptor limit of this kind; sockets are bounded by
    // memory.
    1 << 16
}

/// The listening socket this process was passed by the `LISTEN_FDS` protocol, if any:
/// `LISTEN_PID` is this process's id, `LISTEN_FDS` counts the sockets, and the first is
/// descriptor 3 (`SD_LISTEN_FDS_START`). Taken once; later calls find nothing. With more
/// than one socket, the first is served and the others are left alone.
///
/// # Errors
///
/// When the variables say there is a socket and descriptor 3 is not one.
#[cfg(unix)]
pub(crate) fn inherited() -> io::Result<Option<std::net::TcpListener>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static TAKEN: AtomicBool = AtomicBool::new(false);

    let for_us = std::env::var("LISTEN_PID").ok().and_then(|p| p.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS").ok().and_then(|n| n.trim().parse::<u32>().ok()).unwrap_or(0);
    if !for_us || count == 0 || TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(None);
    }
    if count > 1 {
        tracing::warn!(count, "LISTEN_FDS passes {count} sockets; erlen serves the first (descriptor 3)");
    }
    let listener = take_descriptor_3()?;
    // A copy with close-on-exec set (F_DUPFD_CLOEXEC), so that programs the app starts do
    // not inherit the socket; the original descriptor 3 closes when `listener` drops.
    let owned = listener.try_clone()?;
    owned.local_addr().map_err(|e| {
        io::Error::new(e.kind(), format!("LISTEN_FDS: descriptor 3 is not a bound socket ({e})"))
    })?;
    Ok(Some(owned))
}

#[cfg(not(unix))]
pub(crate) fn inherited() -> io::Result<Option<std::net::TcpListener>> {
    Ok(None)
}

/// Descriptor 3 as a listener, once checked to be an open socket.
#[cfg(unix)]
#[allow(unsafe_code)] // See SAFETY below.
fn take_descriptor_3() -> io::Result<std::net::TcpListener> {
    use std::os::fd::FromRawFd;
    const FD: libc::c_int = 3;
    // SAFETY: fstat only writes the struct it is given, which lives on this stack.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let is_socket =
        unsafe { libc::fstat(FD, &mut stat) } == 0 && (stat.st_mode & libc::S_IFMT) == libc::S_IFSOCK;
    if !is_socket {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "LISTEN_FDS and LISTEN_PID say this process was passed a socket, but descriptor 3 is not one: \
             pass the listening socket as descriptor 3, or unset LISTEN_FDS",
        ));
    }
    // SAFETY: descriptor 3 is open and a socket (checked above), and the LISTEN_FDS
    // protocol hands it to this process to own; `TAKEN` makes sure it is taken once.
    Ok(unsafe { std::net::TcpListener::from_raw_fd(FD) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_room_below_the_descriptor_limit() {
        let cap = default_max_connections();
        assert!(cap >= 16);
        assert!(cap < descriptor_limit().max(22), "{cap} vs {}", descriptor_limit());
    }
}
