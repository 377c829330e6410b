//! The DNS stub-resolver codec (RFC 1035): one recursive question out, the
//! A or AAAA records of the answer in. Enough to find the XMPP, STUN and
//! TURN servers and static peers by name without `getaddrinfo`, which
//! blocks: on a router that boots before its uplink, a blocking lookup
//! would stall the whole single-threaded loop (the packet path included).
//!
//! CNAME chains need no following: a recursive server puts the chain's
//! final address records in the same answer, and only those are read.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const HEADER_LEN: usize = 12;
/// Longest encoded name (RFC 1035 3.1).
const MAX_NAME: usize = 255;
/// Addresses kept from one answer.
pub const MAX_ADDRS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The name cannot be asked: an empty or over-long label, or too long.
    BadName,
    /// The output buffer cannot hold the query.
    BufferTooSmall,
    /// Not the answer to our question (ID, flags or question differ);
    /// the shell keeps waiting for the real one.
    NotOurs,
    /// Cut short or inconsistent with its own counts.
    Malformed,
    /// NXDOMAIN: the name does not exist.
    NoSuchName,
    /// Any other error code from the server.
    Server(u8),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::BadName => f.write_str("not a valid host name"),
            DnsError::BufferTooSmall => f.write_str("query buffer too small"),
            DnsError::NotOurs => f.write_str("answer to another question"),
            DnsError::Malformed => f.write_str("malformed DNS answer"),
            DnsError::NoSuchName => f.write_str("no such name"),
            DnsError::Server(code) => write!(f, "DNS server error (rcode {code})"),
        }
    }
}

/// Writes a query for `name` (recursion desired) into `out`; its length.
pub fn write_query(out: &mut [u8], id: u16, name: &str, qtype: u16) -> Result<usize, DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() + 2 > MAX_NAME {
        return Err(DnsError::BadName);
    }
    let len = HEADER_LEN + name.len() + 2 + 4;
    if out.len() < len {
        return Err(DnsError::BufferTooSmall);
    }
    out[..HEADER_LEN].copy_from_slice(&[0; HEADER_LEN]);
    out[0..2].copy_from_slice(&id.to_be_bytes());
    out[2] = 0x01; // RD
    out[5] = 1; // QDCOUNT
    let mut at = HEADER_LEN;
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DnsError::BadName);
        }
        out[at] = label.len() as u8;
        out[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
        at += 1 + label.len();
    }
    out[at] = 0;
    out[at + 1..at + 3].copy_from_slice(&qtype.to_be_bytes());
    out[at + 3..at + 5].copy_from_slice(&CLASS_IN.to_be_bytes());
    Ok(at + 5)
}

/// Reads the answer to query `id` for `name`/`qtype`: the addresses of
/// type `qtype` (possibly none: the name exists without such records).
pub fn read_answer(
    msg: &[u8],
    id: u16,
    name: &str,
    qtype: u16,
) -> Result<heapless::Vec<IpAddr, MAX_ADDRS>, DnsError> {
    let header = msg.get(..HEADER_LEN).ok_or(DnsError::Malformed)?;
    let be16 = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let is_response = header[2] & 0x80 != 0;
    let opcode = (header[2] >> 3) & 0x0f;
    if be16(0) != id || !is_response || opcode != 0 || be16(4) != 1 {
        return Err(DnsError::NotOurs);
    }
    let answers = be16(6);
    let mut r = Reader {
        msg,
        at: HEADER_LEN,
    };
    if !r.name_equals(name)? || r.u16()? != qtype || r.u16()? != CLASS_IN {
        return Err(DnsError::NotOurs);
    }
    match header[3] & 0x0f {
        0 => {}
        3 => return Err(DnsError::NoSuchName),
        code => return Err(DnsError::Server(code)),
    }
    let mut addrs = heapless::Vec::new();
    for _ in 0..answers {
        r.skip_name()?;
        let (rtype, class) = (r.u16()?, r.u16()?);
        r.take(4)?; // TTL: we re-resolve on our own schedule
        let len = usize::from(r.u16()?);
        let data = r.take(len)?;
        if class != CLASS_IN || rtype != qtype {
            continue;
        }
        let addr = match (rtype, data.len()) {
            (TYPE_A, 4) => IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
            (TYPE_AAAA, 16) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(data);
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => return Err(DnsError::Malformed),
        };
        // A full list is fine: the first few addresses are plenty.
        let _ = addrs.push(addr);
    }
    Ok(addrs)
}

