//! The members this node knows: identity, key, candidates, current path.
//! A fixed table indexed by the link layer's `PeerId`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::core::candidate::{Candidate, CandidateKind};
use crate::core::identity::Uid;
use crate::core::link::PeerId;
use crate::core::pmtu::PathMtu;
use crate::core::time::Instant;

use super::payload::MAX_GOSSIP_CANDIDATES;
use super::pool::Slot;

/// How this node learned of a peer (shown by `ipop status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `static_peers` in the config.
    Static,
    /// Told by another member inside a link.
    Gossip,
    /// Announced through the signalling server (XMPP).
    Signal,
    /// It contacted us first.
    Inbound,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Static => "static",
            Source::Gossip => "gossip",
            Source::Signal => "xmpp",
            Source::Inbound => "inbound",
        }
    }
}

pub struct Peer {
    pub id: PeerId,
    pub public_key: [u8; 32],
    /// Known once the peer's own announcement arrived (static peers start
    /// with only a key and an endpoint).
    pub ident: Option<Ident>,
    pub candidates: heapless::Vec<Candidate, MAX_GOSSIP_CANDIDATES>,
    /// Where authenticated packets from the peer last came from; we send there.
    pub path: Option<SocketAddr>,
    /// The TURN client (ours) `path` goes through: sends are wrapped for it.
    pub relay: Option<usize>,
    /// When the last authenticated packet arrived on `path`.
    pub path_rx: Instant,
    pub source: Source,
    /// Whether this node wants a direct link (topology or static config).
    pub wanted: bool,
    pub next_attempt: Instant,
    pub attempts: u32,
    /// One plaintext payload held while the first handshake completes.
    pub pending: Option<(Slot, usize)>,
    /// Frames this node relayed on behalf of others through this link.
    pub forwarded_packets: u64,
    pub forwarded_bytes: u64,
    pub probe: Option<Probe>,
    /// A PROBE of the current path while it is silent (see `paths`).
    pub path_check: Option<Probe>,
    /// The nonce of the PROBEs sent to every other candidate when the
    /// path was found dead; the first PROBE_ACK moves the link.
    pub fallback: Option<u64>,
    /// Whether our gossip went out on the current session.
    pub greeted: bool,
    /// Whether the topology was last told this link is up.
    pub topo_up: bool,
    /// Serial of the membership statement last sent on this link.
    pub members_sent: u64,
    /// Path MTU of `path` (through `relay`), found by probing.
    pub pmtu: PathMtu,
    /// The path `pmtu` was measured on; another path starts over.
    pub pmtu_path: Option<(SocketAddr, Option<usize>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident {
    pub uid: Uid,
    pub ip4: Ipv4Addr,
}

/// An outstanding path check toward a better candidate.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub nonce: u64,
    pub addr: SocketAddr,
    pub sent: Instant,
}

impl Peer {
    pub fn new(id: PeerId, public_key: [u8; 32], source: Source, now: Instant) -> Peer {
        Peer {
            id,
            public_key,
            ident: None,
            candidates: heapless::Vec::new(),
            path: None,
            relay: None,
            path_rx: now,
            source,
            wanted: false,
            next_attempt: now,
            attempts: 0,
            pending: None,
            forwarded_packets: 0,
            forwarded_bytes: 0,
            probe: None,
            path_check: None,
            fallback: None,
            greeted: false,
            members_sent: 0,
            topo_up: false,
            pmtu: PathMtu::new(now, crate::core::pmtu::BASE),
            pmtu_path: None,
        }
    }

    pub fn uid(&self) -> Option<Uid> {
        self.ident.map(|i| i.uid)
    }

