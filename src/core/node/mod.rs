//! One overlay member: composes the link layer, forwarding (L3 or switch
//! mode), gossip and path selection behind one sans-IO entry point.
//!
//! Inputs: `handle_tap_frame`, `handle_datagram`, `handle_announce`,
//! `handle_timeout`, each with "now". Outputs: `poll_transmit` (a datagram or
//! a TAP frame, borrowed from the node's buffer pool) and `poll_timeout`.
//! The shell drains `poll_transmit` after every input and sleeps until
//! `poll_timeout`.

mod forward;
pub mod fragment;
mod gossip;
pub mod membership;
mod mtu;
mod paths;
pub mod payload;
pub mod peers;
pub mod pool;
mod ring;
pub mod status;

use core::time::Duration;
use std::net::{Ipv4Addr, SocketAddr};

use crate::core::candidate::CandidateKind;

use crate::core::candidate::Candidate;
use crate::core::frame::Mac;
use crate::core::identity::Uid;
use crate::core::link::consts::TYPE_INITIATION;
use crate::core::link::{LinkConfig, Links, PeerId, Received};
use crate::core::rng::Rng;
use crate::core::stun::agent::NatAgent;
use crate::core::switch::{MacTable, Subnet};
use crate::core::time::Instant;
use crate::core::topology::{Topology, TopologyConfig};

pub use payload::PeerInfo;
pub use peers::Source;
pub use pool::Dest;
pub use ring::SignalOut;

use peers::Peer;
use pool::Pool;

/// Everything a node needs to start; the shell builds it from the config
/// and the board profile.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub ip4: Ipv4Addr,
    pub ip4_prefix: u8,
    pub ip6_prefix: [u16; 4],
    /// IPOP `switchmode`: whole Ethernet frames instead of routed IP.
    pub switchmode: bool,
    pub static_secret: [u8; 32],
    pub psk: [u8; 32],
    /// Bootstrap peers: endpoint and public key.
    pub static_peers: Vec<(SocketAddr, [u8; 32])>,
    /// Accept handshakes from keys we were not told about (static groups,
    /// where new members know only a bootstrap peer).
    pub accept_unknown: bool,
    pub max_peers: usize,
    pub pool_buffers: usize,
    /// TAP MTU; sizes every buffer.
    pub mtu: u16,
    pub mac_table: usize,
    /// Period of gossip to linked peers (IPOP: interval_management ticks).
    pub gossip_interval: Duration,
    /// Unix time (ns) at `Instant::ZERO`: keeps handshake timestamps
    /// increasing across restarts (0 in simulations).
    pub unix_nanos_at_zero: u64,
    /// The GroupVPN ring: which links to keep (IPOP 16.01 keys and units).
    pub topology: TopologyConfig,
    /// Resolved STUN servers: every one is asked for our reflexive address.
    pub stun: Vec<SocketAddr>,
    /// Resolved TURN servers with their user and password.
    pub turn: Vec<(SocketAddr, String, String)>,
    /// Lower the MSS of TCP SYNs crossing the TAP to fit the link's path
    /// MTU (`mss_clamp`, on by default).
    pub mss_clamp: bool,
}

impl NodeConfig {
    /// Buffer size for a TAP MTU: frame, overlay header, link overhead and
    /// a TURN Send indication's framing (ChannelData needs only 4), rounded
    /// up; and at least a 1500-byte datagram, so path MTU probes can prove
    /// an Ethernet path whole.
    pub fn buf_size(mtu: u16) -> usize {
        let need = mtu as usize
            + 14
            + payload::MAX_HEADER
            + crate::core::link::TRANSPORT_OVERHEAD
            + mtu::RELAY_FRAMING;
        need.max(1500).div_ceil(64) * 64
    }

    /// Reassembly buffers: a few per link the board profile plans for, a
    /// small share of the pool.
    fn reassembly_slots(&self) -> usize {
        (self.pool_buffers / 8).clamp(2, 32)
    }
}

/// A link is considered gone after this long without an authenticated packet
/// (gossip runs every `gossip_interval`, so live links are never this quiet).
const LINK_SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// A path silent this long gives way to whatever address the peer uses now.
const PATH_SILENCE: Duration = Duration::from_secs(5);
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(16);

