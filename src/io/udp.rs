//! The overlay's one UDP socket, dual-stack: an `AF_INET6` socket with
//! `IPV6_V6ONLY` off carries IPv4 peers as v4-mapped addresses
//! (`::ffff:a.b.c.d`), so one port and one descriptor serve both families
//! and the loop stays as it was. Where the kernel has no IPv6 at all the
//! socket is plain `AF_INET`.
//!
//! The core never sees a v4-mapped address: [`OverlaySocket::recv_from`]
//! turns them back into IPv4 ones and [`OverlaySocket::send_to`] maps IPv4
//! destinations, so candidates, paths and the roaming rule compare
//! addresses of one form only.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use async_io::Async;

/// The socket with the address mapping. Same call shapes as
/// `std::net::UdpSocket`, so callers use it the same way.
#[derive(Debug)]
pub struct OverlaySocket {
    sock: UdpSocket,
    dual: bool,
}

impl OverlaySocket {
    /// Binds `port` (0: any) on every address of both families, or IPv4
    /// only when the kernel refuses `AF_INET6` sockets. DF is set for both
    /// families (see [`set_dont_fragment`]).
    pub fn bind(port: u16) -> io::Result<OverlaySocket> {
        let (sock, dual) = match bind_dual(port) {
            Ok(s) => (s, true),
            Err(e) if super::ipv6::is_refusal(&e) => {
                log::warn!("no IPv6 socket ({e}): the underlay is IPv4-only");
                // An address, not ("0.0.0.0", port): a string would link
                // libc's getaddrinfo and its resolver for nothing.
                (UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))?, false)
            }
            Err(e) => return Err(e),
        };
        set_dont_fragment(&sock, dual);
        Ok(OverlaySocket { sock, dual })
    }

    /// Whether IPv6 peers can be reached through this socket.
    pub fn dual_stack(&self) -> bool {
        self.dual
    }

    /// Whether `a` can be sent to from this socket.
    pub fn reaches(&self, a: &SocketAddr) -> bool {
        self.dual || a.is_ipv4()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr().map(unmap)
    }

    /// `send_to` with IPv4 destinations v4-mapped on a dual-stack socket.
    pub fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.sock.send_to(buf, self.wire_addr(to))
    }

    /// The address the kernel wants for `to` on this socket (v4-mapped on
    /// a dual-stack one), for the batched calls that bypass `send_to`.
    pub fn wire_addr(&self, to: SocketAddr) -> SocketAddr {
        if self.dual {
            map(to)
        } else {
            to
        }
    }

    /// `recv_from` reporting IPv4 senders as IPv4 addresses.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.recv_from(buf).map(|(n, a)| (n, unmap(a)))
    }

    pub fn inner(&self) -> &UdpSocket {
        &self.sock
    }
}

impl AsFd for OverlaySocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for OverlaySocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

/// The async wrapper the loop holds; `get_ref()` gives the socket for
/// non-blocking sends and drains, as `Async<UdpSocket>` did.
#[derive(Debug)]
pub struct Udp(Async<OverlaySocket>);

impl Udp {
    pub fn new(sock: OverlaySocket) -> io::Result<Udp> {
        Ok(Udp(Async::new(sock)?))
    }

    pub fn get_ref(&self) -> &OverlaySocket {
        self.0.get_ref()
    }

    /// Waits until a datagram can be read.
    pub async fn readable(&self) -> io::Result<()> {
        self.0.readable().await
    }

    /// Waits for and receives one datagram.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.read_with(|s| s.recv_from(buf)).await
    }
}

/// The overlay's socket on `port`, ready for the loop, and the port it got.
pub fn open(port: u16) -> Result<(Udp, u16), crate::io::cli::CliError> {
    use crate::io::cli::CliError;
    let sock = OverlaySocket::bind(port)
        .map_err(|e| CliError::Runtime(format!("cannot bind UDP port {port}: {e}")))?;
    grow_socket_buffers(&sock.sock);
    let local_port = sock.local_addr().map(|a| a.port()).unwrap_or(port);
    let udp = Udp::new(sock).map_err(|e| CliError::Runtime(format!("udp socket: {e}")))?;
    Ok((udp, local_port))
}

