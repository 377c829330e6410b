//! Node tests on a virtual clock: nodes exchange datagrams through memory.

use super::*;
use crate::core::frame::tests::ipv4_frame;

pub(crate) fn secret(i: u8) -> [u8; 32] {
    [i; 32]
}

pub(crate) fn public(i: u8) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret(i))).to_bytes()
}

pub(crate) fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 99, 0, i], 5800))
}

pub(crate) fn config(i: u8, peers: &[u8], switchmode: bool) -> NodeConfig {
    NodeConfig {
        ip4: Ipv4Addr::new(10, 0, 3, i),
        ip4_prefix: 24,
        ip6_prefix: crate::core::identity::DEFAULT_IP6_PREFIX,
        switchmode,
        static_secret: secret(i),
        psk: [0; 32],
        static_peers: peers.iter().map(|&p| (addr(p), public(p))).collect(),
        accept_unknown: true,
        max_peers: 16,
        pool_buffers: 64,
        mtu: 1280,
        mac_table: 64,
        gossip_interval: Duration::from_secs(15),
        unix_nanos_at_zero: 0,
        topology: Default::default(),
        stun: Vec::new(),
        turn: Vec::new(),
        mss_clamp: true,
    }
}

/// Nodes on a loss-free network with zero latency.
pub(crate) struct Net {
    pub nodes: Vec<(u8, Node)>,
    pub now: Instant,
    /// Frames each node wrote to its TAP.
    pub tap: Vec<Vec<Vec<u8>>>,
    /// Datagrams to this address are lost until this time (a TURN
    /// permission not installed yet, a NAT not opened yet).
    pub lost_until: Option<(SocketAddr, Instant)>,
    /// Underlay IPv4 datagrams (payload + 28 bytes of IP and UDP) above
    /// this size are lost, as on a path with a smaller MTU that drops ICMP.
    pub path_mtu: Option<usize>,
    /// Largest datagram sent so far (payload bytes).
    pub largest: usize,
    /// Pairs of addresses that cannot reach each other (either way).
    pub cut: Vec<(SocketAddr, SocketAddr)>,
}

impl Net {
    pub fn new(specs: &[(u8, &[u8])], switchmode: bool) -> Net {
        Net::from_configs(
            specs
                .iter()
                .map(|(i, peers)| (*i, config(*i, peers, switchmode)))
                .collect(),
        )
    }

    pub fn from_configs(configs: Vec<(u8, NodeConfig)>) -> Net {
        let now = Instant::from_secs(1);
        let nodes = configs
            .into_iter()
            .map(|(i, cfg)| (i, Node::new(cfg, Rng::from_seed([i; 32]), now)))
            .collect::<Vec<_>>();
        let tap = vec![Vec::new(); nodes.len()];
        Net {
            nodes,
            now,
            tap,
            lost_until: None,
            path_mtu: None,
            largest: 0,
            cut: Vec::new(),
        }
    }

