//! Membership gossip inside links and path checks toward better candidates.
//!
//! Every linked peer periodically gets a GOSSIP payload: this node's own
//! record first, then a rotating batch of other members. A new node that
//! knows one bootstrap peer thus learns the whole group.

use std::net::SocketAddr;

use super::payload::{self, PeerInfo, GOSSIP, PROBE_ACK};
use super::peers::{Ident, Peer, Source};
use super::{Node, NodeDrop};
use crate::core::candidate::{Candidate, CandidateKind};
use crate::core::identity::Uid;
use crate::core::link::PeerId;
use crate::core::time::Instant;

/// Shortest gap between two rounds of news gossip.
const NEWS_INTERVAL: core::time::Duration = core::time::Duration::from_secs(1);

impl Node {
    pub(super) fn gossip_all(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            let Some((id, wanted)) = self.peers[i].as_ref().map(|p| (p.id, p.wanted)) else {
                continue;
            };
            // Links we want get gossip (which also keeps them and their NAT
            // mappings alive); links only the other side wants are kept by
            // the link layer's passive keepalives, and fade when neither does.
            if wanted && (self.is_up(now, id) || self.links.is_established(id)) {
                self.gossip_to(now, id);
            }
            self.maybe_probe(now, id);
        }
        self.gossip_cursor = self.gossip_cursor.wrapping_add(1);
    }

    /// Tells every up link (not only the ones we want) about members we
    /// just learned, at most once per NEWS_INTERVAL: a new member's record
    /// then floods the whole group, while quiet groups send only the
    /// periodic gossip on wanted links.
    pub(super) fn spread_news(&mut self, now: Instant) {
        if !self.news || now < self.next_news {
            return;
        }
        self.news = false;
        self.next_news = now + NEWS_INTERVAL;
        for i in 0..self.peers.len() {
            let Some(id) = self.peers[i].as_ref().map(|p| p.id) else {
                continue;
            };
            if self.is_up(now, id) {
                self.gossip_to(now, id);
            }
        }
    }

    /// Sends our record and as many others as fit in one payload.
    pub(super) fn gossip_to(&mut self, now: Instant, to: PeerId) {
        let limit = self.scratch.len().min(self.cfg.mtu as usize);
        let me = self.local_info();
        let mut at = 2;
        let mut count = 0u8;
        if !payload::write_peer_info(&mut self.scratch[..limit], &mut at, &me) {
            return;
        }
        count += 1;
        let n = self.peers.len();
        let start = if n == 0 {
            0
        } else {
            self.gossip_cursor.wrapping_mul(7) % n
        };
        for k in 0..n {
            let Some(p) = self.peers[(start + k) % n].as_ref() else {
                continue;
            };
            if p.id == to || count == u8::MAX {
                continue;
            }
            let Some(ident) = p.ident else { continue };
            let mut info = PeerInfo {
                uid: ident.uid,
                ip4: ident.ip4,
                public_key: p.public_key,
                candidates: p.candidates.clone(),
            };
            // Where we see the member's packets come from is a candidate too
            // (its NAT mapping, as STUN would report it), so static groups
            // link directly through cone NATs without a STUN server.
            if let Some(seen) = p.path {
                if !info.candidates.iter().any(|c| c.addr == seen) {
                    let c = Candidate::new(CandidateKind::PeerReflexive, seen, 65535);
                    if info.candidates.push(c).is_err() {
                        info.candidates[payload::MAX_GOSSIP_CANDIDATES - 1] = c;
                    }
                }
            }
            if !payload::write_peer_info(&mut self.scratch[..limit], &mut at, &info) {
                break;
            }
            count += 1;
        }
        self.scratch[0] = GOSSIP;
        self.scratch[1] = count;
        let fresh = self
            .peer_mut(to)
            .is_some_and(|p| !core::mem::replace(&mut p.greeted, true));
        self.send_scratch(now, to, at);
        self.offer_statement(now, to, fresh);
    }

    pub(super) fn handle_gossip(&mut self, now: Instant, from_id: PeerId, p: &[u8]) {
        let sender_key = self.peer(from_id).map(|p| p.public_key);
        for rec in payload::parse_gossip(p) {
            let Ok(info) = rec else {
                return self.count(NodeDrop::BadGossip);
            };
            if !self.valid_info(&info) {
                self.count(NodeDrop::BadGossip);
                continue;
            }
            let authoritative = sender_key == Some(info.public_key);
            self.learn(now, &info, Source::Gossip, authoritative.then_some(from_id));
        }
        // The sender's own record may just have told us who it is.
        self.sync_peer(now, from_id);
        self.run_topology(now);
        // A member that gossips to us but whose link we do not want (a
        // newcomer at its bootstrap peer) gets our gossip back: otherwise it
        // would only ever learn the members we knew when it joined.
        if self.peer(from_id).is_some_and(|p| !p.wanted) {
            self.gossip_to(now, from_id);
        }
    }

    /// The checks every announcement passes before it is believed: the UID
    /// is the SHA-1 of the address, the address is in the overlay subnet,
    /// the key is not degenerate.
    pub fn valid_info(&self, info: &PeerInfo) -> bool {
        info.uid == Uid::from_ip4(info.ip4)
            && self.subnet.contains(info.ip4)
            && info.ip4 != self.subnet.broadcast()
            && info.public_key != [0; 32]
    }

    /// Adds or updates a member. `via` is the link the member itself spoke
    /// on (its own record), which may bind an identity to a key we only
    /// knew from a static endpoint.
    pub(super) fn learn(
        &mut self,
        now: Instant,
        info: &PeerInfo,
        source: Source,
        via: Option<PeerId>,
    ) {
        if info.uid == self.uid || info.public_key == self.links.public_key() {
            return;
        }
        if self.links.refuses(&info.public_key) {
            // A member not yet told of the revocation still names it.
            return self.note_refused_uid(info.uid);
        }
        // One address, one key: the first binding wins unless the member
        // itself speaks through an authenticated link.
        if let Some(owner) = self.peer_by_uid(&info.uid) {
            let same_key = self.peer(owner).map(|p| p.public_key) == Some(info.public_key);
            if !same_key && via.is_none() {
                return self.count(NodeDrop::BadGossip);
            }
            if !same_key {
                if let Some(p) = self.peer_mut(owner) {
                    p.ident = None;
                }
            }
        }
        let Some(p) = self.learn_key(now, info.public_key, source) else {
            return;
        };
        let news = p.ident.map(|i| i.uid) != Some(info.uid);
        if p.ident.is_none() {
            log::info!(
                "member {} ({}) known via {}",
                info.ip4,
                info.uid.short(),
                source.as_str()
            );
        }
        p.ident = Some(Ident {
            uid: info.uid,
            ip4: info.ip4,
        });
        p.merge_candidates(&info.candidates);
        // Our TURN servers must let this member's addresses reach our
        // relayed addresses (one permission per reachable IP; permitting
        // again on every announcement keeps it from lapsing).
        let addrs: heapless::Vec<SocketAddr, { payload::MAX_GOSSIP_CANDIDATES }> =
            p.candidates.iter().map(|c| c.addr).collect();
        self.nat.permit(now, &addrs);
        self.drain_nat(now);
        self.route_cache = None;
        // A successor candidate: the topology decides whether to link.
        self.topology.handle_discovered(now, info.uid);
        if news {
            self.news = true;
        }
    }

    /// The peer entry for `key`, created if there is room.
    pub(super) fn learn_key(
        &mut self,
        now: Instant,
        key: [u8; 32],
        source: Source,
    ) -> Option<&mut Peer> {
        let id = match self.links.add_peer(key) {
            Ok(id) => id,
            Err(e) => {
                log::warn!("cannot add peer: {e:?}");
                return None;
            }
        };
        let slot = self.peer_slot(id)?;
        if slot.is_none() {
            *slot = Some(Peer::new(id, key, source, now));
        }
        slot.as_mut()
    }

    /// While a link runs over a worse path than one of the peer's candidates,
    /// checks the better candidate with an encrypted probe.
    fn maybe_probe(&mut self, now: Instant, id: PeerId) {
        if !self.is_up(now, id) {
            return;
        }
        let nonce = self.rng.next_u64();
        let Some(p) = self.peer_mut(id) else { return };
        let current = p.path_rank().unwrap_or(0);
        let Some(better) = p
            .candidates
            .iter()
            .filter(|c| Some(c.addr) != p.path && super::paths::rank(c.kind, c.addr) > current)
            .max_by_key(|c| (super::paths::rank(c.kind, c.addr), c.priority))
            .map(|c| c.addr)
        else {
            return;
        };
        p.probe = Some(super::peers::Probe {
            nonce,
            addr: better,
            sent: now,
        });
        self.send_probe(now, id, better, None, nonce);
    }

    pub(super) fn answer_probe(&mut self, now: Instant, id: PeerId, from: SocketAddr, p: &[u8]) {
        let Some(nonce) = p.get(1..9) else {
            return self.count(NodeDrop::Malformed);
        };
        self.scratch[0] = PROBE_ACK;
        self.scratch[1..9].copy_from_slice(nonce);
        let Some(slot) = self.pool.alloc() else {
            return;
        };
        match self
            .links
            .encapsulate(now, id, &self.scratch[..9], self.pool.buf(slot))
        {
            Ok(len) => self.push_udp(slot, len, from, self.rx_via),
            Err(_) => self.pool.release(slot),
        }
    }

    pub(super) fn handle_probe_ack(
        &mut self,
        _now: Instant,
        id: PeerId,
        from: SocketAddr,
        p: &[u8],
    ) {
        let Some(nonce) = p
            .get(1..9)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
        else {
            return self.count(NodeDrop::Malformed);
        };
        let via = self.rx_via;
        let Some(peer) = self.peer_mut(id) else {
            return;
        };
        // A probe of one better candidate, or the fallback probes of a dead
        // path (one nonce to every candidate: the first answer wins).
        let probed = peer
            .probe
            .is_some_and(|p| p.nonce == nonce && p.addr == from);
        let fallback = peer.fallback == Some(nonce);
        if (probed || fallback) && via.is_none() {
            log::info!("path to peer #{} moved to {from}", id.0);
            peer.path = Some(from);
            peer.relay = None;
            peer.probe = None;
            peer.fallback = None;
        }
    }

    /// True if the peer's path goes through a relay (TURN).
    pub fn path_is_relay(&self, id: PeerId) -> bool {
        self.peer(id).and_then(|p| p.path_kind()) == Some(CandidateKind::Relay)
    }
}
