//! The datapath: frames from the TAP into links, payloads from links onto
//! the TAP or onward to another member.

use std::net::SocketAddr;

use super::payload::{
    self, CONTROL, FLOOD, FRAGMENT, FRAME, GOSSIP, MEMBERS, PMTU_ACK, PMTU_PROBE, PROBE, PROBE_ACK,
    ROUTED,
};
use super::pool::Dest;
use super::{Node, NodeDrop};
use crate::core::frame::{self, EthFrame};
use crate::core::identity::Uid;
use crate::core::link::{LinkError, PeerId};
use crate::core::switch::{classify_l3, L3Dest};
use crate::core::time::Instant;

/// Most copies one node sends of one flooded frame (its links are bounded
/// by the topology's caps: 100 with IPOP's defaults).
const FLOOD_FANOUT: usize = 128;

impl Node {
    /// A frame read from the TAP.
    pub fn handle_tap_frame(&mut self, now: Instant, frame: &[u8]) {
        let Some(eth) = EthFrame::new(frame) else {
            self.count(NodeDrop::Malformed);
            return;
        };
        if frame.len() + payload::MAX_HEADER > self.scratch.len() {
            self.count(NodeDrop::TooBig);
            return;
        }
        if self.cfg.switchmode {
            self.switch_from_tap(now, &eth, frame);
        } else {
            self.route_from_tap(now, &eth, frame);
        }
    }

    fn route_from_tap(&mut self, now: Instant, eth: &EthFrame, frame: &[u8]) {
        match classify_l3(eth, &self.subnet) {
            L3Dest::Arp(req) => {
                if req.target_ip == self.cfg.ip4 {
                    return;
                }
                // As IPOP: "every overlay address is at ff:ff:ff:ff:ff:ff".
                let Some(slot) = self.pool.alloc() else {
                    return self.count(NodeDrop::PoolFull);
                };
                match req.write_reply(frame::BROADCAST_MAC, self.pool.buf(slot)) {
                    Some(n) => self.pool.push(slot, n, Dest::Tap),
                    None => self.pool.release(slot),
                }
            }
            L3Dest::Ipv4(dst) => {
                if dst == self.cfg.ip4 {
                    return;
                }
                match self.peer_by_ip4(dst) {
                    Some(id) => self.send_frame(now, id, frame),
                    // A member we have no record of yet: its UID follows
                    // from its address (IPOP's reverse map), and greedy
                    // routing needs nothing else.
                    None => self.route_to_uid(now, &Uid::from_ip4(dst), frame),
                }
            }
            L3Dest::Ipv6(dst) => {
                let prefix = self.cfg.ip6_prefix;
                let id = self
                    .peers
                    .iter()
                    .flatten()
                    .find(|p| p.owns_ip6(&dst, prefix))
                    .map(|p| p.id);
                match id {
                    Some(id) => self.send_frame(now, id, frame),
                    None => self.count(NodeDrop::NoRoute),
                }
            }
            L3Dest::Group => self.flood(now, frame),
            L3Dest::Ignore => {}
        }
    }

    fn switch_from_tap(&mut self, now: Instant, eth: &EthFrame, frame: &[u8]) {
        if !eth.is_group() {
            let target = self
                .macs
                .lookup(now, &eth.dst())
                .and_then(|uid| self.peer_by_uid(&uid));
            if let Some(id) = target {
                return self.send_frame(now, id, frame);
            }
        }
        self.flood(now, frame);
    }

    /// A copy to every linked member.
    fn flood(&mut self, now: Instant, frame: &[u8]) {
        let me = self.uid;
        self.flood_arc(now, &me, &me, frame);
        // Links the topology does not know yet get a plain copy.
        for i in 0..self.peers.len() {
            let Some(p) = self.peers[i].as_ref() else {
                continue;
            };
            let id = p.id;
            if !p.topo_up && self.is_up(now, id) {
                self.send_frame_direct(now, id, frame);
            }
        }
    }

