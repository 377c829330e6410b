//! Two nodes joined in memory (no sockets): shared by the allocation test
//! (tests/zero_alloc.rs) and the path benchmark (examples/pathbench.rs).
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipop::core::node::{Dest, Node, NodeConfig};
use ipop::core::rng::Rng;
use ipop::core::time::Instant;

pub fn public(s: [u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(s)).to_bytes()
}

pub fn cfg(i: u8, peer: Option<u8>) -> NodeConfig {
    NodeConfig {
        ip4: Ipv4Addr::new(10, 0, 3, i),
        ip4_prefix: 24,
        ip6_prefix: ipop::core::identity::DEFAULT_IP6_PREFIX,
        switchmode: false,
        static_secret: [i; 32],
        psk: [9; 32],
        static_peers: peer
            .map(|p| vec![(addr(p), public([p; 32]))])
            .unwrap_or_default(),
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

pub fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 99, 0, i], 5800))
}

/// Moves every datagram `from` queued to `to`; returns how many frames
/// `from` wrote to its own TAP.
pub fn pump(
    from: &mut Node,
    from_addr: SocketAddr,
    to: &mut Node,
    now: Instant,
    wire: &mut [u8],
) -> usize {
    pump_noting(from, from_addr, to, now, wire, &mut 0)
}

/// `pump`, raising `largest` to the largest datagram moved.
pub fn pump_noting(
    from: &mut Node,
    from_addr: SocketAddr,
    to: &mut Node,
    now: Instant,
    wire: &mut [u8],
    largest: &mut usize,
) -> usize {
    let mut taps = 0;
    while let Some((dest, bytes)) = from.poll_transmit() {
        match dest {
            Dest::Udp(_) => {
                let n = bytes.len();
                *largest = (*largest).max(n);
                wire[..n].copy_from_slice(bytes);
                to.handle_datagram(now, from_addr, &mut wire[..n]);
            }
            Dest::Tap => taps += 1,
        }
    }
    taps
}

/// Pumps both ways until nothing moves; returns TAP frames written.
pub fn settle(a: &mut Node, b: &mut Node, now: Instant, wire: &mut [u8]) -> usize {
    settle_noting(a, b, now, wire, &mut 0)
}

/// `settle`, raising `largest` to the largest datagram moved.
pub fn settle_noting(
    a: &mut Node,
    b: &mut Node,
    now: Instant,
    wire: &mut [u8],
    largest: &mut usize,
) -> usize {
    let mut taps = 0;
    for _ in 0..8 {
        taps += pump_noting(a, addr(1), b, now, wire, largest);
        taps += pump_noting(b, addr(2), a, now, wire, largest);
    }
    taps
}

/// Node 1 (knows node 2) and node 2, linked: handshake and first gossip
/// done (these may allocate: peers are added). Returns them and the time.
pub fn linked_pair(wire: &mut [u8]) -> (Node, Node, Instant) {
    let mut now = Instant::from_secs(1);
    let mut a = Node::new(cfg(1, Some(2)), Rng::from_seed([1; 32]), now);
    let mut b = Node::new(cfg(2, None), Rng::from_seed([2; 32]), now);
    for _ in 0..5 {
        a.handle_timeout(now);
        settle(&mut a, &mut b, now, wire);
        now += Duration::from_millis(100);
    }
    (a, b, now)
}

/// A 1294-byte Ethernet frame holding an IPv4 packet from 10.0.3.`src`
/// to 10.0.3.`dst` (a full 1280-byte packet at the overlay MTU).
pub fn ipv4_frame(src: u8, dst: u8) -> Vec<u8> {
    let mut frame = vec![0u8; 1294];
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    frame[14] = 0x45;
    frame[26..30].copy_from_slice(&[10, 0, 3, src]);
    frame[30..34].copy_from_slice(&[10, 0, 3, dst]);
    frame
}
