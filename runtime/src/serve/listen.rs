//! The listening socket and the defaults sized to the machine: the listen backlog and the
//! cap on open connections.

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
#[allow(unsafe_code)] // The one call into libc; see SAFETY below.
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
