//! Batched UDP system calls: `recvmmsg` fills up to [`BATCH`] datagrams in
//! one call, `sendmmsg` sends up to [`BATCH`] in one. Buffers, addresses and
//! message headers are allocated once, at start; receiving and sending
//! allocate nothing. A kernel without the calls (ENOSYS: old kernels,
//! some qemu-user builds) is remembered and each batch then goes through
//! one `recvfrom`/`sendto` per datagram, with the same results.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams per system call. 32 fills a batch at about 1 Gbit/s of
/// 1280-byte packets with a 300 µs event-loop turn, and stays small (the
/// receive side holds 32 buffers).
pub const BATCH: usize = 32;

/// Datagrams received in one call, each in a buffer of its own.
pub struct RecvBatch {
    bufs: Vec<u8>,
    slot: usize,
    iov: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    hdrs: Vec<libc::mmsghdr>,
    /// Datagrams filled by the last `recv`.
    len: usize,
    /// `recvmmsg` answered ENOSYS once: use `recvfrom`.
    plain: bool,
    /// Datagrams longer than a slot, dropped (the kernel cut them short).
    pub truncated: u64,
}

impl RecvBatch {
    /// `slot` bytes per datagram: the node's largest datagram
    /// (`NodeConfig::buf_size`).
    pub fn new(slot: usize) -> RecvBatch {
        RecvBatch {
            bufs: vec![0; slot * BATCH],
            slot,
            // SAFETY: all-zero is a valid value of these plain C structs.
            iov: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            addrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            len: 0,
            plain: false,
            truncated: 0,
        }
    }