    /// Adds or refreshes candidates, keeping the best `MAX_GOSSIP_CANDIDATES`.
    ///
    /// When full, room is made in the kind with the most entries: a member
    /// behind a symmetric NAT shows every observer another port, and that
    /// flood of peer-reflexive addresses must not push out its one relayed
    /// candidate, the path of last resort. Within a kind, the newest of
    /// equal priority wins (fresh NAT mappings beat stale ones).
    pub fn merge_candidates(&mut self, new: &[Candidate]) {
        for c in new {
            if let Some(old) = self.candidates.iter_mut().find(|o| o.addr == c.addr) {
                if c.priority > old.priority {
                    *old = *c;
                }
                continue;
            }
            let Err(c) = self.candidates.push(*c) else {
                continue;
            };
            let count = |k| self.candidates.iter().filter(|o| o.kind == k).count();
            let Some(crowded) = self
                .candidates
                .iter()
                .map(|o| o.kind)
                .max_by_key(|&k| count(k))
            else {
                continue;
            };
            // A new kind, or a kind as crowded as the worst, takes room from it.
            let from = if count(c.kind) >= count(crowded) {
                c.kind
            } else {
                crowded
            };
            let victim = self
                .candidates
                .iter_mut()
                .filter(|o| o.kind == from)
                .min_by_key(|o| o.priority);
            if let Some(v) = victim {
                if from != c.kind || v.priority <= c.priority {
                    *v = c;
                }
            }
        }
    }

    /// The kind of the candidate the current path goes to.
    pub fn path_kind(&self) -> Option<CandidateKind> {
        let path = self.path?;
        if self.relay.is_some() {
            return Some(CandidateKind::Relay);
        }
        Some(self.kind_of(path))
    }

    /// The rank of the current path (`paths::rank`).
    pub fn path_rank(&self) -> Option<u32> {
        Some(super::paths::rank(self.path_kind()?, self.path?))
    }

    /// What kind of address `a` is for this peer: one of its candidates, or
    /// peer-reflexive (seen on a packet, e.g. a NAT mapping).
    pub fn kind_of(&self, a: SocketAddr) -> CandidateKind {
        self.candidates
            .iter()
            .find(|c| c.addr == a)
            .map(|c| c.kind)
            .unwrap_or(CandidateKind::PeerReflexive)
    }

    pub fn owns_ip6(&self, ip: &Ipv6Addr, prefix: [u16; 4]) -> bool {
        match self.ident {
            Some(i) => i.uid.ip6(prefix) == *ip,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(kind: CandidateKind, port: u16) -> Candidate {
        Candidate::new(kind, SocketAddr::from(([203, 0, 113, 17], port)), 65535)
    }

    #[test]
    fn a_prflx_flood_keeps_the_relay_candidate() {
        let mut p = Peer::new(PeerId(0), [1; 32], Source::Gossip, Instant::ZERO);
        let relay = Candidate::new(
            CandidateKind::Relay,
            SocketAddr::from(([203, 0, 113, 1], 49321)),
            65535,
        );
        p.merge_candidates(&[
            cand(CandidateKind::Host, 5800),
            cand(CandidateKind::ServerReflexive, 38965),
            relay,
        ]);
        // Every observer of a symmetric NAT reports another port.
        for port in 40000..40020 {
            p.merge_candidates(&[cand(CandidateKind::PeerReflexive, port)]);
        }
        assert_eq!(p.candidates.len(), MAX_GOSSIP_CANDIDATES);
        fn kinds(p: &Peer, k: CandidateKind) -> usize {
            p.candidates.iter().filter(|c| c.kind == k).count()
        }
        assert_eq!(kinds(&p, CandidateKind::Relay), 1);
        assert_eq!(kinds(&p, CandidateKind::Host), 1);
        assert_eq!(kinds(&p, CandidateKind::ServerReflexive), 1);
        assert_eq!(
            kinds(&p, CandidateKind::PeerReflexive),
            MAX_GOSSIP_CANDIDATES - 3
        );
        assert!(p.candidates.contains(&relay));
        // The newest mappings stay.
        assert!(p
            .candidates
            .contains(&cand(CandidateKind::PeerReflexive, 40019)));
        // A new kind takes room from the crowded one; a re-announced
        // address is not duplicated.
        p.merge_candidates(&[relay, cand(CandidateKind::Relay, 49400)]);
        assert_eq!(kinds(&p, CandidateKind::Relay), 2);
        assert_eq!(p.candidates.len(), MAX_GOSSIP_CANDIDATES);
    }
}
