//! The one rtnetlink query ioctls cannot answer: which bridge (master) an
//! interface belongs to. Used only for read-back (tests, `ipop status`), so a
//! failure here never affects the data path. RTM_GETLINK is among the netlink
//! messages qemu-user translates (libc's `getifaddrs` relies on it too).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDR: usize = 16;
const IFINFOMSG: usize = 16;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const NLM_F_REQUEST: u16 = 1;
const IFLA_MASTER: u16 = 10;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The ifindex of the master device (bridge) of `ifindex`, if it has one.
pub fn link_master(ifindex: u32) -> io::Result<Option<u32>> {
    // SAFETY: plain syscall; checked below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor, owned here only.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };

    let mut req = [0u8; NLMSG_HDR + IFINFOMSG];
    req[0..4].copy_from_slice(&((NLMSG_HDR + IFINFOMSG) as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
    req[NLMSG_HDR] = libc::AF_UNSPEC as u8;
    req[NLMSG_HDR + 4..NLMSG_HDR + 8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    // SAFETY: sending a local buffer of the stated length; a netlink socket
    // with no destination address sends to the kernel.
    let sent = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }

    let mut buf = [0u8; 8192];
    // SAFETY: receiving into a local buffer of the stated length.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_master(&buf[..n as usize])
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("netlink: {what}"))
}

/// Finds IFLA_MASTER in a RTM_NEWLINK reply (or turns NLMSG_ERROR into an error).
fn parse_master(msg: &[u8]) -> io::Result<Option<u32>> {
    let len = u32_at(msg, 0).ok_or_else(|| bad("short reply"))? as usize;
    let kind = u16_at(msg, 4).ok_or_else(|| bad("short reply"))?;
    let msg = msg.get(..len).ok_or_else(|| bad("truncated reply"))?;
    if kind == NLMSG_ERROR {
        let errno = u32_at(msg, NLMSG_HDR).ok_or_else(|| bad("short error"))? as i32;
        return Err(io::Error::from_raw_os_error(-errno));
    }
    if kind != RTM_NEWLINK {
        return Err(bad("unexpected reply type"));
    }
    let mut at = NLMSG_HDR + IFINFOMSG;
    while at + 4 <= msg.len() {
        let rta_len = usize::from(u16_at(msg, at).ok_or_else(|| bad("short attribute"))?);
        let rta_type = u16_at(msg, at + 2).ok_or_else(|| bad("short attribute"))?;
        if rta_len < 4 {
            return Err(bad("attribute length below 4"));
        }
        if rta_type & 0x3fff == IFLA_MASTER {
            return u32_at(msg, at + 4)
                .map(Some)
                .ok_or_else(|| bad("short IFLA_MASTER"));
        }
        at += align4(rta_len);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = vec![0u8; NLMSG_HDR + IFINFOMSG];
        m[4..6].copy_from_slice(&RTM_NEWLINK.to_ne_bytes());
        for (t, v) in attrs {
            let l = 4 + v.len();
            m.extend_from_slice(&(l as u16).to_ne_bytes());
            m.extend_from_slice(&t.to_ne_bytes());
            m.extend_from_slice(v);
            m.resize(align4(m.len()), 0);
        }
        let total = m.len() as u32;
        m[0..4].copy_from_slice(&total.to_ne_bytes());
        m
    }

    #[test]
    fn finds_master_after_other_attributes() {
        let name = b"tap0\0"; // IFLA_IFNAME, 5 bytes -> padded to 8
        let m = reply(&[(3, name), (IFLA_MASTER, &7u32.to_ne_bytes())]);
        assert_eq!(parse_master(&m).unwrap(), Some(7));
    }

    #[test]
    fn no_master_attribute() {
        let m = reply(&[(3, b"tap0\0"), (4, &1280u32.to_ne_bytes())]);
        assert_eq!(parse_master(&m).unwrap(), None);
    }

    #[test]
    fn error_reply_and_garbage() {
        let mut m = vec![0u8; NLMSG_HDR + 4];
        let total = m.len() as u32;
        m[0..4].copy_from_slice(&total.to_ne_bytes());
        m[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m[NLMSG_HDR..NLMSG_HDR + 4].copy_from_slice(&(-libc::ENODEV).to_ne_bytes());
        assert_eq!(
            parse_master(&m).unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );
        assert_eq!(
            parse_master(&[1, 2]).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut zero_len = reply(&[]);
        zero_len.extend_from_slice(&[0, 0, 3, 0]);
        let total = zero_len.len() as u32;
        zero_len[0..4].copy_from_slice(&total.to_ne_bytes());
        assert_eq!(
            parse_master(&zero_len).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn loopback_has_no_master() {
        assert_eq!(link_master(1).unwrap(), None);
    }
}
