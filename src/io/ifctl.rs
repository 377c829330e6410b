//! Interface configuration through the classic socket ioctls (what
//! `ifconfig`/`brctl` use): MTU, flags, IPv4/IPv6 addresses, bridge ports.
//!
//! Why ioctls and not rtnetlink: qemu-user (our test bed for the MIPS and ARM
//! builds) translates every ioctl used here, but only some netlink messages.
//! Request numbers come from `libc` (they differ per architecture); the two
//! bridge requests `libc` lacks on Linux are arch-independent (see below).

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `SIOCBRADDIF` / `SIOCBRDELIF` from `include/uapi/linux/sockios.h`. That
/// header (unlike `asm/sockios.h`) is shared by every architecture, so these
/// values hold on MIPS too; `libc` only exports them for Android.
const SIOCBRADDIF: libc::c_ulong = 0x89a2;
const SIOCBRDELIF: libc::c_ulong = 0x89a3;

/// Longest interface name the kernel accepts (`IFNAMSIZ` minus the NUL).
pub const MAX_IFNAME: usize = libc::IFNAMSIZ - 1;

/// Checks a name the way the kernel's `dev_valid_name` does, so a bad name
/// is reported before anything is created.
pub fn check_ifname(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_IFNAME {
        return Err("it is longer than 15 bytes");
    }
    if name == "." || name == ".." {
        return Err("'.' and '..' are reserved");
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
    {
        return Err("it contains '/', ':', a space or a NUL");
    }
    Ok(())
}

/// A datagram socket of the given family: the handle the ioctls go through.
fn ctl_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    check_ifname(name).map_err(|why| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name '{name}': {why}"),
        )
    })?;
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// `ioctl(fd, request, arg)`; the request type is `c_ulong` on glibc and
/// `c_int` on musl, hence the `as _`.
fn ioctl<T>(fd: &OwnedFd, request: libc::c_ulong, arg: &mut T) -> io::Result<()> {
    // SAFETY: `arg` points at a live value of the type the request expects
    // (each caller pairs the request with its struct).
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg as *mut T) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size (16 bytes) and
    // sockaddr is plain bytes.
    unsafe { mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// The netmask of a prefix length (`/16` -> `255.255.0.0`).
pub fn prefix_to_mask(prefix: u8) -> Ipv4Addr {
    let bits = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    Ipv4Addr::from(bits)
}

/// The prefix length of a contiguous netmask; `None` for `255.0.255.0`.
pub fn mask_to_prefix(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// The prefix length of an IPv6 netmask; `None` if not contiguous.
pub fn mask6_to_prefix(mask: Ipv6Addr) -> Option<u8> {
    let bits = u128::from(mask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

pub fn if_index(name: &str) -> io::Result<u32> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    ioctl(&sock, libc::SIOCGIFINDEX, &mut req)?;
    // SAFETY: SIOCGIFINDEX fills the ifindex member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_ifindex } as u32)
}

pub fn get_mtu(name: &str) -> io::Result<u32> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    ioctl(&sock, libc::SIOCGIFMTU, &mut req)?;
    // SAFETY: SIOCGIFMTU fills the mtu member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_mtu } as u32)
}

pub fn set_mtu(name: &str, mtu: u16) -> io::Result<()> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_mtu = libc::c_int::from(mtu);
    ioctl(&sock, libc::SIOCSIFMTU, &mut req)
}

/// The `IFF_*` flags (the kernel's ioctl view is 16 bits wide).
pub fn get_flags(name: &str) -> io::Result<u32> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    ioctl(&sock, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS fills the flags member of the union.
    Ok(u32::from(unsafe { req.ifr_ifru.ifru_flags } as u16))
}

/// Sets the bits in `set` and clears those in `clear`, keeping the rest.
pub fn change_flags(name: &str, set: u32, clear: u32) -> io::Result<()> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    ioctl(&sock, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the flags member.
    let old = u32::from(unsafe { req.ifr_ifru.ifru_flags } as u16);
    let new = (old | set) & !clear;
    req.ifr_ifru.ifru_flags = new as u16 as libc::c_short;
    ioctl(&sock, libc::SIOCSIFFLAGS, &mut req)
}

pub fn hw_addr(name: &str) -> io::Result<[u8; 6]> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    ioctl(&sock, libc::SIOCGIFHWADDR, &mut req)?;
    // SAFETY: SIOCGIFHWADDR fills the hwaddr member (a sockaddr).
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (m, d) in mac.iter_mut().zip(data.iter()) {
        *m = *d as u8;
    }
    Ok(mac)
}

/// Sets the interface's IPv4 address, netmask and directed broadcast.
pub fn set_ipv4(name: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_addr = sockaddr_in(addr);
    ioctl(&sock, libc::SIOCSIFADDR, &mut req)?;
    let mask = prefix_to_mask(prefix);
    req.ifr_ifru.ifru_netmask = sockaddr_in(mask);
    ioctl(&sock, libc::SIOCSIFNETMASK, &mut req)?;
    if prefix < 31 {
        let brd = Ipv4Addr::from(u32::from(addr) | !u32::from(mask));
        req.ifr_ifru.ifru_broadaddr = sockaddr_in(brd);
        ioctl(&sock, libc::SIOCSIFBRDADDR, &mut req)?;
    }
    Ok(())
}

