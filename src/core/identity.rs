//! Node identity as IPOP 16.01 defines it: the UID is the SHA-1 of the dotted
//! IPv4 string, the overlay IPv6 is the /64 prefix followed by the UID's first
//! 64 bits, and the ring order is the UID as a 160-bit big-endian integer.

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use sha1::{Digest, Sha1};

/// IPOP's default `ip6_prefix`, `fd50:dbc:41f2:4a3c::/64`.
pub const DEFAULT_IP6_PREFIX: [u16; 4] = [0xfd50, 0x0dbc, 0x41f2, 0x4a3c];

/// A 160-bit node identifier and a point on the ring.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uid(pub [u8; 20]);

impl Uid {
    pub const ZERO: Uid = Uid([0; 20]);
    pub const LEN: usize = 20;

    /// `SHA-1("a.b.c.d")`, as `fxlib.gen_uid` in IPOP 16.01.
    pub fn from_ip4(ip4: Ipv4Addr) -> Uid {
        let mut text = heapless::String::<15>::new();
        // "255.255.255.255" is 15 bytes, so this cannot overflow.
        let _ = fmt::write(&mut text, format_args!("{ip4}"));
        Uid(Sha1::digest(text.as_bytes()).into())
    }

    pub fn from_slice(b: &[u8]) -> Option<Uid> {
        Some(Uid(b.try_into().ok()?))
    }

    /// Parses 40 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Uid> {
        let s = s.as_bytes();
        if s.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            *o = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
        }
        Some(Uid(out))
    }

    /// The overlay IPv6: `prefix` then the UID's first 64 bits.
    pub fn ip6(&self, prefix: [u16; 4]) -> Ipv6Addr {
        let u = &self.0;
        let g = |i: usize| u16::from_be_bytes([u[i], u[i + 1]]);
        Ipv6Addr::new(
            prefix[0],
            prefix[1],
            prefix[2],
            prefix[3],
            g(0),
            g(2),
            g(4),
            g(6),
        )
    }

    /// `self + 2^k mod 2^160`, the target of IPOP's chord `i` is `uid.add_pow2(159 - i)`.
    pub fn add_pow2(&self, k: u32) -> Uid {
        let mut addend = [0u8; 20];
        if k < 160 {
            addend[19 - (k / 8) as usize] = 1 << (k % 8);
        }
        self.wrapping_add(&Uid(addend))
    }

    pub fn wrapping_add(&self, other: &Uid) -> Uid {
        let mut out = [0u8; 20];
        let mut carry = 0u16;
        for i in (0..20).rev() {
            let s = self.0[i] as u16 + other.0[i] as u16 + carry;
            out[i] = s as u8;
            carry = s >> 8;
        }
        Uid(out)
    }

    pub fn wrapping_sub(&self, other: &Uid) -> Uid {
        let mut out = [0u8; 20];
        let mut borrow = 0i16;
        for i in (0..20).rev() {
            let mut d = self.0[i] as i16 - other.0[i] as i16 - borrow;
            borrow = 0;
            if d < 0 {
                d += 256;
                borrow = 1;
            }
            out[i] = d as u8;
        }
        Uid(out)
    }

    /// Clockwise distance from `self` to `to`: `(to - self) mod 2^160`.
    pub fn distance_cw(&self, to: &Uid) -> Uid {
        to.wrapping_sub(self)
    }

    /// True if `x` lies in the clockwise half-open arc `(self, end]`.
    pub fn arc_contains(&self, x: &Uid, end: &Uid) -> bool {
        let dx = self.distance_cw(x);
        dx != Uid::ZERO && dx <= self.distance_cw(end)
    }

    /// The first 8 hex digits, for logs and XMPP resources.
    pub fn short(&self) -> ShortUid {
        ShortUid(*self)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uid({})", self.short())
    }
}

pub struct ShortUid(Uid);

impl fmt::Display for ShortUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 .0[..4] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(s: &str) -> Uid {
        Uid::from_hex(s).unwrap()
    }

    // Vectors from the seed's ifconfig output (reference §3).
    #[test]
    fn seed_identities() {
        let cases = [
            (
                "192.168.1.100",
                "25c90651c297fef3cf787a191b93cce4c475c6b7",
                "fd50:dbc:41f2:4a3c:25c9:651:c297:fef3",
            ),
            (
                "10.0.3.100",
                "f46d6281ae45f92ed5dd0b85aae702ddfb38ec23",
                "fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e",
            ),
            (
                "192.168.1.101",
                "5e4fe169007b144d346f9a278264d17896ccc69f",
                "fd50:dbc:41f2:4a3c:5e4f:e169:7b:144d",
            ),
        ];
        for (ip, hex, ip6) in cases {
            let u = Uid::from_ip4(ip.parse().unwrap());
            assert_eq!(u.to_string(), hex);
            assert_eq!(u, uid(hex));
            assert_eq!(u.ip6(DEFAULT_IP6_PREFIX).to_string(), ip6);
        }
    }

    #[test]
    fn hex_rejects_garbage() {
        assert_eq!(Uid::from_hex("zz"), None);
        assert_eq!(Uid::from_hex(&"g".repeat(40)), None);
        assert_eq!(Uid::from_hex(&"A".repeat(40)), Some(Uid([0xaa; 20])));
    }

    #[test]
    fn ring_arithmetic() {
        let zero = Uid::ZERO;
        let max = Uid([0xff; 20]);
        assert_eq!(max.add_pow2(0), zero);
        assert_eq!(zero.add_pow2(159).0[0], 0x80);
        assert_eq!(zero.add_pow2(8).0[18], 1);
        assert_eq!(zero.add_pow2(160), zero);
        let half = zero.add_pow2(159);
        assert_eq!(half.add_pow2(159), zero);
        assert_eq!(zero.distance_cw(&max), max);
        assert_eq!(max.distance_cw(&zero).0[19], 1);
        let a = uid("25c90651c297fef3cf787a191b93cce4c475c6b7");
        let b = uid("f46d6281ae45f92ed5dd0b85aae702ddfb38ec23");
        assert_eq!(a.wrapping_add(&a.distance_cw(&b)), b);
        assert!(a.arc_contains(&b, &b));
        assert!(!a.arc_contains(&a, &b));
        assert!(!b.arc_contains(&uid(&"30".repeat(20)), &a));
        assert!(b.arc_contains(&uid(&"10".repeat(20)), &a));
    }
}
