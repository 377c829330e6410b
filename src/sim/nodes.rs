//! Real [`Node`]s (links with Noise, forwarding, gossip) on the virtual
//! network: the very core the `ipop` binary runs, fed datagrams that cross
//! a seeded virtual network with per-pair latency, loss and partitions.
//!
//! Each node gets overlay address `10.0.x.y` (x.y = index + 1), UDP
//! endpoint `10.99.x.y:5800` and a static key from the seed; every node but
//! the first has the first as its static bootstrap peer and learns the rest
//! from gossip. Frames a node writes to its TAP are collected per node.

use super::schedule::{pair_latency, EventQueue};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::core::identity::{Uid, DEFAULT_IP6_PREFIX};
use crate::core::node::{Dest, Node, NodeConfig};
use crate::core::rng::Rng;
use crate::core::time::Instant;

/// The virtual network's behaviour for [`NodeNet`].
#[derive(Clone, Debug)]
pub struct NodeNetConfig {
    pub seed: u64,
    pub latency_min: Duration,
    pub latency_max: Duration,
    /// Probability (per million) that a datagram is lost.
    pub loss_per_million: u32,
    /// L2 switch mode instead of routed L3.
    pub switchmode: bool,
    /// Gossip period (IPOP's management interval).
    pub gossip_interval: Duration,
    /// Every node's topology settings.
    pub topology: crate::core::topology::TopologyConfig,
}

impl Default for NodeNetConfig {
    fn default() -> Self {
        NodeNetConfig {
            seed: 1,
            latency_min: Duration::from_millis(2),
            latency_max: Duration::from_millis(40),
            loss_per_million: 0,
            switchmode: false,
            gossip_interval: Duration::from_secs(15),
            topology: crate::core::topology::TopologyConfig::default(),
        }
    }
}

struct Slot {
    node: Node,
    addr: SocketAddr,
    ip4: Ipv4Addr,
    alive: bool,
    group: u8,
    wake: Option<Instant>,
    tap: Vec<Vec<u8>>,
}

enum Ev {
    Wake(u32),
    Datagram {
        from: SocketAddr,
        to: u32,
        bytes: Vec<u8>,
    },
}

/// Counters of what the virtual network carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeNetStats {
    pub datagrams: u64,
    pub bytes: u64,
    pub lost: u64,
    pub partitioned: u64,
}

/// Many real nodes on one virtual network. See the module doc.
pub struct NodeNet {
    cfg: NodeNetConfig,
    now: Instant,
    rng: Rng,
    nodes: Vec<Slot>,
    by_addr: HashMap<SocketAddr, u32>,
    queue: EventQueue<Ev>,
    partitioned: bool,
    pub stats: NodeNetStats,
}

fn octets(i: usize) -> [u8; 2] {
    let k = (i + 1) as u16;
    k.to_be_bytes()
}

impl NodeNet {
    /// `n` nodes (at most 65,534), all started at time zero.
    pub fn new(n: usize, cfg: NodeNetConfig) -> NodeNet {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&cfg.seed.to_le_bytes());
        seed[8] = 0x4e; // a stream distinct from World's for the same seed
        let mut rng = Rng::from_seed(seed);
        let secrets: Vec<[u8; 32]> = (0..n).map(|_| rng.bytes()).collect();
        let boot_key = secrets.first().map(|s| {
            crate::core::link::handshake::public_key(&x25519_dalek::StaticSecret::from(*s))
        });
        let mut net = NodeNet {
            cfg,
            now: Instant::ZERO,
            rng,
            nodes: Vec::with_capacity(n),
            by_addr: HashMap::new(),
            queue: EventQueue::new(),
            partitioned: false,
            stats: NodeNetStats::default(),
        };
        for (i, secret) in secrets.into_iter().enumerate().take(65_534) {
            let [hi, lo] = octets(i);
            let ip4 = Ipv4Addr::new(10, 0, hi, lo);
            let addr = SocketAddr::from(([10, 99, hi, lo], 5800));
            let static_peers = match (i, boot_key) {
                (0, _) | (_, None) => Vec::new(),
                (_, Some(k)) => vec![(SocketAddr::from(([10, 99, 0, 1], 5800)), k)],
            };
            let cfg = NodeConfig {
                ip4,
                ip4_prefix: 16,
                ip6_prefix: DEFAULT_IP6_PREFIX,
                switchmode: net.cfg.switchmode,
                static_secret: secret,
                psk: [0; 32],
                static_peers,
                accept_unknown: true,
                max_peers: n + 1,
                pool_buffers: 64 + 4 * n,
                mtu: 1280,
                mac_table: 64,
                gossip_interval: net.cfg.gossip_interval,
                unix_nanos_at_zero: 0,
                topology: net.cfg.topology.clone(),
                stun: Vec::new(),
                turn: Vec::new(),
                mss_clamp: true,
            };
            let node = Node::new(cfg, net.rng.fork(), Instant::ZERO);
            let group = (net.rng.below(2)) as u8;
            net.by_addr.insert(addr, i as u32);
            net.nodes.push(Slot {
                node,
                addr,
                ip4,
                alive: true,
                group,
                wake: None,
                tap: Vec::new(),
            });
            net.drain(i as u32);
        }
        net
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s overlay IPv4 address.
    pub fn ip4(&self, i: usize) -> Option<Ipv4Addr> {
        self.nodes.get(i).map(|s| s.ip4)
    }