struct Reader<'m> {
    msg: &'m [u8],
    at: usize,
}

impl<'m> Reader<'m> {
    fn take(&mut self, n: usize) -> Result<&'m [u8], DnsError> {
        let s = self
            .msg
            .get(self.at..self.at + n)
            .ok_or(DnsError::Malformed)?;
        self.at += n;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Skips a possibly compressed name.
    fn skip_name(&mut self) -> Result<(), DnsError> {
        loop {
            let len = self.take(1)?[0];
            match len {
                0 => return Ok(()),
                l if l & 0xc0 == 0xc0 => {
                    self.take(1)?; // a pointer ends the name
                    return Ok(());
                }
                l if l & 0xc0 != 0 => return Err(DnsError::Malformed),
                l => {
                    self.take(usize::from(l))?;
                }
            }
        }
    }

    /// Reads the question's name (never compressed: it is the first name in
    /// the message) and compares it with `name`, ignoring ASCII case.
    fn name_equals(&mut self, name: &str) -> Result<bool, DnsError> {
        let name = name.strip_suffix('.').unwrap_or(name);
        let mut want = name.split('.');
        let mut equal = true;
        loop {
            let len = self.take(1)?[0];
            if len == 0 {
                return Ok(equal && want.next().is_none());
            }
            if len & 0xc0 != 0 {
                return Err(DnsError::Malformed);
            }
            let label = self.take(usize::from(len))?;
            equal &= want
                .next()
                .is_some_and(|w| w.as_bytes().eq_ignore_ascii_case(label));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `example.org A`, ID 0x1234, recursion desired.
    const QUERY: [u8; 29] = [
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, //
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'o', b'r', b'g', 0, //
        0, 1, 0, 1,
    ];

    /// The answer a recursive server gives for `www.example.org A` when it
    /// is a CNAME to `example.org`: CNAME then A, with compressed names.
    fn cname_answer() -> Vec<u8> {
        let mut m = vec![
            0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, // header: 2 answers
            3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'o', b'r', b'g',
            0, 0, 1, 0, 1, // question at offset 12
        ];
        // www.example.org CNAME example.org (pointer to offset 16)
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 2, 0xc0, 16]);
        // example.org A 192.0.2.7
        m.extend_from_slice(&[0xc0, 16, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 7]);
        m
    }

    #[test]
    fn query_bytes() {
        let mut buf = [0u8; 64];
        assert_eq!(write_query(&mut buf, 0x1234, "example.org", TYPE_A), Ok(29));
        assert_eq!(buf[..29], QUERY);
        // A trailing dot (absolute name) encodes the same.
        assert_eq!(
            write_query(&mut buf, 0x1234, "example.org.", TYPE_A),
            Ok(29)
        );
        assert_eq!(buf[..29], QUERY);
        let n = write_query(&mut buf, 7, "a.b", TYPE_AAAA).unwrap();
        assert_eq!(&buf[12..n], &[1, b'a', 1, b'b', 0, 0, 28, 0, 1]);
    }

    #[test]
    fn bad_names_and_small_buffers() {
        let mut buf = [0u8; 512];
        for bad in ["", ".", "a..b", ".a", &"x".repeat(64), &"a.".repeat(130)] {
            assert_eq!(
                write_query(&mut buf, 1, bad, TYPE_A),
                Err(DnsError::BadName),
                "{bad:?}"
            );
        }
        assert_eq!(
            write_query(&mut buf[..28], 1, "example.org", TYPE_A),
            Err(DnsError::BufferTooSmall)
        );
    }

