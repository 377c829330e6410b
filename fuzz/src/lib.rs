//! What the fuzz targets share: a reader that turns fuzz input into
//! operations, node configs, and in-memory peers and servers (a raw link
//! peer, an emulated TURN server) so targets start from real protocol
//! states instead of hoping the fuzzer finds them.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipop::core::candidate::{Candidate, CandidateKind};
use ipop::core::identity::Uid;
use ipop::core::link::{LinkConfig, Links, PeerId, Received};
use ipop::core::node::payload::{self, PeerInfo};
use ipop::core::node::{Dest, Node, NodeConfig};
use ipop::core::rng::Rng;
use ipop::core::stun::consts::*;
use ipop::core::stun::{message_type, Class, MessageWriter};
use ipop::core::time::Instant;

pub mod turn;

/// Reads fuzz input as a little program: bytes, numbers, length-prefixed
/// chunks. Reading past the end yields zeros and empty chunks.
pub struct Bytes<'a>(pub &'a [u8]);

impl<'a> Bytes<'a> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    /// A chunk: a 16-bit big-endian length, then that many bytes.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }

    pub fn rest(&mut self) -> &'a [u8] {
        self.take(usize::MAX)
    }
}

/// Appends a chunk as [`Bytes::chunk`] reads it (seed writers).
pub fn put_chunk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

pub fn secret(i: u8) -> [u8; 32] {
    [i; 32]
}

pub fn public(i: u8) -> [u8; 32] {
    ipop::io::keyfile::public_of(&secret(i))
}

/// Node `i`'s overlay address 10.0.3.i and its UDP address.
pub fn ip4(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 3, i)
}

pub fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, i], 5800))
}

pub fn node_config(i: u8) -> NodeConfig {
    NodeConfig {
        ip4: ip4(i),
        ip4_prefix: 24,
        ip6_prefix: ipop::core::identity::DEFAULT_IP6_PREFIX,
        switchmode: false,
        static_secret: secret(i),
        psk: [0; 32],
        static_peers: Vec::new(),
        accept_unknown: true,
        max_peers: 8,
        pool_buffers: 32,
        mtu: 1280,
        mac_table: 16,
        gossip_interval: Duration::from_secs(15),
        unix_nanos_at_zero: 0,
        topology: Default::default(),
        stun: Vec::new(),
        turn: Vec::new(),
        mss_clamp: true,
    }
}

/// Everything the node queued, copied out.
pub fn drain(node: &mut Node) -> Vec<(Dest, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some((d, b)) = node.poll_transmit() {
        out.push((d, b.to_vec()));
    }
    out
}

/// Runs the node's timers up to `now`.
pub fn tick(node: &mut Node, now: Instant) {
    if node.poll_timeout().is_some_and(|t| t <= now) {
        node.handle_timeout(now);
    }
}

/// A bare link-layer peer (no node around it): it can encrypt any
/// plaintext, which is how targets reach the node's payload parsers.
pub struct LinkPeer {
    pub links: Links,
    pub id: PeerId,
    pub addr: SocketAddr,
    pub index: u8,
}

impl LinkPeer {
    pub fn new(index: u8, to_public: [u8; 32]) -> LinkPeer {
        let mut links = Links::new(
            LinkConfig {
                static_secret: secret(index),
                psk: [0; 32],
                max_peers: 4,
            },
            Rng::from_seed([index; 32]),
        );
        let id = links.add_peer(to_public).unwrap();
        LinkPeer {
            links,
            id,
            addr: addr(index),
            index,
        }
    }

    /// A handshake initiation (None while one is in flight).
    pub fn initiation(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut out = [0u8; 256];
        let n = self.links.initiate(now, self.id, &mut out).ok()?;
        Some(out[..n].to_vec())
    }

    /// What keeps the session up as time passes: a keepalive (which also
    /// starts a rekey when the session is old), or a new handshake when
    /// there is no session.
    pub fn upkeep(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.established() {
            self.seal(now, &[])
        } else {
            self.initiation(now)
        }
    }