    pub fn uid(&self, i: usize) -> Option<Uid> {
        self.nodes.get(i).map(|s| s.node.uid())
    }

    pub fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i).map(|s| &s.node)
    }

    /// Frames node `i` wrote to its TAP since the last call.
    pub fn take_tap(&mut self, i: usize) -> Vec<Vec<u8>> {
        self.nodes
            .get_mut(i)
            .map(|s| core::mem::take(&mut s.tap))
            .unwrap_or_default()
    }

    /// Node `i` reads `frame` from its TAP now.
    pub fn send_from_tap(&mut self, i: usize, frame: &[u8]) {
        let now = self.now;
        if let Some(s) = self.nodes.get_mut(i).filter(|s| s.alive) {
            s.node.handle_tap_frame(now, frame);
            self.drain(i as u32);
        }
    }

    /// Node `i` stops (no goodbye).
    pub fn crash(&mut self, i: usize) {
        if let Some(s) = self.nodes.get_mut(i) {
            s.alive = false;
        }
    }

    /// Splits the network along each node's random side, or heals it.
    pub fn set_partitioned(&mut self, on: bool) {
        self.partitioned = on;
    }

    /// Runs every event up to and including `until`.
    pub fn run_until(&mut self, until: Instant) {
        while let Some(s) = self.queue.pop_due(until) {
            self.now = s.at;
            match s.ev {
                Ev::Wake(i) => {
                    let slot = &mut self.nodes[i as usize];
                    if !slot.alive || slot.wake != Some(s.at) {
                        continue;
                    }
                    slot.wake = None;
                    slot.node.handle_timeout(s.at);
                    self.drain(i);
                }
                Ev::Datagram {
                    from,
                    to,
                    mut bytes,
                } => {
                    let slot = &mut self.nodes[to as usize];
                    if !slot.alive {
                        continue;
                    }
                    slot.node.handle_datagram(s.at, from, &mut bytes);
                    self.drain(to);
                }
            }
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn schedule(&mut self, at: Instant, ev: Ev) {
        self.queue.push(at, ev);
    }

    fn latency(&self, a: u32, b: u32) -> Duration {
        pair_latency(a, b, self.cfg.latency_min, self.cfg.latency_max)
    }

    /// Carries out node `i`'s outputs and re-arms its timer.
    fn drain(&mut self, i: u32) {
        let now = self.now;
        let mut out: Vec<(Dest, Vec<u8>)> = Vec::new();
        {
            let slot = &mut self.nodes[i as usize];
            while let Some((dest, bytes)) = slot.node.poll_transmit() {
                out.push((dest, bytes.to_vec()));
            }
        }
        let from = self.nodes[i as usize].addr;
        for (dest, bytes) in out {
            match dest {
                Dest::Tap => self.nodes[i as usize].tap.push(bytes),
                Dest::Udp(to) => {
                    let Some(&j) = self.by_addr.get(&to) else {
                        continue;
                    };
                    self.stats.datagrams += 1;
                    self.stats.bytes += bytes.len() as u64;
                    if self.partitioned
                        && self.nodes[i as usize].group != self.nodes[j as usize].group
                    {
                        self.stats.partitioned += 1;
                        continue;
                    }
                    if self.cfg.loss_per_million > 0
                        && self.rng.below(1_000_000) < u64::from(self.cfg.loss_per_million)
                    {
                        self.stats.lost += 1;
                        continue;
                    }
                    let at = now + self.latency(i, j);
                    self.schedule(at, Ev::Datagram { from, to: j, bytes });
                }
            }
        }
        let slot = &mut self.nodes[i as usize];
        if let Some(t) = slot.node.poll_timeout() {
            let t = t.max(now);
            if slot.wake != Some(t) {
                slot.wake = Some(t);
                self.schedule(t, Ev::Wake(i));
            }
        }
    }
}