    #[test]
    fn cname_chain_yields_the_final_address() {
        let m = cname_answer();
        let addrs = read_answer(&m, 0xabcd, "WWW.Example.org", TYPE_A).unwrap();
        assert_eq!(addrs.as_slice(), &[IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))]);
    }

    #[test]
    fn aaaa_answer() {
        let mut m = vec![
            0, 9, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, b'h', 0, 0, 28, 0, 1,
        ];
        m.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let addrs = read_answer(&m, 9, "h", TYPE_AAAA).unwrap();
        assert_eq!(
            addrs.as_slice(),
            &["2001:db8::1".parse::<IpAddr>().unwrap()]
        );
        // Asked for A, this is not our answer.
        assert_eq!(read_answer(&m, 9, "h", TYPE_A), Err(DnsError::NotOurs));
    }

    /// An AAAA answer to `h` (ID 9) whose record says `rdlength` and
    /// carries `data`.
    fn aaaa_with(rdlength: u16, data: &[u8]) -> Vec<u8> {
        let mut m = vec![
            0, 9, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, b'h', 0, 0, 28, 0, 1,
        ];
        m.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60]);
        m.extend_from_slice(&rdlength.to_be_bytes());
        m.extend_from_slice(data);
        m
    }

    #[test]
    fn malformed_aaaa_answers() {
        let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            read_answer(&aaaa_with(16, &v6), 9, "h", TYPE_AAAA)
                .unwrap()
                .len(),
            1
        );
        // An AAAA record of 4 or 15 bytes (an A record mislabelled, a cut one).
        assert_eq!(
            read_answer(&aaaa_with(4, &v6[..4]), 9, "h", TYPE_AAAA),
            Err(DnsError::Malformed)
        );
        assert_eq!(
            read_answer(&aaaa_with(15, &v6[..15]), 9, "h", TYPE_AAAA),
            Err(DnsError::Malformed)
        );
        // rdlength beyond the message; the message cut inside the record,
        // inside its header, and right after the question.
        assert_eq!(
            read_answer(&aaaa_with(17, &v6), 9, "h", TYPE_AAAA),
            Err(DnsError::Malformed)
        );
        let whole = aaaa_with(16, &v6);
        for cut in [whole.len() - 1, whole.len() - 16, 25, 19] {
            assert_eq!(
                read_answer(&whole[..cut], 9, "h", TYPE_AAAA),
                Err(DnsError::Malformed),
                "cut at {cut}"
            );
        }
        // Two answers announced, one present.
        let mut two = whole.clone();
        two[7] = 2;
        assert_eq!(
            read_answer(&two, 9, "h", TYPE_AAAA),
            Err(DnsError::Malformed)
        );
        // The record's name starts with a reserved label type (0b10).
        let mut reserved = whole;
        reserved[19] = 0x80;
        assert_eq!(
            read_answer(&reserved, 9, "h", TYPE_AAAA),
            Err(DnsError::Malformed)
        );
    }

    #[test]
    fn foreign_answers_are_not_ours() {
        let m = cname_answer();
        assert_eq!(
            read_answer(&m, 0xabce, "www.example.org", TYPE_A),
            Err(DnsError::NotOurs)
        );
        assert_eq!(
            read_answer(&m, 0xabcd, "ww.example.org", TYPE_A),
            Err(DnsError::NotOurs)
        );
        assert_eq!(
            read_answer(&m, 0xabcd, "www.example.org.uk", TYPE_A),
            Err(DnsError::NotOurs)
        );
        // Our own query echoed back is not a response.
        assert_eq!(
            read_answer(&QUERY, 0x1234, "example.org", TYPE_A),
            Err(DnsError::NotOurs)
        );
    }

    #[test]
    fn error_codes() {
        let mut m = cname_answer();
        m[3] = 0x83; // NXDOMAIN
        assert_eq!(
            read_answer(&m, 0xabcd, "www.example.org", TYPE_A),
            Err(DnsError::NoSuchName)
        );
        m[3] = 0x82; // SERVFAIL
        assert_eq!(
            read_answer(&m, 0xabcd, "www.example.org", TYPE_A),
            Err(DnsError::Server(2))
        );
    }

    #[test]
    fn truncations_and_garbage_never_panic() {
        let m = cname_answer();
        for cut in 0..m.len() {
            let r = read_answer(&m[..cut], 0xabcd, "www.example.org", TYPE_A);
            assert!(
                matches!(r, Err(DnsError::Malformed) | Err(DnsError::NotOurs)),
                "cut {cut}: {r:?}"
            );
        }
        // A bad A record length.
        let mut bad = m.clone();
        let n = bad.len();
        bad[n - 5] = 3;
        bad.truncate(n - 1);
        assert_eq!(
            read_answer(&bad, 0xabcd, "www.example.org", TYPE_A),
            Err(DnsError::Malformed)
        );
        let mut rng = crate::core::rng::Rng::from_seed([5; 32]);
        let mut buf = m.clone();
        for _ in 0..20_000 {
            let i = rng.below(buf.len() as u64) as usize;
            buf[i] = rng.below(256) as u8;
            let _ = read_answer(&buf, 0xabcd, "www.example.org", TYPE_A);
        }
    }
}
