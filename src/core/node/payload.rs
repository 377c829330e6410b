//! What travels inside an encrypted link: the first byte of every decrypted
//! transport payload says what follows (docs/PROTOCOL.md, "Inside a link").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::core::candidate::{Candidate, CandidateKind};
use crate::core::identity::Uid;

/// An Ethernet frame for the receiver's TAP.
pub const FRAME: u8 = 0x01;
/// `hops(1) src_uid(20) dst_uid(20) frame`: relayed greedily along the ring.
pub const ROUTED: u8 = 0x02;
/// `count(1) peer_info*`: members the sender knows (its own info first).
pub const GOSSIP: u8 = 0x03;
/// A topology control message (see "Topology control messages").
pub const CONTROL: u8 = 0x04;
/// `nonce(8)`: path check; answered with PROBE_ACK on the path it came from.
pub const PROBE: u8 = 0x05;
pub const PROBE_ACK: u8 = 0x06;
/// `src_uid(20) arc_end(20) frame`: bounded flood of a group frame.
pub const FLOOD: u8 = 0x07;
/// A signed membership statement (core::member); 0x08..0x0A are taken.
pub const MEMBERS: u8 = 0x0B;
/// `id(4) index(1) count(1) total(2) piece`: part of a payload too big for
/// the link's path MTU (see fragment.rs).
pub use super::fragment::FRAGMENT;
/// `size(2) padding`: path MTU probe, its datagram exactly `size` bytes.
pub const PMTU_PROBE: u8 = 0x09;
/// `size(2)`: the answer to a PMTU_PROBE that arrived.
pub const PMTU_ACK: u8 = 0x0a;

pub const ROUTED_HEADER: usize = 1 + 1 + 20 + 20;
pub const FLOOD_HEADER: usize = 1 + 20 + 20;
/// The largest overlay header in front of a frame.
pub const MAX_HEADER: usize = ROUTED_HEADER;
/// Hop limit of relayed frames; rings of 10,000 nodes route in < 20 hops.
pub const MAX_HOPS: u8 = 32;
pub const MAX_GOSSIP_CANDIDATES: usize = 8;

/// A member as gossip describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub uid: Uid,
    pub ip4: Ipv4Addr,
    pub public_key: [u8; 32],
    pub candidates: heapless::Vec<Candidate, MAX_GOSSIP_CANDIDATES>,
}

/// A parsed ROUTED header.
pub struct Routed<'a> {
    pub hops: u8,
    pub src: Uid,
    pub dst: Uid,
    pub frame: &'a [u8],
}

pub fn parse_routed(p: &[u8]) -> Option<Routed<'_>> {
    Some(Routed {
        hops: *p.get(1)?,
        src: Uid::from_slice(p.get(2..22)?)?,
        dst: Uid::from_slice(p.get(22..42)?)?,
        frame: p.get(ROUTED_HEADER..)?,
    })
}

pub fn write_routed_header(out: &mut [u8], hops: u8, src: &Uid, dst: &Uid) -> Option<usize> {
    let h = out.get_mut(..ROUTED_HEADER)?;
    h[0] = ROUTED;
    h[1] = hops;
    h[2..22].copy_from_slice(&src.0);
    h[22..42].copy_from_slice(&dst.0);
    Some(ROUTED_HEADER)
}

pub struct Flood<'a> {
    pub src: Uid,
    pub arc_end: Uid,
    pub frame: &'a [u8],
}

pub fn parse_flood(p: &[u8]) -> Option<Flood<'_>> {
    Some(Flood {
        src: Uid::from_slice(p.get(1..21)?)?,
        arc_end: Uid::from_slice(p.get(21..41)?)?,
        frame: p.get(FLOOD_HEADER..)?,
    })
}

pub fn write_flood_header(out: &mut [u8], src: &Uid, arc_end: &Uid) -> Option<usize> {
    let h = out.get_mut(..FLOOD_HEADER)?;
    h[0] = FLOOD;
    h[1..21].copy_from_slice(&src.0);
    h[21..41].copy_from_slice(&arc_end.0);
    Some(FLOOD_HEADER)
}

const KIND_HOST: u8 = 0;
const KIND_SRFLX: u8 = 1;
const KIND_PRFLX: u8 = 2;
const KIND_RELAY: u8 = 3;

/// Appends one peer record; returns false (writing nothing) if it does not fit.
pub fn write_peer_info(out: &mut [u8], at: &mut usize, info: &PeerInfo) -> bool {
    let mut need = 20 + 4 + 32 + 1;
    for c in &info.candidates {
        need += 2 + 2 + if c.addr.is_ipv4() { 4 } else { 16 };
    }
    let Some(o) = out.get_mut(*at..*at + need) else {
        return false;
    };
    o[..20].copy_from_slice(&info.uid.0);
    o[20..24].copy_from_slice(&info.ip4.octets());
    o[24..56].copy_from_slice(&info.public_key);
    o[56] = info.candidates.len() as u8;
    let mut i = 57;
    for c in &info.candidates {
        o[i] = match c.kind {
            CandidateKind::Host => KIND_HOST,
            CandidateKind::ServerReflexive => KIND_SRFLX,
            CandidateKind::PeerReflexive => KIND_PRFLX,
            CandidateKind::Relay => KIND_RELAY,
        };
        match c.addr.ip() {
            IpAddr::V4(a) => {
                o[i + 1] = 4;
                o[i + 2..i + 6].copy_from_slice(&a.octets());
                i += 6;
            }
            IpAddr::V6(a) => {
                o[i + 1] = 6;
                o[i + 2..i + 18].copy_from_slice(&a.octets());
                i += 18;
            }
        }
        o[i..i + 2].copy_from_slice(&c.addr.port().to_be_bytes());
        i += 2;
    }
    *at += need;
    true
}

