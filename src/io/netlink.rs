//! The few rtnetlink requests where ioctls fall short, verified under
//! qemu-user (mips, mipsel, aarch64) as well as natively:
//! * IPv6 addresses (RTM_NEWADDR/RTM_DELADDR): qemu passes `struct in6_ifreq`
//!   through its `struct ifreq` converter, which garbles it on big-endian
//!   MIPS, and it does not implement SIOCDIFADDR at all;
//! * bridge ports (RTM_NEWLINK with IFLA_MASTER) where SIOCBRADDIF is
//!   missing (qemu returns ENOSYS for it);
//! * which bridge an interface belongs to (RTM_GETLINK), for read-back.

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDR: usize = 16;
const IFINFOMSG: usize = 16;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_MASTER: u16 = 10;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFADDRMSG: usize = 8;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A request under construction: header, family message, attributes.
struct Request {
    buf: [u8; 128],
    len: usize,
}

impl Request {
    fn new(kind: u16, flags: u16, body: &[u8]) -> Request {
        let mut r = Request {
            buf: [0; 128],
            len: NLMSG_HDR,
        };
        r.buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        r.buf[6..8].copy_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        r.buf[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
        r.put(body);
        r
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len = align4(self.len + bytes.len());
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        let rta_len = (4 + data.len()) as u16;
        self.buf[self.len..self.len + 2].copy_from_slice(&rta_len.to_ne_bytes());
        self.buf[self.len + 2..self.len + 4].copy_from_slice(&kind.to_ne_bytes());
        self.len += 4;
        self.put(data);
    }

    fn bytes(&mut self) -> &[u8] {
        let len = self.len as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        &self.buf[..self.len]
    }
}

/// Sends one request and reads the kernel's first reply message into `reply`.
fn transact(req: &mut Request, reply: &mut [u8]) -> io::Result<usize> {
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
    let msg = req.bytes();
    // SAFETY: sending a local buffer of the stated length; a netlink socket
    // with no destination address sends to the kernel.
    let sent = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: receiving into a caller buffer of the stated length. The kernel
    // answers before send() returns, so this does not wait.
    let n = unsafe { libc::recv(sock.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Sends a request that wants only an acknowledgement.
fn acked(mut req: Request) -> io::Result<()> {
    let mut reply = [0u8; 256];
    let n = transact(&mut req, &mut reply)?;
    check_ack(&reply[..n])
}

pub(crate) fn check_ack(msg: &[u8]) -> io::Result<()> {
    let kind = u16_at(msg, 4).ok_or_else(|| bad("short reply"))?;
    if kind != NLMSG_ERROR {
        return Err(bad("expected an acknowledgement"));
    }
    match u32_at(msg, NLMSG_HDR).ok_or_else(|| bad("short acknowledgement"))? {
        0 => Ok(()),
        error => Err(nlmsg_error(error)),
    }
}

/// The error an `NLMSG_ERROR` reply's `error` field stands for. The kernel
/// puts a negative errno there; anything else (a positive value, or one
/// whose negation overflows) is reported as malformed, not trusted.
fn nlmsg_error(error: u32) -> io::Error {
    match (error as i32).checked_neg() {
        Some(errno @ 1..) => io::Error::from_raw_os_error(errno),
        _ => bad("error reply with an invalid error code"),
    }
}

fn ifaddrmsg6(ifindex: u32, prefix: u8) -> [u8; IFADDRMSG] {
    let mut m = [0u8; IFADDRMSG];
    m[0] = libc::AF_INET6 as u8;
    m[1] = prefix;
    // m[2] flags, m[3] scope: 0 = global
    m[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    m
}

/// `ip -6 addr add ADDR/PREFIX dev IFINDEX`.
pub fn add_addr6(ifindex: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut req = Request::new(RTM_NEWADDR, flags, &ifaddrmsg6(ifindex, prefix));
    req.attr(IFA_LOCAL, &addr.octets());
    req.attr(IFA_ADDRESS, &addr.octets());
    acked(req)
}

/// `ip -6 addr del ADDR/PREFIX dev IFINDEX`.
pub fn del_addr6(ifindex: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    let mut req = Request::new(RTM_DELADDR, NLM_F_ACK, &ifaddrmsg6(ifindex, prefix));
    req.attr(IFA_LOCAL, &addr.octets());
    acked(req)
}

fn ifinfomsg(ifindex: u32) -> [u8; IFINFOMSG] {
    let mut m = [0u8; IFINFOMSG];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    m
}

/// `ip link set IFINDEX master MASTER` (`nomaster` when `master` is 0).
pub fn set_master(ifindex: u32, master: u32) -> io::Result<()> {
    let mut req = Request::new(RTM_NEWLINK, NLM_F_ACK, &ifinfomsg(ifindex));
    req.attr(IFLA_MASTER, &master.to_ne_bytes());
    acked(req)
}

/// The ifindex of the master device (bridge) of `ifindex`, if it has one.
pub fn link_master(ifindex: u32) -> io::Result<Option<u32>> {
    let mut req = Request::new(RTM_GETLINK, 0, &ifinfomsg(ifindex));
    let mut reply = [0u8; 8192];
    let n = transact(&mut req, &mut reply)?;
    parse_master(&reply[..n])
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("netlink: {what}"))
}

/// Finds IFLA_MASTER in a RTM_NEWLINK reply (or turns NLMSG_ERROR into an error).
pub(crate) fn parse_master(msg: &[u8]) -> io::Result<Option<u32>> {
    let len = u32_at(msg, 0).ok_or_else(|| bad("short reply"))? as usize;
    let kind = u16_at(msg, 4).ok_or_else(|| bad("short reply"))?;
    let msg = msg.get(..len).ok_or_else(|| bad("truncated reply"))?;
    if kind == NLMSG_ERROR {
        let error = u32_at(msg, NLMSG_HDR).ok_or_else(|| bad("short error"))?;
        return Err(nlmsg_error(error));
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
    fn request_layout() {
        let addr: Ipv6Addr = "fd50:dbc:41f2:4a3c:25c9:651:c297:fef3".parse().unwrap();
        let mut req = Request::new(RTM_NEWADDR, NLM_F_ACK, &ifaddrmsg6(7, 64));
        req.attr(IFA_LOCAL, &addr.octets());
        let b = req.bytes().to_vec();
        assert_eq!(b.len(), 16 + 8 + 20);
        assert_eq!(u32_at(&b, 0), Some(44));
        assert_eq!(u16_at(&b, 4), Some(RTM_NEWADDR));
        assert_eq!(u16_at(&b, 6), Some(NLM_F_REQUEST | NLM_F_ACK));
        assert_eq!(&b[16..20], &[libc::AF_INET6 as u8, 64, 0, 0]);
        assert_eq!(u32_at(&b, 20), Some(7));
        assert_eq!(u16_at(&b, 24), Some(20));
        assert_eq!(u16_at(&b, 26), Some(IFA_LOCAL));
        assert_eq!(&b[28..44], &addr.octets());
    }

    #[test]
    fn acks() {
        let mut m = vec![0u8; NLMSG_HDR + 4];
        m[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(check_ack(&m).is_ok());
        m[NLMSG_HDR..].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(
            check_ack(&m).unwrap_err().raw_os_error(),
            Some(libc::EEXIST)
        );
        assert_eq!(
            check_ack(&reply(&[])).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    /// The fuzzer's input: an `NLMSG_ERROR` whose error field is
    /// 0x80000000 (i32::MIN, whose negation overflows).
    #[test]
    fn error_code_that_overflows_negation() {
        let m: Vec<u8> = (0..20)
            .map(|i| {
                u8::from_str_radix(
                    &"0000000002000000000000000000000000000080"[2 * i..2 * i + 2],
                    16,
                )
                .unwrap()
            })
            .collect();
        assert_eq!(
            check_ack(&m).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        // parse_master honours nlmsg_len: 0 truncates to nothing; 20 reaches the field.
        assert_eq!(
            parse_master(&m).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut whole = m.clone();
        whole[0..4].copy_from_slice(&20u32.to_ne_bytes());
        assert_eq!(
            parse_master(&whole).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        // A positive "errno" is not an error the kernel sends either.
        whole[16..20].copy_from_slice(&5i32.to_ne_bytes());
        assert_eq!(
            check_ack(&whole).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        whole[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(
            parse_master(&whole).unwrap_err().raw_os_error(),
            Some(libc::EPERM)
        );
        // Every length field and offset at its extreme: errors, no panic.
        let mut huge = reply(&[]);
        huge[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse_master(&huge).is_err());
        let mut attr = reply(&[(3, b"tap0\0")]);
        attr[NLMSG_HDR + IFINFOMSG..][..2].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert_eq!(parse_master(&attr).unwrap(), None);
    }

    #[test]
    fn loopback_has_no_master() {
        assert_eq!(link_master(1).unwrap(), None);
    }
}