/// Why the node dropped a frame or payload (link-layer drops are counted by
/// the link layer itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeDrop {
    Malformed,
    NoRoute,
    PoolFull,
    TooBig,
    HopLimit,
    DisallowedSource,
    BadGossip,
    UnknownPayload,
}

impl NodeDrop {
    pub const ALL: [NodeDrop; 8] = [
        NodeDrop::Malformed,
        NodeDrop::NoRoute,
        NodeDrop::PoolFull,
        NodeDrop::TooBig,
        NodeDrop::HopLimit,
        NodeDrop::DisallowedSource,
        NodeDrop::BadGossip,
        NodeDrop::UnknownPayload,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            NodeDrop::Malformed => "malformed_frame",
            NodeDrop::NoRoute => "no_route",
            NodeDrop::PoolFull => "pool_full",
            NodeDrop::TooBig => "too_big",
            NodeDrop::HopLimit => "hop_limit",
            NodeDrop::DisallowedSource => "disallowed_source",
            NodeDrop::BadGossip => "bad_gossip",
            NodeDrop::UnknownPayload => "unknown_payload",
        }
    }
}

pub struct Node {
    cfg: NodeConfig,
    uid: Uid,
    subnet: Subnet,
    tap_mac: Mac,
    links: Links,
    peers: Vec<Option<Peer>>,
    pool: Pool,
    /// Plaintext assembly area for one payload.
    scratch: Vec<u8>,
    /// One fragment's plaintext, cut from `scratch`.
    piece: Vec<u8>,
    /// Reassembled payload while it is handled.
    frag_out: Vec<u8>,
    frag: fragment::Reassembly,
    next_frag_id: u32,
    /// Ceiling of path MTU searches (set by the shell).
    underlay_mtu: u16,
    macs: MacTable,
    /// Host candidates (set by the shell).
    local_candidates: heapless::Vec<Candidate, { payload::MAX_GOSSIP_CANDIDATES }>,
    /// STUN and TURN clients sharing the overlay socket.
    nat: NatAgent,
    /// Server-reflexive and relayed candidates, re-read when they change.
    nat_candidates: Vec<Candidate>,
    /// Copy of a TURN-relayed datagram for in-place decryption.
    relay_rx: Vec<u8>,
    /// While a relayed datagram is handled: the TURN client it came through.
    rx_via: Option<usize>,
    drops: [u64; NodeDrop::ALL.len()],
    rng: Rng,
    started: Instant,
    next_gossip: Instant,
    gossip_cursor: usize,
    /// Last IPv4 destination looked up and its peer: bulk flows hit this.
    route_cache: Option<(Ipv4Addr, PeerId)>,
    topology: Topology,
    /// Members were learned since the last news gossip.
    news: bool,
    next_news: Instant,
    /// When silent paths are checked next (`paths`).
    next_path_check: Instant,
    signals_out: std::collections::VecDeque<SignalOut>,
    membership: membership::Membership,
}

impl Node {
    pub fn new(cfg: NodeConfig, mut rng: Rng, now: Instant) -> Node {
        let mut links = Links::new(
            LinkConfig {
                static_secret: cfg.static_secret,
                psk: cfg.psk,
                max_peers: cfg.max_peers,
            },
            rng.fork(),
        );
        links.set_accept_unknown(cfg.accept_unknown);
        links.set_wall_clock(cfg.unix_nanos_at_zero);
        let uid = Uid::from_ip4(cfg.ip4);
        let topology = Topology::new(cfg.topology.clone(), uid, rng.fork());
        let buf_size = NodeConfig::buf_size(cfg.mtu);
        let turn: Vec<(SocketAddr, &str, &str)> = cfg
            .turn
            .iter()
            .map(|(a, u, p)| (*a, u.as_str(), p.as_str()))
            .collect();
        let nat = NatAgent::new(&cfg.stun, &turn, &mut rng);
        let mut node = Node {
            uid,
            subnet: Subnet::new(cfg.ip4, cfg.ip4_prefix),
            tap_mac: [0x02, 0, 0, 0, 0, 1],
            links,
            peers: Vec::with_capacity(cfg.max_peers),
            pool: Pool::new(cfg.pool_buffers, buf_size),
            scratch: vec![0; buf_size],
            piece: vec![0; buf_size],
            frag_out: vec![0; buf_size],
            frag: fragment::Reassembly::new(cfg.reassembly_slots()),
            next_frag_id: 0,
            underlay_mtu: mtu::DEFAULT_UNDERLAY_MTU,
            macs: MacTable::new(cfg.mac_table),
            local_candidates: heapless::Vec::new(),
            nat,
            nat_candidates: Vec::new(),
            relay_rx: vec![0; buf_size],
            rx_via: None,
            drops: [0; NodeDrop::ALL.len()],
            rng,
            started: now,
            next_gossip: now + cfg.gossip_interval,
            gossip_cursor: 0,
            route_cache: None,
            topology,
            news: false,
            next_news: now,
            next_path_check: now,
            signals_out: std::collections::VecDeque::with_capacity(ring::MAX_SIGNALS_OUT),
            membership: membership::Membership::default(),
            cfg,
        };
        for (endpoint, key) in node.cfg.static_peers.clone() {
            node.add_static_peer(now, endpoint, key);
        }
        node.drain_nat(now);
        node
    }

