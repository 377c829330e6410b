//! Frames of any TAP MTU over paths of any MTU: each link's path MTU is
//! probed (core::pmtu), payloads that do not fit it are fragmented inside
//! the link (fragment.rs), and TCP SYNs get an MSS that fits it (core::mss).

use std::net::SocketAddr;

use super::fragment::{self, Piece};
use super::payload::{PMTU_ACK, PMTU_PROBE};
use super::{Node, NodeDrop};
use crate::core::link::{PeerId, TRANSPORT_OVERHEAD};
use crate::core::mss;
use crate::core::time::Instant;

/// UDP header.
const UDP_HEADER: usize = 8;
/// Largest TURN framing of a datagram sent through our relay: a Send
/// indication to an IPv6 peer (20 header + 24 XOR-PEER-ADDRESS + 4 DATA
/// header + 3 padding); ChannelData needs 4 + 3.
pub const RELAY_FRAMING: usize = 51;
/// Underlay datagram size assumed until the shell says otherwise.
pub const DEFAULT_UNDERLAY_MTU: u16 = 1500;
/// PMTU_PROBE / PMTU_ACK: `type(1) size(2)`.
const PROBE_LEN: usize = 3;

impl Node {
    /// The MTU of the underlay devices (the largest one carrying a host
    /// candidate): the ceiling of every link's path MTU search.
    pub fn set_underlay_mtu(&mut self, now: Instant, mtu: u16) {
        if mtu == self.underlay_mtu {
            return;
        }
        self.underlay_mtu = mtu;
        let ceiling = self.pmtu_ceiling();
        for p in self.peers.iter_mut().flatten() {
            p.pmtu.set_ceiling(now, ceiling);
        }
    }

    /// Probing above what a pool buffer holds would prove nothing useful.
    fn pmtu_ceiling(&self) -> u16 {
        let buf = u16::try_from(self.pool.buf_size()).unwrap_or(u16::MAX);
        self.underlay_mtu.min(buf)
    }

    /// Bytes around a link payload in one underlay datagram toward `id`.
    fn datagram_overhead(&self, id: PeerId) -> usize {
        let Some(p) = self.peer(id) else {
            return 40 + UDP_HEADER + TRANSPORT_OVERHEAD + RELAY_FRAMING;
        };
        // Through our relay the datagram goes to the TURN server, whose
        // family we do not track here: count IPv6's header.
        let (ip, relay) = match (p.relay, p.path) {
            (Some(_), _) => (40, RELAY_FRAMING),
            (None, Some(SocketAddr::V6(_))) => (40, 0),
            (None, _) => (20, 0),
        };
        ip + UDP_HEADER + TRANSPORT_OVERHEAD + relay
    }

    /// The local stack refused a datagram of `len` bytes to `to` as too big
    /// (EMSGSIZE: a device MTU, a route MTU learned from ICMP, IPsec
    /// overhead): every link whose datagrams go there learns it at once.
    pub fn handle_too_big(&mut self, now: Instant, to: SocketAddr, len: usize) {
        let ip = if to.is_ipv4() { 20 } else { 40 };
        let Ok(size) = u16::try_from(len + ip + UDP_HEADER) else {
            return;
        };
        for i in 0..self.peers.len() {
            let Some(id) = self.peers.get(i).and_then(|p| p.as_ref()).map(|p| p.id) else {
                continue;
            };
            self.sync_pmtu(now, id);
            let relay_server = self
                .peer(id)
                .and_then(|p| p.relay)
                .and_then(|r| self.nat.relay_server(r));
            let Some(p) = self.peer_mut(id) else { continue };
            let goes_there = match p.relay {
                None => p.path == Some(to),
                Some(_) => relay_server == Some(to),
            };
            if goes_there {
                p.pmtu.handle_too_big(now, size);
            }
        }
    }

    /// The largest link payload that fits one datagram toward `id`.
    pub(super) fn max_plaintext(&self, id: PeerId) -> usize {
        let pmtu = self
            .peer(id)
            .map_or(crate::core::pmtu::BASE, |p| p.pmtu.current());
        usize::from(pmtu).saturating_sub(self.datagram_overhead(id))
    }

