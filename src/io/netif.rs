//! Local network interfaces: host candidate gathering (getifaddrs) and a
//! netlink socket that says when links or addresses changed, so the node
//! re-gathers (DESIGN "NAT traversal").
//!
//! Which addresses become host candidates (IPOP 16.01 §6 semantics):
//! * the interface is up and not a loopback;
//! * its name is not the node's own TAP and does not equal an entry of
//!   `network_ignore_list` exactly (an IPv4 alias label `eth0:1` counts as
//!   `eth0`);
//! * IPv4: every address except 127.0.0.0/8;
//! * IPv6: global and unique-local unicast addresses: not loopback,
//!   unspecified, link-local (fe80::/10, which would need a scope ID in a
//!   candidate) or the obsolete site-local fec0::/10, and not deprecated,
//!   tentative or failed duplicate detection (`/proc/net/if_inet6` flags):
//!   a deprecated address is on its way out, a tentative one cannot send.

use std::ffi::CStr;
use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use async_io::Async;

/// Host addresses of this machine, as (interface name, address), in the
/// kernel's interface order. Never fails: an error from getifaddrs yields
/// an empty list (logged), since no candidates is a state the node handles.
pub fn host_addresses(own_tap: &str, ignore: &[String]) -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        log::warn!("getifaddrs: {}", io::Error::last_os_error());
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() || ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated C string owned by the list.
        let label = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        // SAFETY: ifa_addr points to a sockaddr of the family it declares.
        let Some(ip) = (unsafe { sockaddr_ip(ifa.ifa_addr) }) else {
            continue;
        };
        if let Some(name) = keep(&label, ifa.ifa_flags, ip, own_tap, ignore) {
            out.push((name.to_owned(), ip));
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    let unusable = unusable_ip6(&std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default());
    out.retain(|(_, ip)| !matches!(ip, IpAddr::V6(a) if unusable.contains(a)));
    out
}

/// IFA_F_* flags (linux/if_addr.h) that make an IPv6 address no candidate.
const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_DEPRECATED: u32 = 0x20;
const IFA_F_TENTATIVE: u32 = 0x40;

/// The addresses `/proc/net/if_inet6` (as `text`) lists as deprecated,
/// tentative or failed DAD. Lines: 32 hex digits of address, ifindex,
/// prefix length, scope, flags (hex), name; malformed lines are skipped.
pub fn unusable_ip6(text: &str) -> Vec<Ipv6Addr> {
    text.lines()
        .filter_map(|line| {
            let mut w = line.split_whitespace();
            let hex = w.next()?;
            let flags = u32::from_str_radix(w.nth(3)?, 16).ok()?;
            if hex.len() != 32
                || flags & (IFA_F_DADFAILED | IFA_F_DEPRECATED | IFA_F_TENTATIVE) == 0
            {
                return None;
            }
            u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
        })
        .collect()
}

/// The decision for one address: `Some(interface name)` to keep it.
fn keep<'a>(
    label: &'a str,
    flags: libc::c_uint,
    ip: IpAddr,
    own_tap: &str,
    ignore: &[String],
) -> Option<&'a str> {
    let name = label.split(':').next().unwrap_or(label);
    let up = flags & libc::IFF_UP as libc::c_uint != 0;
    let loopback = flags & libc::IFF_LOOPBACK as libc::c_uint != 0;
    let ignored =
        name == own_tap || label == own_tap || ignore.iter().any(|i| i == name || i == label);
    let usable = match ip {
        IpAddr::V4(a) => !a.is_loopback() && !a.is_unspecified(),
        IpAddr::V6(a) => {
            !a.is_loopback()
                && !a.is_unspecified()
                && !a.is_multicast()
                && (a.segments()[0] & 0xFFC0) != 0xFE80
                && (a.segments()[0] & 0xFFC0) != 0xFEC0
                && a.to_ipv4_mapped().is_none()
        }
    };
    (up && !loopback && !ignored && usable).then_some(name)
}

/// # Safety
/// `sa` must point to a valid sockaddr whose size matches its family.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    match i32::from((*sa).sa_family) {
        libc::AF_INET => {
            let sin = &*(sa as *const libc::sockaddr_in);
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            let sin6 = &*(sa as *const libc::sockaddr_in6);
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// A NETLINK_ROUTE socket subscribed to link and address changes
/// (RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR).
pub struct NetChanges {
    sock: Async<OwnedFd>,
}

impl NetChanges {
    pub fn new() -> io::Result<NetChanges> {
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups =
            (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
        // SAFETY: `sa` is a valid sockaddr_nl of the size passed.
        let rc = unsafe {
            libc::bind(
                owned.as_raw_fd(),
                &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(NetChanges {
            sock: Async::new(owned)?,
        })
    }

    /// Waits until at least one link or address change arrived, then
    /// drains everything queued (a burst counts once). Returns how many
    /// netlink messages were drained. A receive-buffer overflow (ENOBUFS)
    /// also counts as a change: something was missed, so re-gather.
    pub async fn wait(&self) -> io::Result<usize> {
        let mut buf = [0u8; 8192];
        let mut n = self.sock.read_with(|fd| recv(fd, &mut buf)).await?;
        loop {
            match recv(self.sock.get_ref(), &mut buf) {
                Ok(more) => n += more,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(n),
                Err(e) => return Err(e),
            }
        }
    }
}

/// One recv; the number of netlink messages in it (ENOBUFS counts as 1).
fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: recv into a buffer we own, of the length passed.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ENOBUFS) {
            Ok(1)
        } else {
            Err(e)
        };
    }
    Ok(count_messages(buf.get(..n as usize).unwrap_or(&[])))
}

/// Counts nlmsghdr-framed messages (length u32 at offset 0, 4-aligned).
pub(crate) fn count_messages(mut data: &[u8]) -> usize {
    let mut n = 0;
    while let Some(h) = data.first_chunk::<4>() {
        let len = u32::from_ne_bytes(*h) as usize;
        if len < 16 {
            break;
        }
        n += 1;
        // saturating: on 32-bit targets a length near u32::MAX must not wrap.
        data = data.get(len.saturating_add(3) & !3..).unwrap_or(&[]);
    }
    n
}

#[cfg(test)]
#[path = "netif_tests.rs"]
mod tests;