    /// Receives what is queued on `fd` (non-blocking), up to [`BATCH`];
    /// returns how many arrived (0: nothing queued, or an error).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.len = 0;
        if !self.plain {
            self.point();
            // SAFETY: every header points at its own iovec, buffer slot and
            // address, all alive and of the lengths given, for BATCH entries.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.hdrs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT as _,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                self.len = n as usize;
                return Ok(self.len);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOSYS) {
                return Err(e);
            }
            log::debug!("recvmmsg: not supported here; one recvfrom per datagram");
            self.plain = true;
        }
        while self.len < BATCH {
            let i = self.len;
            let buf = &mut self.bufs[i * self.slot..(i + 1) * self.slot];
            let mut alen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: the buffer and the address are valid for the lengths given.
            let n = unsafe {
                libc::recvfrom(
                    fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast(),
                    &mut alen,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if self.len > 0 || e.kind() == io::ErrorKind::WouldBlock {
                    break;
                }
                return Err(e);
            }
            self.hdrs[i].msg_len = n as libc::c_uint;
            // MSG_TRUNC on recvfrom returns the full length: mark it cut.
            self.hdrs[i].msg_hdr.msg_flags = if n as usize > self.slot {
                libc::MSG_TRUNC
            } else {
                0
            };
            self.len += 1;
        }
        Ok(self.len)
    }

    /// Datagram `i` of the last `recv`: its sender and bytes. None for a
    /// truncated datagram or an address family the node does not speak
    /// (counted in `truncated`, or skipped).
    pub fn get(&mut self, i: usize) -> Option<(SocketAddr, &mut [u8])> {
        if i >= self.len {
            return None;
        }
        let h = &self.hdrs[i];
        if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            self.truncated += 1;
            return None;
        }
        let len = (h.msg_len as usize).min(self.slot);
        let from = from_storage(&self.addrs[i])?;
        Some((from, &mut self.bufs[i * self.slot..i * self.slot + len]))
    }

    /// Points every header at its slot, iovec and address (cheap; done per
    /// call so that nothing depends on where the vectors' memory sits).
    fn point(&mut self) {
        let base = self.bufs.as_mut_ptr();
        for i in 0..BATCH {
            self.iov[i] = libc::iovec {
                // SAFETY: i * slot is within bufs (BATCH slots).
                iov_base: unsafe { base.add(i * self.slot) }.cast(),
                iov_len: self.slot,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iov[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
    }
}

/// Datagrams gathered for one `sendmmsg`: copied in (the node lends each
/// output only until its next `poll_transmit`), sent by [`SendBatch::send`].
pub struct SendBatch {
    bufs: Vec<u8>,
    slot: usize,
    lens: Vec<usize>,
    iov: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    addr_lens: Vec<libc::socklen_t>,
    to: Vec<SocketAddr>,
    hdrs: Vec<libc::mmsghdr>,
    len: usize,
    plain: bool,
}

/// A datagram the kernel refused: where it went, its length, the error.
pub struct SendFailure {
    pub to: SocketAddr,
    pub len: usize,
    pub error: io::Error,
}

impl SendBatch {
    pub fn new(slot: usize) -> SendBatch {
        SendBatch {
            bufs: vec![0; slot * BATCH],
            slot,
            lens: vec![0; BATCH],
            // SAFETY: all-zero is a valid value of these plain C structs.
            iov: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            addrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            addr_lens: vec![0; BATCH],
            to: vec![SocketAddr::from(([0, 0, 0, 0], 0)); BATCH],
            hdrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            len: 0,
            plain: false,
        }
    }

    pub fn is_full(&self) -> bool {
        self.len == BATCH
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues a copy of `bytes` for `to`; false when the batch is full or
    /// the datagram is longer than a slot (then send it on its own).
    pub fn push(&mut self, to: SocketAddr, bytes: &[u8]) -> bool {
        let i = self.len;
        if i >= BATCH || bytes.len() > self.slot {
            return false;
        }
        self.bufs[i * self.slot..i * self.slot + bytes.len()].copy_from_slice(bytes);
        self.lens[i] = bytes.len();
        self.addr_lens[i] = to_storage(to, &mut self.addrs[i]);
        self.to[i] = to;
        self.len += 1;
        true
    }

    /// Sends every queued datagram (one `sendmmsg` when none fails) and
    /// empties the batch; `failed` hears of each refused datagram.
    pub fn send(&mut self, fd: RawFd, mut failed: impl FnMut(SendFailure)) {
        let n = self.len;
        self.len = 0;
        if n == 0 {
            return;
        }
        let base = self.bufs.as_mut_ptr();
        for i in 0..n {
            self.iov[i] = libc::iovec {
                // SAFETY: i * slot is within bufs (BATCH slots).
                iov_base: unsafe { base.add(i * self.slot) }.cast(),
                iov_len: self.lens[i],
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = self.addr_lens[i];
            h.msg_iov = &mut self.iov[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        let mut start = 0;
        while start < n {
            let sent = if self.plain {
                -1
            } else {
                // SAFETY: headers start..n point at live iovecs, slots and
                // addresses of the lengths given.
                unsafe {
                    libc::sendmmsg(
                        fd,
                        self.hdrs[start..].as_mut_ptr(),
                        (n - start) as libc::c_uint,
                        libc::MSG_DONTWAIT as _,
                    )
                }
            };
            if sent > 0 {
                start += sent as usize;
                continue;
            }
            let mut error = io::Error::last_os_error();
            if !self.plain && error.raw_os_error() == Some(libc::ENOSYS) {
                log::debug!("sendmmsg: not supported here; one sendto per datagram");
                self.plain = true;
            }
            if self.plain {
                // SAFETY: the slot and the address are valid for the lengths given.
                let r = unsafe {
                    libc::sendto(
                        fd,
                        self.iov[start].iov_base,
                        self.lens[start],
                        libc::MSG_DONTWAIT as _,
                        (&self.addrs[start] as *const libc::sockaddr_storage).cast(),
                        self.addr_lens[start],
                    )
                };
                if r >= 0 {
                    start += 1;
                    continue;
                }
                error = io::Error::last_os_error();
            }
            // The datagram at `start` failed (sendmmsg reports the first
            // failure as the call's error): count it, go on with the rest.
            failed(SendFailure {
                to: self.to[start],
                len: self.lens[start],
                error,
            });
            start += 1;
        }
    }
}

fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match s.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                u32::from_be(a.sin_addr.s_addr).into(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn to_storage(to: SocketAddr, s: &mut libc::sockaddr_storage) -> libc::socklen_t {
    // SAFETY: sockaddr_storage is large and aligned enough for both.
    match to {
        SocketAddr::V4(a) => {
            let sin: &mut libc::sockaddr_in =
                unsafe { &mut *(s as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            };
            sin.sin_zero = [0; 8];
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6: &mut libc::sockaddr_in6 =
                unsafe { &mut *(s as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        (a, b)
    }

    #[test]
    fn sends_and_receives_a_batch_in_order() {
        let (a, b) = pair();
        let to = b.local_addr().unwrap();
        let mut tx = SendBatch::new(256);
        for i in 0..40u8 {
            if !tx.push(to, &[i; 100][..usize::from(i) + 1]) {
                assert_eq!(i, BATCH as u8, "full after BATCH datagrams");
                break;
            }
        }
        assert!(tx.is_full());
        let mut failures = 0;
        tx.send(a.as_raw_fd(), |_| failures += 1);
        assert_eq!(failures, 0);
        assert!(tx.is_empty());
        let mut rx = RecvBatch::new(256);
        let mut seen = 0;
        // Loopback delivers synchronously: everything is queued already.
        while seen < BATCH {
            let n = rx.recv(b.as_raw_fd()).unwrap();
            assert!(n > 0, "datagrams missing after {seen}");
            for i in 0..n {
                let (from, bytes) = rx.get(i).unwrap();
                assert_eq!(from, a.local_addr().unwrap());
                assert_eq!(bytes, &[seen as u8; 100][..seen + 1]);
                seen += 1;
            }
        }
        assert_eq!(
            rx.recv(b.as_raw_fd()).unwrap_or(0),
            0,
            "nothing more queued"
        );
    }

    #[test]
    fn long_datagrams_are_counted_and_dropped() {
        let (a, b) = pair();
        a.send_to(&[1; 300], b.local_addr().unwrap()).unwrap();
        a.send_to(&[2; 64], b.local_addr().unwrap()).unwrap();
        let mut rx = RecvBatch::new(128);
        assert_eq!(rx.recv(b.as_raw_fd()).unwrap(), 2);
        assert!(rx.get(0).is_none());
        assert_eq!(rx.truncated, 1);
        assert_eq!(rx.get(1).unwrap().1, &[2; 64][..]);
        // Too long for a send slot: refused, to be sent on its own.
        let mut tx = SendBatch::new(128);
        assert!(!tx.push(b.local_addr().unwrap(), &[0; 129]));
        assert!(tx.is_empty());
    }

    #[test]
    fn each_refused_datagram_is_reported_and_the_rest_still_go() {
        let (a, b) = pair();
        let to = b.local_addr().unwrap();
        let mut tx = SendBatch::new(256);
        assert!(tx.push(to, b"one"));
        // Port 0 is not a destination: EINVAL for this one only.
        let nowhere = SocketAddr::from(([127, 0, 0, 1], 0));
        assert!(tx.push(nowhere, b"two"));
        assert!(tx.push(to, b"three"));
        let mut failed = Vec::new();
        tx.send(a.as_raw_fd(), |f| failed.push((f.to, f.len)));
        assert_eq!(failed, vec![(nowhere, 3)]);
        let mut rx = RecvBatch::new(256);
        let n = rx.recv(b.as_raw_fd()).unwrap();
        let got: Vec<Vec<u8>> = (0..n)
            .filter_map(|i| rx.get(i).map(|d| d.1.to_vec()))
            .collect();
        assert_eq!(got, vec![b"one".to_vec(), b"three".to_vec()]);
    }

    #[test]
    fn without_the_batch_calls_one_call_per_datagram_gives_the_same() {
        // What a kernel answering ENOSYS leaves: the per-datagram path.
        let (a, b) = pair();
        let to = b.local_addr().unwrap();
        let mut tx = SendBatch::new(256);
        tx.plain = true;
        let nowhere = SocketAddr::from(([127, 0, 0, 1], 0));
        for (dst, bytes) in [(to, &b"x"[..]), (nowhere, b"yy"), (to, b"zzz")] {
            assert!(tx.push(dst, bytes));
        }
        let mut failed = Vec::new();
        tx.send(a.as_raw_fd(), |f| failed.push((f.to, f.len)));
        assert_eq!(failed, vec![(nowhere, 2)]);
        a.send_to(&[7; 200], to).unwrap();
        let mut rx = RecvBatch::new(128);
        rx.plain = true;
        assert_eq!(rx.recv(b.as_raw_fd()).unwrap(), 3);
        assert_eq!(rx.get(0).unwrap().1, b"x");
        assert_eq!(
            rx.get(1).unwrap(),
            (a.local_addr().unwrap(), &mut b"zzz".to_owned()[..])
        );
        assert!(rx.get(2).is_none(), "200 bytes do not fit a 128-byte slot");
        assert_eq!(rx.truncated, 1);
        assert_eq!(rx.recv(b.as_raw_fd()).unwrap_or(0), 0);
    }

    #[test]
    fn addresses_round_trip_both_families() {
        let mut s: libc::sockaddr_storage = unsafe { zeroed() };
        for a in [
            SocketAddr::from(([10, 1, 2, 3], 47350)),
            "[fd00::1:2]:47351".parse().unwrap(),
        ] {
            to_storage(a, &mut s);
            assert_eq!(from_storage(&s), Some(a));
        }
    }
}