    /// Delivers every queued datagram, repeatedly, until all queues are empty.
    pub fn drain(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            let mut flight = Vec::new();
            for (k, (i, n)) in self.nodes.iter_mut().enumerate() {
                while let Some((dest, bytes)) = n.poll_transmit() {
                    match dest {
                        Dest::Udp(to) => flight.push((addr(*i), to, bytes.to_vec())),
                        Dest::Tap => self.tap[k].push(bytes.to_vec()),
                    }
                }
            }
            for (from, to, mut bytes) in flight {
                self.largest = self.largest.max(bytes.len());
                if self.path_mtu.is_some_and(|m| bytes.len() + 28 > m)
                    || self.cut.contains(&(from, to))
                    || self.cut.contains(&(to, from))
                {
                    continue;
                }
                if self
                    .lost_until
                    .is_some_and(|(a, t)| a == to && self.now < t)
                {
                    continue;
                }
                if let Some((_, n)) = self.nodes.iter_mut().find(|(i, _)| addr(*i) == to) {
                    n.handle_datagram(self.now, from, &mut bytes);
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
    }

    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self
                .nodes
                .iter()
                .filter_map(|(_, n)| n.poll_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for (_, n) in self.nodes.iter_mut() {
                        if n.poll_timeout().is_some_and(|t| t <= self.now) {
                            n.handle_timeout(self.now);
                        }
                    }
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    pub fn node(&mut self, i: u8) -> &mut Node {
        &mut self.nodes.iter_mut().find(|(k, _)| *k == i).unwrap().1
    }

    pub fn tap_of(&mut self, i: u8) -> &mut Vec<Vec<u8>> {
        let k = self.nodes.iter().position(|(k, _)| *k == i).unwrap();
        &mut self.tap[k]
    }
}

#[test]
fn two_static_peers_link_and_carry_ipv4() {
    let mut net = Net::new(&[(1, &[2]), (2, &[])], false);
    net.advance(Duration::from_secs(1));
    let now = net.now;
    let st = net.node(1).status(now);
    assert_eq!(st.peers.len(), 1);
    assert!(st.peers[0].established);
    assert_eq!(st.peers[0].ip4, Some(Ipv4Addr::new(10, 0, 3, 2)));
    assert_eq!(st.peers[0].source, "static");
    // Node 2 learned node 1 from the handshake and node 1's gossip.
    let st2 = net.node(2).status(now);
    assert_eq!(st2.peers[0].ip4, Some(Ipv4Addr::new(10, 0, 3, 1)));
    assert_eq!(st2.peers[0].source, "inbound");

    let f = ipv4_frame([10, 0, 3, 1], [10, 0, 3, 2], 100);
    let now = net.now;
    net.node(1).handle_tap_frame(now, &f);
    net.drain();
    let got = net.tap_of(2).pop().expect("frame delivered");
    assert_eq!(got[6..], f[6..]);
    assert_eq!(
        got[..6],
        [0x02, 0, 0, 0, 0, 1],
        "L3 rewrites the destination MAC to the TAP's"
    );
}

#[test]
fn l3_answers_arp_and_drops_spoofed_sources() {
    let mut net = Net::new(&[(1, &[2]), (2, &[])], false);
    net.advance(Duration::from_secs(1));
    let now = net.now;
    let arp = crate::core::frame::tests::arp_request([10, 0, 3, 1], [10, 0, 3, 2]);
    net.node(1).handle_tap_frame(now, &arp);
    net.drain();
    let reply = net.tap_of(1).pop().expect("ARP answered locally");
    assert_eq!(reply[20..22], [0, 2]);
    assert_eq!(reply[22..28], [0xff; 6]);
    // Node 1 claims to be 10.0.3.9: node 2 drops it.
    let f = ipv4_frame([10, 0, 3, 9], [10, 0, 3, 2], 60);
    net.node(1).handle_tap_frame(now, &f);
    net.drain();
    assert!(net.tap_of(2).is_empty());
    let drops = net.node(2).status(now).drops;
    assert!(drops.contains(&("disallowed_source", 1)));
}

#[test]
fn unknown_destination_is_counted() {
    let mut net = Net::new(&[(1, &[2]), (2, &[])], false);
    net.advance(Duration::from_secs(1));
    let now = net.now;
    let f = ipv4_frame([10, 0, 3, 1], [10, 0, 3, 77], 60);
    net.node(1).handle_tap_frame(now, &f);
    net.drain();
    // Routed greedily toward SHA-1("10.0.3.77"); whoever is closest drops it.
    let no_route = |n: &mut Node| {
        n.status(now)
            .drops
            .iter()
            .find(|d| d.0 == "no_route")
            .map_or(0, |d| d.1)
    };
    let total = no_route(net.node(1)) + no_route(net.node(2));
    assert_eq!(total, 1);
    // Garbage from the TAP is a counted drop.
    net.node(1).handle_tap_frame(now, &[1, 2, 3]);
    assert!(net
        .node(1)
        .status(now)
        .drops
        .contains(&("malformed_frame", 1)));
}

#[test]
fn switch_mode_floods_then_learns() {
    let mut net = Net::new(&[(1, &[2]), (2, &[])], true);
    net.advance(Duration::from_secs(1));
    let now = net.now;
    let mut bcast = crate::core::frame::tests::arp_request([10, 0, 3, 50], [10, 0, 3, 60]);
    bcast[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0x50]);
    net.node(1).handle_tap_frame(now, &bcast);
    net.drain();
    assert_eq!(
        net.tap_of(2).pop().as_deref(),
        Some(&bcast[..]),
        "switch mode passes frames unchanged"
    );
    // Node 2 learned MAC ..:50 behind node 1: a unicast reply is not flooded.
    let mut reply = ipv4_frame([10, 0, 3, 60], [10, 0, 3, 50], 60);
    reply[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x50]);
    net.node(2).handle_tap_frame(now, &reply);
    net.drain();
    assert_eq!(net.tap_of(1).pop().as_deref(), Some(&reply[..]));
}