/// Bursts from a fast sender outrun one event-loop turn; the kernel's
/// default 208 kB UDP buffers then drop. 2 MB each way (capped by
/// net.core.[rw]mem_max unless we are root, where FORCE bypasses it).
fn grow_socket_buffers(udp: &UdpSocket) {
    let size: libc::c_int = 2 << 20;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        let set = |opt| setsockopt_int(udp, libc::SOL_SOCKET, opt, size).is_ok();
        if !set(force) && !set(plain) {
            log::debug!(
                "cannot grow UDP socket buffer: {}",
                io::Error::last_os_error()
            );
        }
    }
}

/// `::ffff:a.b.c.d` for an IPv4 address, anything else unchanged.
pub fn map(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        v6 => v6,
    }
}

/// The IPv4 address inside a v4-mapped one, anything else unchanged.
pub fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => SocketAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn setsockopt_int(
    sock: &impl AsRawFd,
    level: libc::c_int,
    opt: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a valid socket and a c_int option of the right size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// An `AF_INET6` socket bound to `[::]:port` with `IPV6_V6ONLY` off: set
/// before bind, since `net.ipv6.bindv6only` may default it on.
fn bind_dual(port: u16) -> io::Result<UdpSocket> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    setsockopt_int(&owned, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    // SAFETY: sockaddr_in6 is plain data; all-zero is [::]:0.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_port = port.to_be();
    sa.sin6_addr.s6_addr = Ipv6Addr::UNSPECIFIED.octets();
    // SAFETY: `sa` is a valid sockaddr_in6 of the size passed.
    let rc = unsafe {
        libc::bind(
            owned.as_raw_fd(),
            (&sa as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(UdpSocket::from(owned))
}

/// Every datagram leaves with DF set (IP_PMTUDISC_DO, and for IPv6
/// IPV6_PMTUDISC_DO, which also keeps the kernel from fragmenting at the
/// source): the node probes each link's path MTU itself and never sends a
/// datagram bigger than that, so nothing is fragmented on the underlay. One
/// that does not fit the device or the route's MTU (learned from ICMP, or
/// IPsec's overhead) fails with EMSGSIZE instead of leaving in fragments;
/// the node learns from that at once (`handle_too_big`). On a dual-stack
/// socket the IPv4 option governs the v4-mapped traffic.
pub fn set_dont_fragment(sock: &UdpSocket, dual: bool) {
    let v4 = setsockopt_int(
        sock,
        libc::IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        libc::IP_PMTUDISC_DO,
    );
    let v6 = if dual {
        setsockopt_int(
            sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_DO,
        )
    } else {
        Ok(())
    };
    for e in [v4.err(), v6.err()].into_iter().flatten() {
        log::warn!("cannot set DF on the UDP socket: {e}; the kernel may fragment on the underlay");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_round_trips() {
        let v4: SocketAddr = "192.0.2.7:5800".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:5800".parse().unwrap();
        assert_eq!(map(v4), "[::ffff:192.0.2.7]:5800".parse().unwrap());
        assert_eq!(unmap(map(v4)), v4);
        assert_eq!(map(v6), v6);
        assert_eq!(unmap(v6), v6);
    }

    /// Both families over one socket on loopback; senders come back in
    /// their own family.
    #[test]
    fn one_socket_serves_both_families() {
        let s = OverlaySocket::bind(0).unwrap();
        let kernel_v6 = std::path::Path::new("/proc/sys/net/ipv6").is_dir();
        assert_eq!(s.dual_stack(), kernel_v6);
        let port = s.local_addr().unwrap().port();
        let mut buf = [0u8; 16];
        let c4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        c4.send_to(b"four", ("127.0.0.1", port)).unwrap();
        let (n, from) = s.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"four"[..], c4.local_addr().unwrap()));
        s.send_to(b"back", from).unwrap();
        let (n, _) = c4.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"back");
        if !s.dual_stack() {
            return;
        }
        let c6 = UdpSocket::bind("[::1]:0").unwrap();
        c6.send_to(b"six", ("::1", port)).unwrap();
        let (n, from) = s.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"six"[..], c6.local_addr().unwrap()));
    }
}