    /// A bootstrap peer: at start, or later when the shell resolved its
    /// name (again: a dynamic-DNS endpoint that moved adds a candidate).
    pub fn add_static_peer(&mut self, now: Instant, endpoint: SocketAddr, key: [u8; 32]) {
        if let Some(p) = self.learn_key(now, key, Source::Static) {
            p.wanted = true;
            p.merge_candidates(&[Candidate::new(CandidateKind::Host, endpoint, 65535)]);
        }
        self.nat.permit(now, &[endpoint]);
        self.drain_nat(now);
    }

    /// STUN and TURN servers whose names resolved after start. New TURN
    /// clients must admit every member we already know.
    pub fn add_nat_servers(
        &mut self,
        now: Instant,
        stun: &[SocketAddr],
        turn: &[(SocketAddr, String, String)],
    ) {
        let turn: Vec<(SocketAddr, &str, &str)> = turn
            .iter()
            .map(|(a, u, p)| (*a, u.as_str(), p.as_str()))
            .collect();
        if !self.nat.add_servers(stun, &turn, &mut self.rng) {
            return;
        }
        let known: Vec<SocketAddr> = self
            .peers
            .iter()
            .flatten()
            .flat_map(|p| p.candidates.iter().map(|c| c.addr))
            .collect();
        self.nat.permit(now, &known);
        self.nat.handle_timeout(now);
        self.drain_nat(now);
    }

    pub fn uid(&self) -> Uid {
        self.uid
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.links.public_key()
    }

    /// The TAP's MAC: L3 mode writes it as the destination of every frame.
    pub fn set_tap_mac(&mut self, mac: Mac) {
        self.tap_mac = mac;
    }

    /// Replaces this node's host candidates (reflexive and relayed ones
    /// come from the STUN/TURN agent).
    pub fn set_local_candidates(&mut self, cands: &[Candidate]) {
        self.local_candidates.clear();
        for c in cands.iter().take(payload::MAX_GOSSIP_CANDIDATES) {
            let _ = self.local_candidates.push(*c);
        }
    }

    /// This node as an announcement (for signalling and gossip).
    pub fn local_info(&self) -> PeerInfo {
        PeerInfo {
            uid: self.uid,
            ip4: self.cfg.ip4,
            public_key: self.links.public_key(),
            candidates: self.all_candidates(),
        }
    }

    /// Host candidates first, then server-reflexive, then relayed.
    fn all_candidates(&self) -> heapless::Vec<Candidate, { payload::MAX_GOSSIP_CANDIDATES }> {
        let mut out = self.local_candidates.clone();
        for kind in [CandidateKind::ServerReflexive, CandidateKind::Relay] {
            for c in self.nat_candidates.iter().filter(|c| c.kind == kind) {
                if !out.iter().any(|o| o.addr == c.addr) {
                    let _ = out.push(*c);
                }
            }
        }
        out
    }

    /// Interfaces or addresses changed: re-ask every STUN server and
    /// re-check every TURN allocation.
    pub fn handle_network_change(&mut self, now: Instant) {
        self.nat.regather(now);
        self.drain_nat(now);
    }