/// The interface's (primary) IPv4 address and prefix, if it has one.
pub fn get_ipv4(name: &str) -> io::Result<Option<(Ipv4Addr, u8)>> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    match ioctl(&sock, libc::SIOCGIFADDR, &mut req) {
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => return Ok(None),
        r => r?,
    }
    // SAFETY: SIOCGIFADDR filled the addr member with a sockaddr_in.
    let addr = sockaddr_in_addr(unsafe { &req.ifr_ifru.ifru_addr });
    ioctl(&sock, libc::SIOCGIFNETMASK, &mut req)?;
    // SAFETY: SIOCGIFNETMASK filled the netmask member with a sockaddr_in.
    let mask = sockaddr_in_addr(unsafe { &req.ifr_ifru.ifru_netmask });
    Ok(Some((addr, mask_to_prefix(mask).unwrap_or(32))))
}

fn sockaddr_in_addr(sa: &libc::sockaddr) -> Ipv4Addr {
    // SAFETY: both types are 16 bytes of plain data.
    let sin = unsafe { mem::transmute::<libc::sockaddr, libc::sockaddr_in>(*sa) };
    Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes())
}

/// Removes the interface's IPv4 address (setting 0.0.0.0 deletes it).
pub fn clear_ipv4(name: &str) -> io::Result<()> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_addr = sockaddr_in(Ipv4Addr::UNSPECIFIED);
    ioctl(&sock, libc::SIOCSIFADDR, &mut req)
}

fn in6_ifreq(ifindex: u32, addr: Ipv6Addr, prefix: u8) -> libc::in6_ifreq {
    libc::in6_ifreq {
        ifr6_addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        ifr6_prefixlen: u32::from(prefix),
        ifr6_ifindex: ifindex as libc::c_int,
    }
}

/// Adds an IPv6 address (`SIOCSIFADDR` on an `AF_INET6` socket). Fails with
/// `EAFNOSUPPORT` when the kernel has no IPv6. The fallback for
/// [`super::netlink::add_addr6`] (see there why netlink comes first).
pub fn add_ipv6(ifindex: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    let sock = ctl_socket(libc::AF_INET6)?;
    let mut req = in6_ifreq(ifindex, addr, prefix);
    ioctl(&sock, libc::SIOCSIFADDR, &mut req)
}

pub fn del_ipv6(ifindex: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    let sock = ctl_socket(libc::AF_INET6)?;
    let mut req = in6_ifreq(ifindex, addr, prefix);
    ioctl(&sock, libc::SIOCDIFADDR, &mut req)
}

/// Makes interface `ifindex` a port of `bridge` (`brctl addif`).
pub fn bridge_add_port(bridge: &str, ifindex: u32) -> io::Result<()> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(bridge)?;
    req.ifr_ifru.ifru_ifindex = ifindex as libc::c_int;
    ioctl(&sock, SIOCBRADDIF, &mut req)
}

/// `brctl delif`.
pub fn bridge_del_port(bridge: &str, ifindex: u32) -> io::Result<()> {
    let sock = ctl_socket(libc::AF_INET)?;
    let mut req = ifreq(bridge)?;
    req.ifr_ifru.ifru_ifindex = ifindex as libc::c_int;
    ioctl(&sock, SIOCBRDELIF, &mut req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(prefix_to_mask(16), Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(prefix_to_mask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(prefix_to_mask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(prefix_to_mask(32), Ipv4Addr::new(255, 255, 255, 255));
        assert_eq!(prefix_to_mask(40), Ipv4Addr::new(255, 255, 255, 255));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 0, 0)), Some(16));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
        let m64: Ipv6Addr = "ffff:ffff:ffff:ffff::".parse().unwrap();
        assert_eq!(mask6_to_prefix(m64), Some(64));
        assert_eq!(mask6_to_prefix(Ipv6Addr::UNSPECIFIED), Some(0));
        let holey: Ipv6Addr = "ffff::ffff".parse().unwrap();
        assert_eq!(mask6_to_prefix(holey), None);
    }

    #[test]
    fn interface_names() {
        assert_eq!(check_ifname("tunnel-tap"), Ok(()));
        assert_eq!(check_ifname("ipop"), Ok(()));
        assert_eq!(check_ifname("abcdefghijklmno"), Ok(()));
        assert_eq!(
            check_ifname("abcdefghijklmnop"),
            Err("it is longer than 15 bytes")
        );
        assert_eq!(check_ifname(""), Err("it is empty"));
        assert_eq!(check_ifname(".."), Err("'.' and '..' are reserved"));
        assert_eq!(
            check_ifname("a/b"),
            Err("it contains '/', ':', a space or a NUL")
        );
        assert_eq!(
            check_ifname("a b"),
            Err("it contains '/', ':', a space or a NUL")
        );
        assert_eq!(
            check_ifname("eth0:1"),
            Err("it contains '/', ':', a space or a NUL")
        );
    }

    #[test]
    fn missing_interface_is_enodev() {
        let err = if_index("ipopnosuchif0").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
        assert_eq!(
            get_mtu("bad/name").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn loopback_reads_back() {
        // Every network namespace has `lo` with MTU 65536, up, LOOPBACK.
        assert_eq!(get_mtu("lo").unwrap(), 65536);
        let flags = get_flags("lo").unwrap();
        assert_ne!(flags & libc::IFF_LOOPBACK as u32, 0);
        assert_eq!(hw_addr("lo").unwrap(), [0; 6]);
        assert_eq!(get_ipv4("lo").unwrap(), Some((Ipv4Addr::LOCALHOST, 8)));
    }
}
