//! Which of a peer's addresses the link runs over, and the check that
//! notices a path gone dead and moves the link to another candidate
//! without dropping it (the session is the same on every path).
//!
//! Rules, in plain words:
//! * A path's rank is its kind's type preference (RFC 8445: host, then
//!   peer-reflexive, server-reflexive, relay); between two direct paths of
//!   one kind, IPv6 ranks above IPv4: no NAT on the way, so no mapping to
//!   time out, and no CGNAT's shared port pool.
//! * Better-ranked candidates are checked with an encrypted PROBE at every
//!   gossip round (`maybe_probe`); the link moves when the PROBE_ACK comes.
//! * Every PATH_CHECK, a path silent for PATH_SILENCE gets a PROBE of its
//!   own. If that is not answered within another PATH_SILENCE, the path is
//!   taken as dead (an IPv6 route withdrawn, a firewall, a NAT rebinding)
//!   and every other candidate gets a PROBE with one nonce; the first ACK
//!   moves the link there (the fastest working path; a better one is found
//!   again by the gossip-round probes). A better path that comes back is found again by
//!   the gossip-round probes.

use core::time::Duration;
use std::net::SocketAddr;

use super::payload::PROBE;
use super::peers::Probe;
use super::{Node, PATH_SILENCE};
use crate::core::candidate::CandidateKind;
use crate::core::link::PeerId;
use crate::core::time::Instant;

/// How often silent paths are checked.
pub(super) const PATH_CHECK: Duration = Duration::from_secs(2);

/// The rank of a path of `kind` to `addr`; higher is better.
pub fn rank(kind: CandidateKind, addr: SocketAddr) -> u32 {
    let direct_v6 = kind != CandidateKind::Relay && addr.is_ipv6();
    kind.type_preference() * 2 + u32::from(direct_v6)
}

impl Node {
    /// When `check_paths` wants to run next.
    pub(super) fn path_check_timeout(&self) -> Option<Instant> {
        self.peers
            .iter()
            .flatten()
            .any(|p| p.path.is_some())
            .then_some(self.next_path_check)
    }

    /// Probes silent paths and falls back from dead ones (rules above).
    pub(super) fn check_paths(&mut self, now: Instant) {
        if now < self.next_path_check {
            return;
        }
        self.next_path_check = now + PATH_CHECK;
        for i in 0..self.peers.len() {
            let Some(id) = self.peers[i].as_ref().map(|p| p.id) else {
                continue;
            };
            if self.is_up(now, id) {
                self.check_path(now, id);
            }
        }
    }

    fn check_path(&mut self, now: Instant, id: PeerId) {
        let nonce = self.rng.next_u64();
        let Some(p) = self.peer_mut(id) else { return };
        let Some(path) = p.path else { return };
        if now.saturating_since(p.path_rx) <= PATH_SILENCE {
            p.path_check = None;
            return;
        }
        let check = match p.path_check {
            Some(c) if c.addr == path => c,
            _ => {
                p.path_check = Some(Probe {
                    nonce,
                    addr: path,
                    sent: now,
                });
                let via = p.relay;
                return self.send_probe(now, id, path, via, nonce);
            }
        };
        if now.saturating_since(check.sent) < PATH_SILENCE {
            return;
        }
        // Dead: every other candidate gets a PROBE with one nonce, best
        // first; the first PROBE_ACK moves the link (`handle_probe_ack`).
        let mut alts: heapless::Vec<
            (u32, u32, SocketAddr),
            { super::payload::MAX_GOSSIP_CANDIDATES },
        > = p
            .candidates
            .iter()
            .filter(|c| c.addr != path)
            .map(|c| (rank(c.kind, c.addr), c.priority, c.addr))
            .collect();
        p.path_check = None;
        alts.sort_unstable_by(|a, b| b.cmp(a));
        p.fallback = (!alts.is_empty()).then_some(nonce);
        log::info!(
            "path to peer #{} via {path} silent; probing {} other candidate(s)",
            id.0,
            alts.len()
        );
        for (_, _, addr) in alts {
            self.send_probe(now, id, addr, None, nonce);
        }
    }

    /// An encrypted PROBE with `nonce` to `addr` (through our TURN client
    /// `via` when the path runs through it).
    pub(super) fn send_probe(
        &mut self,
        now: Instant,
        id: PeerId,
        addr: SocketAddr,
        via: Option<usize>,
        nonce: u64,
    ) {
        self.scratch[0] = PROBE;
        self.scratch[1..9].copy_from_slice(&nonce.to_le_bytes());
        let Some(slot) = self.pool.alloc() else {
            return;
        };
        match self
            .links
            .encapsulate(now, id, &self.scratch[..9], self.pool.buf(slot))
        {
            Ok(len) => self.push_udp(slot, len, addr, via),
            Err(_) => self.pool.release(slot),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_ranks_above_ipv4_only_between_direct_paths_of_one_kind() {
        let v4: SocketAddr = "192.0.2.1:5800".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:5800".parse().unwrap();
        use CandidateKind::*;
        assert_eq!(rank(Host, v4), 252);
        assert_eq!(rank(Host, v6), 253);
        assert_eq!(rank(PeerReflexive, v6), 221);
        assert_eq!(rank(ServerReflexive, v4), 200);
        assert_eq!((rank(Relay, v4), rank(Relay, v6)), (0, 0));
        // Kind first: an IPv4 host path beats any IPv6 reflexive one.
        assert!(rank(Host, v4) > rank(PeerReflexive, v6));
    }
}