/// Iterates the records of a GOSSIP payload; stops at the first malformed one.
pub struct GossipIter<'a> {
    rest: &'a [u8],
    left: u8,
}

pub fn parse_gossip(p: &[u8]) -> GossipIter<'_> {
    GossipIter {
        left: p.get(1).copied().unwrap_or(0),
        rest: p.get(2..).unwrap_or_default(),
    }
}

impl Iterator for GossipIter<'_> {
    type Item = Result<PeerInfo, ()>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = self.parse_one();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

impl GossipIter<'_> {
    fn parse_one(&mut self) -> Result<PeerInfo, ()> {
        let b = self.rest;
        let uid = Uid::from_slice(b.get(..20).ok_or(())?).ok_or(())?;
        let ip4: [u8; 4] = b.get(20..24).ok_or(())?.try_into().map_err(|_| ())?;
        let public_key: [u8; 32] = b.get(24..56).ok_or(())?.try_into().map_err(|_| ())?;
        let n = *b.get(56).ok_or(())? as usize;
        if n > MAX_GOSSIP_CANDIDATES {
            return Err(());
        }
        let mut candidates = heapless::Vec::new();
        let mut i = 57;
        for _ in 0..n {
            let kind = match *b.get(i).ok_or(())? {
                KIND_HOST => CandidateKind::Host,
                KIND_SRFLX => CandidateKind::ServerReflexive,
                KIND_PRFLX => CandidateKind::PeerReflexive,
                KIND_RELAY => CandidateKind::Relay,
                _ => return Err(()),
            };
            let (ip, len): (IpAddr, usize) = match b.get(i + 1).ok_or(())? {
                4 => {
                    let a: [u8; 4] = b.get(i + 2..i + 6).ok_or(())?.try_into().map_err(|_| ())?;
                    (Ipv4Addr::from(a).into(), 4)
                }
                6 => {
                    let a: [u8; 16] = b.get(i + 2..i + 18).ok_or(())?.try_into().map_err(|_| ())?;
                    (Ipv6Addr::from(a).into(), 16)
                }
                _ => return Err(()),
            };
            let port: [u8; 2] = b
                .get(i + 2 + len..i + 4 + len)
                .ok_or(())?
                .try_into()
                .map_err(|_| ())?;
            let addr = SocketAddr::new(ip, u16::from_be_bytes(port));
            // Our own priority rule, not the sender's: a peer cannot promote its candidates.
            let _ = candidates.push(Candidate::new(kind, addr, 65535));
            i += 4 + len;
        }
        self.rest = b.get(i..).ok_or(())?;
        Ok(PeerInfo {
            uid,
            ip4: Ipv4Addr::from(ip4),
            public_key,
            candidates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PeerInfo {
        let ip4 = Ipv4Addr::new(10, 0, 3, 1);
        let mut candidates = heapless::Vec::new();
        candidates
            .push(Candidate::new(
                CandidateKind::Host,
                "10.99.0.1:5800".parse().unwrap(),
                65535,
            ))
            .unwrap();
        candidates
            .push(Candidate::new(
                CandidateKind::Relay,
                "[fd00::1]:3478".parse().unwrap(),
                65535,
            ))
            .unwrap();
        PeerInfo {
            uid: Uid::from_ip4(ip4),
            ip4,
            public_key: [7; 32],
            candidates,
        }
    }

    #[test]
    fn gossip_round_trip_and_vector() {
        let mut buf = [0u8; 256];
        buf[0] = GOSSIP;
        buf[1] = 1;
        let mut at = 2;
        assert!(write_peer_info(&mut buf, &mut at, &info()));
        assert_eq!(at, 2 + 57 + 8 + 20);
        // Candidate encoding: kind, family, address, port (big-endian).
        assert_eq!(buf[2 + 57..2 + 65], [0, 4, 10, 99, 0, 1, 0x16, 0xa8]);
        let got: Vec<_> = parse_gossip(&buf[..at]).collect();
        assert_eq!(got, vec![Ok(info())]);
        // Every truncation is an error, never a panic.
        for cut in 2..at {
            assert_eq!(parse_gossip(&buf[..cut]).next(), Some(Err(())));
        }
        // Too small a buffer writes nothing.
        let mut at = 2;
        assert!(!write_peer_info(&mut buf[..60], &mut at, &info()));
        assert_eq!(at, 2);
    }

    #[test]
    fn gossip_matches_protocol_doc() {
        let doc = include_str!("../../../docs/PROTOCOL.md");
        let hex: String = doc
            .split("```hex gossip-vector")
            .nth(1)
            .and_then(|s| s.split("```").next())
            .expect("vector in docs/PROTOCOL.md")
            .split_whitespace()
            .collect();
        let mut buf = [0u8; 256];
        buf[0] = GOSSIP;
        buf[1] = 1;
        let mut at = 2;
        assert!(write_peer_info(&mut buf, &mut at, &info()));
        let ours: String = buf[..at].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(ours, hex);
    }

    #[test]
    fn routed_header() {
        let mut buf = [0u8; 64];
        let (a, b) = (Uid([1; 20]), Uid([2; 20]));
        assert_eq!(write_routed_header(&mut buf, 3, &a, &b), Some(42));
        buf[42] = 0xee;
        let r = parse_routed(&buf[..43]).unwrap();
        assert_eq!((r.hops, r.src, r.dst, r.frame), (3, a, b, &[0xee][..]));
        assert!(parse_routed(&buf[..41]).is_none());
        assert_eq!(write_flood_header(&mut buf, &a, &b), Some(41));
        let f = parse_flood(&buf[..41]).unwrap();
        assert_eq!((f.src, f.arc_end, f.frame.len()), (a, b, 0));
    }
}