    /// Sends FLOOD copies covering the arc `(self, arc_end)` of a group
    /// frame from `src`: each copy carries the end of the sub-arc its
    /// receiver is responsible for, so every member gets exactly one copy
    /// (the topology's routing has the rule and its proof).
    fn flood_arc(&mut self, now: Instant, src: &Uid, arc_end: &Uid, frame: &[u8]) {
        let mut targets: heapless::Vec<(Uid, Uid), FLOOD_FANOUT> = heapless::Vec::new();
        self.topology.flood_targets(arc_end, &mut targets);
        for (uid, end) in targets {
            let Some(id) = self.peer_by_uid(&uid) else {
                continue;
            };
            let n = payload::FLOOD_HEADER + frame.len();
            let Some(buf) = self.scratch.get_mut(..n) else {
                return self.count(NodeDrop::TooBig);
            };
            let _ = payload::write_flood_header(buf, src, &end);
            buf[payload::FLOOD_HEADER..].copy_from_slice(frame);
            self.clamp_scratch(id, payload::FLOOD_HEADER, 1, n);
            self.send_scratch(now, id, n);
        }
    }

    fn handle_flood(&mut self, now: Instant, from_id: PeerId, p: &[u8]) {
        let Some(f) = payload::parse_flood(p) else {
            return self.count(NodeDrop::Malformed);
        };
        let (src, end) = (f.src, f.arc_end);
        if self.refuses_routed(&src, &src) {
            return;
        }
        self.deliver(now, from_id, Some(src), f.frame, false);
        if end != self.uid {
            self.flood_arc(now, &src, &end, f.frame);
        }
    }

    /// Sends a frame to member `id`: directly when linked, else relayed
    /// along the ring (and a direct link is attempted meanwhile).
    fn send_frame(&mut self, now: Instant, id: PeerId, frame: &[u8]) {
        if self.is_up(now, id) {
            return self.send_frame_direct(now, id, frame);
        }
        let dst = self.peer(id).and_then(|p| p.uid());
        if let Some(hop) = dst.and_then(|d| self.next_hop(now, &d, None)) {
            let Some(dst) = dst else { return };
            // Relayed traffic counts toward an on-demand link (16.01's
            // threshold_on_demand); meanwhile the frame is relayed, not dropped.
            self.topology.handle_traffic(dst, frame.len());
            return self.send_routed(now, hop, payload::MAX_HOPS, &self.uid.clone(), &dst, frame);
        }
        // No relay either: a direct link is the only way. Hold one frame
        // for the handshake, then send it.
        if let Some(p) = self.peer_mut(id) {
            if !p.wanted {
                p.wanted = true;
                p.next_attempt = now;
            }
        }
        self.attempt_connections(now);
        self.hold_pending(id, frame);
    }

    /// Relays a frame toward a member known only by UID.
    fn route_to_uid(&mut self, now: Instant, dst: &Uid, frame: &[u8]) {
        match self.greedy_hop(now, dst, None) {
            Some(hop) => {
                let me = self.uid;
                self.send_routed(now, hop, payload::MAX_HOPS, &me, dst, frame);
            }
            None => self.count(NodeDrop::NoRoute),
        }
    }

    fn send_frame_direct(&mut self, now: Instant, id: PeerId, frame: &[u8]) {
        let n = frame.len() + 1;
        let Some(buf) = self.scratch.get_mut(..n) else {
            return self.count(NodeDrop::TooBig);
        };
        buf[0] = FRAME;
        buf[1..].copy_from_slice(frame);
        self.clamp_scratch(id, 1, 1, n);
        self.send_scratch(now, id, n);
    }

    pub(super) fn send_routed(
        &mut self,
        now: Instant,
        via: PeerId,
        hops: u8,
        src: &Uid,
        dst: &Uid,
        frame: &[u8],
    ) {
        let n = payload::ROUTED_HEADER + frame.len();
        let Some(buf) = self.scratch.get_mut(..n) else {
            return self.count(NodeDrop::TooBig);
        };
        let _ = payload::write_routed_header(buf, hops, src, dst);
        buf[payload::ROUTED_HEADER..].copy_from_slice(frame);
        self.clamp_scratch(via, payload::ROUTED_HEADER, payload::ROUTED_HEADER, n);
        self.send_scratch(now, via, n);
    }

    /// Encrypts `scratch[..n]` for `id` and queues it on the peer's path,
    /// in pieces if it does not fit the path MTU.
    pub(super) fn send_scratch(&mut self, now: Instant, id: PeerId, n: usize) {
        let Some(dst) = self.peer(id).and_then(|p| p.path) else {
            return self.hold_pending_scratch(id, n);
        };
        let max = self.max_plaintext(id);
        if n > max && self.links.is_established(id) {
            return self.send_fragments(now, id, dst, n, max);
        }
        let Some(slot) = self.pool.alloc() else {
            return self.count(NodeDrop::PoolFull);
        };
        match self
            .links
            .encapsulate(now, id, &self.scratch[..n], self.pool.buf(slot))
        {
            Ok(len) => {
                let via = self.via_for(id, dst);
                self.push_udp(slot, len, dst, via)
            }
            Err(LinkError::NoSession) => {
                self.pool.release(slot);
                self.hold_pending_scratch(id, n);
                self.initiate(now, id);
            }
            Err(_) => {
                self.pool.release(slot);
                self.count(NodeDrop::NoRoute);
            }
        }
    }