    /// Queues the STUN/TURN agent's transmits and picks up new candidates
    /// (announced right away with the next gossip round).
    fn drain_nat(&mut self, now: Instant) {
        loop {
            let Some(slot) = self.pool.alloc() else {
                return;
            };
            match self.nat.poll_transmit(now, self.pool.buf(slot)) {
                Some((dst, len)) => self.pool.push(slot, len, Dest::Udp(dst)),
                None => {
                    self.pool.release(slot);
                    break;
                }
            }
        }
        if self.nat.poll_changed() {
            self.nat_candidates.clear();
            self.nat.candidates(&mut self.nat_candidates);
            log::info!(
                "nat candidates: {}",
                self.nat_candidates
                    .iter()
                    .map(|c| c.addr.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            self.next_gossip = now;
        }
    }

    /// Queues a datagram for `dst`, framed for TURN client `via` when the
    /// peer's path runs through our relay.
    fn push_udp(&mut self, slot: pool::Slot, len: usize, dst: SocketAddr, via: Option<usize>) {
        let Some(via) = via else {
            return self.pool.push(slot, len, Dest::Udp(dst));
        };
        let Some(out) = self.pool.alloc() else {
            self.pool.release(slot);
            return self.count(NodeDrop::PoolFull);
        };
        let (a, b) = self.pool.two_bufs(slot, out);
        let wrapped = a.get(..len).and_then(|a| self.nat.wrap(via, dst, a, b));
        self.pool.release(slot);
        match wrapped {
            Some((server, n)) => self.pool.push(out, n, Dest::Udp(server)),
            None => {
                self.pool.release(out);
                self.count(NodeDrop::NoRoute);
            }
        }
    }

    /// The TURN client the peer's current path goes through, if `dst` is it.
    fn via_for(&self, id: PeerId, dst: SocketAddr) -> Option<usize> {
        self.peer(id)
            .filter(|p| p.path == Some(dst))
            .and_then(|p| p.relay)
    }

    /// The next output. Its bytes stay valid until the next call.
    pub fn poll_transmit(&mut self) -> Option<(Dest, &[u8])> {
        self.pool.pop()
    }

    /// The largest datagram or frame the node sends (its buffer size): what
    /// the shell's batch buffers hold per packet.
    pub fn buf_size(&self) -> usize {
        self.pool.buf_size()
    }

    /// When `handle_timeout` should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = Some(self.next_gossip);
        let mut earliest = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        earliest(self.news.then_some(self.next_news));
        earliest(self.topology.poll_timeout());
        earliest(self.links.poll_timeout());
        earliest(self.nat.poll_timeout());
        earliest(self.membership_timeout());
        earliest(self.frag.poll_timeout());
        earliest(self.pmtu_timeout());
        earliest(self.path_check_timeout());
        for p in self.peers.iter().flatten() {
            if p.wanted && !self.links.is_established(p.id) {
                earliest(Some(p.next_attempt));
            }
        }
        t
    }

    /// Timer work: link keepalives and rekeys, connection attempts, gossip.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.nat.poll_timeout().is_some_and(|t| t <= now) {
            self.nat.handle_timeout(now);
        }
        self.drain_nat(now);
        self.membership_tick(now);
        self.drain_link_timers(now);
        if self.topology.poll_timeout().is_some_and(|t| t <= now) {
            self.topology.handle_timeout(now);
        }
        self.sync_topology(now);
        self.attempt_connections(now);
        self.frag.handle_timeout(now, &mut self.pool);
        self.drive_pmtu(now);
        self.check_paths(now);
        if now >= self.next_gossip {
            self.next_gossip = now + self.cfg.gossip_interval;
            self.gossip_all(now);
        }
        self.spread_news(now);
    }

    /// A datagram that arrived on the overlay's UDP socket. Decrypted in place.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, buf: &mut [u8]) {
        if !self.nat.accepts(from, buf) {
            return self.link_receive(now, from, buf);
        }
        // Drops are counted by the agent (its stats show in `ipop status`).
        if let Ok(Some(r)) = self.nat.handle_datagram(now, from, buf) {
            let mut rx = core::mem::take(&mut self.relay_rx);
            if let Some(dst) = rx.get_mut(..r.payload.len()) {
                dst.copy_from_slice(r.payload);
                self.rx_via = Some(r.via);
                self.link_receive(now, r.peer, dst);
                self.rx_via = None;
            } else {
                self.count(NodeDrop::TooBig);
            }
            self.relay_rx = rx;
        }
        self.drain_nat(now);
    }

    /// Link traffic from `from` (directly, or through our TURN relay while
    /// `rx_via` is set).
    fn link_receive(&mut self, now: Instant, from: SocketAddr, buf: &mut [u8]) {
        let Some(slot) = self.pool.alloc() else {
            self.count(NodeDrop::PoolFull);
            return;
        };
        let received = self.links.receive(now, from, buf, self.pool.buf(slot));
        match received {
            Received::Reply { peer, len } => {
                self.push_udp(slot, len, from, self.rx_via);
                if let Some(id) = peer {
                    self.on_authenticated(now, id, from);
                    // A new session (perhaps a restarted peer): greet it
                    // again once it confirms the session with data.
                    if let Some(p) = self.peer_mut(id) {
                        p.greeted = false;
                    }
                }
            }
            Received::Established { peer } => {
                self.pool.release(slot);
                self.on_authenticated(now, peer, from);
                log::info!("link to {} established via {from}", self.peer_label(peer));
                self.flush_pending(now, peer);
                self.gossip_to(now, peer);
            }
            Received::Keepalive { peer } => {
                self.pool.release(slot);
                self.on_authenticated(now, peer, from);
            }
            Received::Data { peer, payload } => {
                self.pool.release(slot);
                self.on_authenticated(now, peer, from);
                self.handle_payload(now, peer, from, payload);
                if self.peer(peer).is_some_and(|p| !p.greeted) {
                    self.flush_pending(now, peer);
                    self.gossip_to(now, peer);
                }
            }
            Received::CookieStored { .. } | Received::Dropped(_) => self.pool.release(slot),
        }
    }

    /// A member announced through signalling (XMPP) or a config source.
    /// The caller has validated the announcement's fields.
    pub fn handle_announce(&mut self, now: Instant, info: &PeerInfo, source: Source) {
        self.learn(now, info, source, None);
    }

    fn count(&mut self, why: NodeDrop) {
        self.drops[why as usize] += 1;
    }

    /// Records an authenticated packet from `id` at `from`; returns true on
    /// the first packet of a new link.
    fn on_authenticated(&mut self, now: Instant, id: PeerId, from: SocketAddr) -> bool {
        if self.peer(id).is_none() {
            if let Some(key) = self.links.peer_public_key(id) {
                if let Some(slot) = self.peer_slot(id) {
                    *slot = Some(Peer::new(id, key, Source::Inbound, now));
                }
            }
        }
        let via = self.rx_via;
        let Some(p) = self.peer_mut(id) else {
            return false;
        };
        let first = p.path.is_none();
        // Roam like WireGuard (follow the latest authenticated source), but
        // never from a working path to a worse one: a late packet on an old
        // path must not undo a path upgrade (IPv4 -> IPv6 included: rank,
        // in `paths`).
        if p.path != Some(from) || p.relay != via {
            let silent = now.saturating_since(p.path_rx) > PATH_SILENCE;
            let new_kind = match via {
                Some(_) => CandidateKind::Relay,
                None => p.kind_of(from),
            };
            let new = Some(paths::rank(new_kind, from));
            if first || silent || new >= p.path_rank() {
                p.path = Some(from);
                p.relay = via;
            }
        }
        if p.path == Some(from) {
            p.path_rx = now;
        }
        p.attempts = 0;
        first
    }

    fn drain_link_timers(&mut self, now: Instant) {
        loop {
            let Some(slot) = self.pool.alloc() else {
                return;
            };
            let Some((id, len)) = self.links.poll_transmit(now, self.pool.buf(slot)) else {
                self.pool.release(slot);
                return;
            };
            // A retransmitted first handshake goes everywhere the first one
            // went: the copy that got lost may be the only one that can
            // arrive (a TURN permission not yet installed on the member's
            // relay), and while the link retransmits, `initiate` cannot
            // start a fresh attempt (HandshakeInProgress).
            let initiation = self.pool.buf(slot).first() == Some(&TYPE_INITIATION);
            if initiation && !self.links.is_established(id) {
                self.send_to_all(id, slot, len);
                continue;
            }
            match self
                .peer(id)
                .and_then(|p| p.path.or_else(|| p.candidates.first().map(|c| c.addr)))
            {
                Some(dst) => {
                    let via = self.via_for(id, dst);
                    self.push_udp(slot, len, dst, via)
                }
                None => self.pool.release(slot),
            }
        }
    }

    /// Sends handshake initiations to every candidate of every wanted peer
    /// without a session, backing off exponentially per peer.
    fn attempt_connections(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            let Some(p) = self.peers[i].as_ref() else {
                continue;
            };
            if !p.wanted || now < p.next_attempt || self.links.is_established(p.id) {
                continue;
            }
            let id = p.id;
            self.initiate(now, id);
        }
    }

    fn initiate(&mut self, now: Instant, id: PeerId) {
        let jitter = Duration::from_millis(self.rng.below(250));
        let Some(p) = self.peer_mut(id) else { return };
        let backoff = RETRY_MIN
            .saturating_mul(1 << p.attempts.min(4))
            .min(RETRY_MAX);
        p.next_attempt = now + backoff + jitter;
        p.attempts = p.attempts.saturating_add(1);
        if p.path.is_none() && p.candidates.is_empty() {
            return;
        }
        let Some(first) = self.pool.alloc() else {
            return;
        };
        let len = match self.links.initiate(now, id, self.pool.buf(first)) {
            Ok(len) => len,
            Err(e) => {
                log::debug!("no initiation for {}: {e:?}", self.peer_label(id));
                self.pool.release(first);
                return;
            }
        };
        self.send_to_all(id, first, len);
    }

    /// Sends the handshake initiation in `first` to the peer's path (if
    /// any) and to every candidate.
    fn send_to_all(&mut self, id: PeerId, first: pool::Slot, len: usize) {
        let mut targets: heapless::Vec<SocketAddr, { payload::MAX_GOSSIP_CANDIDATES + 1 }> =
            heapless::Vec::new();
        if let Some(p) = self.peer(id) {
            if let Some(path) = p.path {
                let _ = targets.push(path);
            }
            for c in &p.candidates {
                if !targets.contains(&c.addr) {
                    let _ = targets.push(c.addr);
                }
            }
        }
        let Some(&dst) = targets.first() else {
            return self.pool.release(first);
        };
        // The same initiation goes to every candidate: the responder answers
        // the first copy to arrive (later copies are replays), which picks the
        // fastest working path and opens NAT mappings on the way.
        for dst in targets.iter().skip(1) {
            let Some(copy) = self.pool.alloc() else { break };
            let (a, b) = self.pool.two_bufs(first, copy);
            b[..len].copy_from_slice(&a[..len]);
            self.pool.push(copy, len, Dest::Udp(*dst));
        }
        let via = self.via_for(id, dst);
        self.push_udp(first, len, dst, via);
    }

    /// The table entry for `id`, growing the table up to it. The capacity
    /// (`max_peers`) is reserved at start, so growing never allocates, and
    /// memory is touched only for members actually seen.
    fn peer_slot(&mut self, id: PeerId) -> Option<&mut Option<Peer>> {
        let i = id.0 as usize;
        if i >= self.peers.capacity() {
            return None;
        }
        while self.peers.len() <= i {
            self.peers.push(None);
        }
        self.peers.get_mut(i)
    }

    fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(id.0 as usize)?.as_ref()
    }

    fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.peers.get_mut(id.0 as usize)?.as_mut()
    }

    fn peer_label(&self, id: PeerId) -> String {
        match self.peer(id).and_then(|p| p.ident) {
            Some(i) => format!("{} ({})", i.ip4, i.uid.short()),
            None => format!("peer #{}", id.0),
        }
    }

    /// A link that carried an authenticated packet recently.
    fn is_up(&self, now: Instant, id: PeerId) -> bool {
        if !self.links.is_established(id) {
            return false;
        }
        match self.links.stats(id).and_then(|s| s.last_received) {
            Some(t) => now.saturating_since(t) < LINK_SILENCE_LIMIT,
            None => false,
        }
    }
}

#[cfg(test)]
mod dual_stack_tests;
#[cfg(test)]
mod membership_tests;
#[cfg(test)]
mod mtu_tests;
#[cfg(test)]
mod path_tests;
#[cfg(test)]
mod tests;