    /// Encrypts `payload` into a transport datagram (None without a session).
    pub fn seal(&mut self, now: Instant, payload: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; payload.len() + 64];
        let n = self
            .links
            .encapsulate(now, self.id, payload, &mut out)
            .ok()?;
        out.truncate(n);
        Some(out)
    }

    /// Takes a datagram from the node; replies (handshake responses,
    /// keepalives) come back for the caller to deliver.
    pub fn receive(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Option<Vec<u8>> {
        let mut buf = datagram.to_vec();
        let mut out = [0u8; 256];
        match self.links.receive(now, from, &mut buf, &mut out) {
            Received::Reply { len, .. } => Some(out[..len].to_vec()),
            _ => None,
        }
    }

    /// Timer datagrams (keepalives, rekeys, retransmits).
    pub fn timers(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut out = [0u8; 256];
        while let Some((_, n)) = self.links.poll_transmit(now, &mut out) {
            v.push(out[..n].to_vec());
        }
        v
    }

    pub fn established(&self) -> bool {
        self.links.is_established(self.id)
    }

    /// This peer as gossip announces it: `GOSSIP, count, record`.
    pub fn gossip(&self) -> Vec<u8> {
        let mut candidates = heapless::Vec::new();
        let _ = candidates.push(Candidate::new(CandidateKind::Host, self.addr, 65535));
        let info = PeerInfo {
            uid: Uid::from_ip4(ip4(self.index)),
            ip4: ip4(self.index),
            public_key: self.links.public_key(),
            candidates,
        };
        let mut out = vec![0u8; 256];
        out[0] = payload::GOSSIP;
        out[1] = 1;
        let mut at = 2;
        assert!(payload::write_peer_info(&mut out, &mut at, &info));
        out.truncate(at);
        out
    }
}

/// A node (index 1, responder) and a bare link peer (index 2) with an
/// established, confirmed session and the peer's gossip delivered: the
/// state every transport datagram after a handshake meets.
pub struct Established {
    pub node: Node,
    pub peer: LinkPeer,
    pub now: Instant,
    pub started: Instant,
    /// Frames the node wrote to its TAP so far.
    pub tap_frames: u64,
}

impl Established {
    pub fn new() -> Established {
        let now = Instant::from_secs(10);
        let node = Node::new(node_config(1), Rng::from_seed([1; 32]), now);
        let mut peer = LinkPeer::new(2, node.public_key());
        let init = peer.initiation(now).unwrap();
        let mut e = Established {
            node,
            peer,
            now,
            started: now,
            tap_frames: 0,
        };
        e.deliver(&init);
        assert!(e.peer.established(), "handshake");
        let gossip = e.peer.gossip();
        e.send_payload(&gossip);
        e
    }

    /// Delivers a datagram from the peer and carries every answer back.
    pub fn deliver(&mut self, datagram: &[u8]) {
        let mut buf = datagram.to_vec();
        self.node
            .handle_datagram(self.now, self.peer.addr, &mut buf);
        self.pump();
    }

    /// Carries the node's output to the peer (and the peer's replies back)
    /// until nothing moves.
    pub fn pump(&mut self) {
        for _ in 0..8 {
            let out = drain(&mut self.node);
            if out.is_empty() {
                return;
            }
            for (dest, bytes) in out {
                match dest {
                    Dest::Udp(to) if to == self.peer.addr => {
                        if let Some(reply) = self.peer.receive(self.now, addr(1), &bytes) {
                            let mut r = reply;
                            self.node.handle_datagram(self.now, self.peer.addr, &mut r);
                        }
                    }
                    Dest::Udp(_) => {}
                    Dest::Tap => self.tap_frames += 1,
                }
            }
        }
    }

    /// Encrypts `payload` with the peer's session and delivers it.
    pub fn send_payload(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let d = self.peer.seal(self.now, payload)?;
        self.deliver(&d);
        Some(d)
    }

    /// Moves the clock on and runs both sides' timers; the peer keeps its
    /// session up (keepalive, rekey, or a new handshake).
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        tick(&mut self.node, self.now);
        self.pump();
        for t in self.peer.timers(self.now) {
            self.deliver(&t);
        }
        if let Some(d) = self.peer.upkeep(self.now) {
            self.deliver(&d);
        }
    }
}

impl Default for Established {
    fn default() -> Self {
        Self::new()
    }
}

/// Wraps `payload` from `peer` as a TURN Data indication (with
/// FINGERPRINT), as a server relays it.
pub fn data_indication(txid: [u8; 12], peer: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; payload.len() + 128];
    let mut w = MessageWriter::new(&mut buf, message_type(DATA, Class::Indication), &txid).unwrap();
    w.xor_address(ATTR_XOR_PEER_ADDRESS, peer).unwrap();
    w.attr(ATTR_DATA, payload).unwrap();
    w.fingerprint().unwrap();
    let n = w.finish();
    buf.truncate(n);
    buf
}

/// An Ethernet frame carrying an IPv4 header from `src` to `dst` and
/// `len - 20` bytes of zeros (as the unit tests build them).
pub fn ipv4_frame(src: [u8; 4], dst: [u8; 4], len: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14 + len.max(20)];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    f
}