    fn hold_pending(&mut self, id: PeerId, frame: &[u8]) {
        let n = frame.len() + 1;
        let Some(buf) = self.scratch.get_mut(..n) else {
            return;
        };
        buf[0] = FRAME;
        buf[1..].copy_from_slice(frame);
        self.hold_pending_scratch(id, n);
    }

    /// Keeps the latest payload for `id` until its handshake completes.
    fn hold_pending_scratch(&mut self, id: PeerId, n: usize) {
        let Some(p) = self.peers.get_mut(id.0 as usize).and_then(|p| p.as_mut()) else {
            return;
        };
        let slot = match p.pending.take() {
            Some((slot, _)) => slot,
            None => match self.pool.alloc() {
                Some(s) => s,
                None => return self.count(NodeDrop::PoolFull),
            },
        };
        self.pool.buf(slot)[..n].copy_from_slice(&self.scratch[..n]);
        if let Some(p) = self.peers.get_mut(id.0 as usize).and_then(|p| p.as_mut()) {
            p.pending = Some((slot, n));
        }
    }

    pub(super) fn flush_pending(&mut self, now: Instant, id: PeerId) {
        let Some((slot, n)) = self.peer_mut(id).and_then(|p| p.pending.take()) else {
            return;
        };
        self.scratch[..n].copy_from_slice(&self.pool.buf(slot)[..n]);
        self.pool.release(slot);
        self.send_scratch(now, id, n);
    }

    /// A decrypted payload from linked peer `from_id`.
    pub(super) fn handle_payload(
        &mut self,
        now: Instant,
        from_id: PeerId,
        from: SocketAddr,
        p: &[u8],
    ) {
        match p.first().copied() {
            Some(FRAME) => {
                let src = self.peer(from_id).and_then(|p| p.uid());
                self.deliver(now, from_id, src, &p[1..], true)
            }
            Some(ROUTED) => self.handle_routed(now, from_id, p),
            Some(GOSSIP) => self.handle_gossip(now, from_id, p),
            Some(CONTROL) => self.handle_control(now, from_id, p),
            Some(FLOOD) => self.handle_flood(now, from_id, p),
            Some(PROBE) => self.answer_probe(now, from_id, from, p),
            Some(PROBE_ACK) => self.handle_probe_ack(now, from_id, from, p),
            Some(MEMBERS) => self.handle_members(now, from_id, p),
            Some(FRAGMENT) => self.handle_fragment(now, from_id, from, p),
            Some(PMTU_PROBE) => self.answer_pmtu_probe(now, from_id, from, p),
            Some(PMTU_ACK) => self.handle_pmtu_ack(now, from_id, p),
            _ => self.count(NodeDrop::UnknownPayload),
        }
    }

    fn handle_routed(&mut self, now: Instant, from_id: PeerId, p: &[u8]) {
        let Some(r) = payload::parse_routed(p) else {
            return self.count(NodeDrop::Malformed);
        };
        if self.refuses_routed(&r.src, &r.dst) {
            return;
        }
        if r.dst == self.uid {
            return self.deliver(now, from_id, Some(r.src), r.frame, false);
        }
        if r.hops <= 1 {
            return self.count(NodeDrop::HopLimit);
        }
        let via = match self.peer_by_uid(&r.dst) {
            Some(id) if self.is_up(now, id) => Some(id),
            // Fallback relays only toward members we know exist.
            Some(_) => self.next_hop(now, &r.dst, Some(from_id)),
            None => self.greedy_hop(now, &r.dst, Some(from_id)),
        };
        let Some(via) = via else {
            return self.count(NodeDrop::NoRoute);
        };
        if let Some(p) = self.peer_mut(via) {
            p.forwarded_packets += 1;
            p.forwarded_bytes += r.frame.len() as u64;
        }
        let (src, dst) = (r.src, r.dst);
        self.send_routed(now, via, r.hops - 1, &src, &dst, r.frame);
    }