    /// The path MTU of `id`'s link, as status shows it.
    pub(super) fn path_mtu(&self, id: PeerId) -> Option<(u16, bool)> {
        let p = self.peer(id)?;
        p.path?;
        Some((p.pmtu.current(), p.pmtu.searching()))
    }

    /// A new path (or relay) starts its measurement over.
    pub(super) fn sync_pmtu(&mut self, now: Instant, id: PeerId) {
        let ceiling = self.pmtu_ceiling();
        let Some(p) = self.peer_mut(id) else { return };
        let path = p.path.map(|a| (a, p.relay));
        if p.pmtu_path != path {
            p.pmtu_path = path;
            p.pmtu.reset(now, ceiling);
        }
    }

    /// Links whose path MTU is measured: a session and a path to send on.
    fn measured(&self, id: PeerId) -> bool {
        self.links.is_established(id) && self.peer(id).is_some_and(|p| p.path.is_some())
    }

    /// Sends the probes that are due on every established link.
    pub(super) fn drive_pmtu(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            let Some(id) = self.peers.get(i).and_then(|p| p.as_ref()).map(|p| p.id) else {
                continue;
            };
            if !self.measured(id) {
                continue;
            }
            self.sync_pmtu(now, id);
            let Some(size) = self.peer_mut(id).and_then(|p| p.pmtu.poll_probe(now)) else {
                continue;
            };
            self.send_pmtu_probe(now, id, size);
        }
    }

    /// The earliest probe or probe loss among measured links.
    pub(super) fn pmtu_timeout(&self) -> Option<Instant> {
        self.peers
            .iter()
            .flatten()
            .filter(|p| self.measured(p.id))
            .filter_map(|p| match p.pmtu_path == p.path.map(|a| (a, p.relay)) {
                true => p.pmtu.poll_timeout(),
                // A new path: its first probe is due at once.
                false => Some(Instant::ZERO),
            })
            .min()
    }

    /// A PMTU_PROBE padded so that its datagram is exactly `size` bytes.
    fn send_pmtu_probe(&mut self, now: Instant, id: PeerId, size: u16) {
        let len = usize::from(size).saturating_sub(self.datagram_overhead(id));
        let Some(dst) = self.peer(id).and_then(|p| p.path) else {
            return;
        };
        let Some(probe) = self.scratch.get_mut(..len.max(PROBE_LEN)) else {
            return;
        };
        probe.fill(0);
        probe[0] = PMTU_PROBE;
        probe[1..3].copy_from_slice(&size.to_be_bytes());
        let Some(slot) = self.pool.alloc() else {
            return self.count(NodeDrop::PoolFull);
        };
        match self.links.encapsulate(
            now,
            id,
            &self.scratch[..len.max(PROBE_LEN)],
            self.pool.buf(slot),
        ) {
            Ok(n) => {
                let via = self.via_for(id, dst);
                self.push_udp(slot, n, dst, via);
            }
            Err(_) => self.pool.release(slot),
        }
    }

    /// Answers a PMTU_PROBE on the path it came from.
    pub(super) fn answer_pmtu_probe(
        &mut self,
        now: Instant,
        id: PeerId,
        from: SocketAddr,
        p: &[u8],
    ) {
        let Some(size) = p.get(1..3) else {
            return self.count(NodeDrop::Malformed);
        };
        let ack = [PMTU_ACK, size[0], size[1]];
        let Some(slot) = self.pool.alloc() else {
            return self.count(NodeDrop::PoolFull);
        };
        match self.links.encapsulate(now, id, &ack, self.pool.buf(slot)) {
            Ok(n) => self.push_udp(slot, n, from, self.rx_via),
            Err(_) => self.pool.release(slot),
        }
    }

    pub(super) fn handle_pmtu_ack(&mut self, now: Instant, id: PeerId, p: &[u8]) {
        let Some(size) = p.get(1..3).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            return self.count(NodeDrop::Malformed);
        };
        let label = self.peer_label(id);
        let Some(peer) = self.peer_mut(id) else {
            return;
        };
        let was = peer.pmtu.searching();
        peer.pmtu.handle_ack(now, size);
        if was && !peer.pmtu.searching() {
            log::info!("path MTU to {label}: {}", peer.pmtu.current());
        }
    }

    /// Encrypts `scratch[..n]` for `id` as pieces that each fit the
    /// link's path MTU. `max` is the largest payload one datagram takes.
    pub(super) fn send_fragments(
        &mut self,
        now: Instant,
        id: PeerId,
        dst: SocketAddr,
        n: usize,
        max: usize,
    ) {
        let Some((count, _)) = fragment::split(n, max.saturating_sub(fragment::HEADER)) else {
            return self.count(NodeDrop::TooBig);
        };
        let Ok(total) = u16::try_from(n) else {
            return self.count(NodeDrop::TooBig);
        };
        let frag_id = self.next_frag_id;
        self.next_frag_id = self.next_frag_id.wrapping_add(1);
        let via = self.via_for(id, dst);
        for index in 0..count {
            let Some(range) = fragment::write_header(&mut self.piece, frag_id, index, count, total)
            else {
                return;
            };
            let len = fragment::HEADER + range.len();
            let (Some(data), Some(out)) = (
                self.scratch.get(range),
                self.piece.get_mut(fragment::HEADER..len),
            ) else {
                return;
            };
            out.copy_from_slice(data);
            let Some(slot) = self.pool.alloc() else {
                return self.count(NodeDrop::PoolFull);
            };
            match self
                .links
                .encapsulate(now, id, &self.piece[..len], self.pool.buf(slot))
            {
                Ok(len) => self.push_udp(slot, len, dst, via),
                Err(_) => {
                    self.pool.release(slot);
                    return self.count(NodeDrop::NoRoute);
                }
            }
        }
    }

    /// A FRAGMENT payload; the whole payload, once complete, is handled as
    /// if it had arrived in one datagram.
    pub(super) fn handle_fragment(&mut self, now: Instant, id: PeerId, from: SocketAddr, p: &[u8]) {
        let Some(piece) = Piece::parse(p) else {
            return self.count(NodeDrop::Malformed);
        };
        let Some((slot, n)) = self.frag.handle(now, &mut self.pool, id, &piece) else {
            return;
        };
        let mut whole = core::mem::take(&mut self.frag_out);
        let copied = match (whole.get_mut(..n), self.pool.buf(slot).get(..n)) {
            (Some(dst), Some(src)) => {
                dst.copy_from_slice(src);
                true
            }
            _ => false,
        };
        self.pool.release(slot);
        match whole.first() {
            // Pieces of pieces are not a thing.
            Some(&fragment::FRAGMENT) => self.count(NodeDrop::Malformed),
            _ if copied => self.handle_payload(now, id, from, &whole[..n]),
            _ => self.count(NodeDrop::TooBig),
        }
        self.frag_out = whole;
    }

    /// Clamps the MSS of a TCP SYN at `scratch[at..n]` to what one
    /// datagram to `id` carries behind an overlay header of `header` bytes:
    /// the header the flow's data will travel with (a flooded SYN's answer
    /// teaches the switch the way, so its data goes as FRAME).
    pub(super) fn clamp_scratch(&mut self, id: PeerId, at: usize, header: usize, n: usize) {
        if !self.cfg.mss_clamp {
            return;
        }
        let room = self.max_plaintext(id).saturating_sub(header);
        if let Some(frame) = self.scratch.get_mut(at..n) {
            mss::clamp(frame, room);
        }
    }

    /// Frame bytes one datagram from `id` carries (for clamping SYNs that
    /// arrive from it, so asymmetric paths are covered too).
    pub(super) fn frame_room(&self, id: PeerId) -> Option<usize> {
        self.cfg
            .mss_clamp
            .then(|| self.max_plaintext(id).saturating_sub(1))
    }
}