    /// Writes a frame from member `src` to the TAP.
    fn deliver(
        &mut self,
        now: Instant,
        link: PeerId,
        src: Option<Uid>,
        frame: &[u8],
        direct: bool,
    ) {
        let Some(eth) = EthFrame::new(frame) else {
            return self.count(NodeDrop::Malformed);
        };
        if self.cfg.switchmode {
            if let Some(src) = src {
                self.macs.learn(now, eth.src(), src);
            }
        } else if direct && !self.source_allowed(link, &eth) {
            return self.count(NodeDrop::DisallowedSource);
        }
        let room = self.frame_room(link);
        let Some(slot) = self.pool.alloc() else {
            return self.count(NodeDrop::PoolFull);
        };
        let buf = self.pool.buf(slot);
        let Some(out) = buf.get_mut(..frame.len()) else {
            self.pool.release(slot);
            return self.count(NodeDrop::TooBig);
        };
        out.copy_from_slice(frame);
        if let Some(room) = room {
            crate::core::mss::clamp(out, room);
        }
        if !self.cfg.switchmode {
            // L3: the kernel only takes frames addressed to the TAP itself.
            frame::set_dst_mac(out, self.tap_mac);
        }
        self.pool.push(slot, frame.len(), Dest::Tap);
    }

    /// L3 anti-spoofing: a member may only send from its own overlay address.
    fn source_allowed(&self, link: PeerId, eth: &EthFrame) -> bool {
        let Some(ident) = self.peer(link).and_then(|p| p.ident) else {
            return false;
        };
        if let Some(src) = eth.ipv4_src() {
            return src == ident.ip4;
        }
        if let Some(src) = eth.ipv6_src() {
            return src.is_unicast_link_local() || src == ident.uid.ip6(self.cfg.ip6_prefix);
        }
        true
    }

    pub(super) fn peer_by_ip4(&mut self, ip: std::net::Ipv4Addr) -> Option<PeerId> {
        if let Some((cached, id)) = self.route_cache {
            if cached == ip && self.peer(id).and_then(|p| p.ident).map(|i| i.ip4) == Some(ip) {
                return Some(id);
            }
        }
        let id = self
            .peers
            .iter()
            .flatten()
            .find(|p| p.ident.map(|i| i.ip4) == Some(ip))?
            .id;
        self.route_cache = Some((ip, id));
        Some(id)
    }

    pub(super) fn peer_by_uid(&self, uid: &Uid) -> Option<PeerId> {
        self.peers
            .iter()
            .flatten()
            .find(|p| p.uid().as_ref() == Some(uid))
            .map(|p| p.id)
    }

    /// Greedy clockwise routing (IPOP's `forward_msg`): the linked member
    /// with the most progress toward `dst` that does not pass it. Falls back
    /// to any other linked member so small meshes with one blocked pair still
    /// relay; the hop limit bounds what that fallback can cost.
    pub(super) fn next_hop(
        &self,
        now: Instant,
        dst: &Uid,
        exclude: Option<PeerId>,
    ) -> Option<PeerId> {
        self.greedy_hop(now, dst, exclude).or_else(|| {
            // Small meshes with one blocked pair still relay through anyone;
            // the hop limit bounds what that costs.
            self.peers
                .iter()
                .flatten()
                .find(|p| Some(p.id) != exclude && p.uid().is_some() && self.is_up(now, p.id))
                .map(|p| p.id)
        })
    }

    /// Strict greedy clockwise routing: `None` when no linked member makes
    /// progress toward `dst` (we are the closest member before it).
    fn greedy_hop(&self, now: Instant, dst: &Uid, exclude: Option<PeerId>) -> Option<PeerId> {
        if let Some(id) = self
            .topology
            .next_hop(dst)
            .and_then(|u| self.peer_by_uid(&u))
        {
            if Some(id) != exclude && self.is_up(now, id) {
                return Some(id);
            }
        }
        let mut best: Option<(Uid, PeerId)> = None;
        for p in self.peers.iter().flatten() {
            if Some(p.id) == exclude || !self.is_up(now, p.id) {
                continue;
            }
            let Some(uid) = p.uid() else { continue };
            if &uid == dst {
                return Some(p.id);
            }
            let from = best.map(|b| b.0).unwrap_or(self.uid);
            if from.arc_contains(&uid, dst) {
                best = Some((uid, p.id));
            }
        }
        best.map(|b| b.1)
    }
}
