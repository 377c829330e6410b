//! The virtual network and clock, and the event loop over all nodes.

use super::schedule::{pair_latency, EventQueue};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::core::identity::Uid;
use crate::core::rng::Rng;
use crate::core::time::Instant;
use crate::core::topology::{Action, LinkRole, Topology, TopologyConfig};

/// How the virtual network behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub topology: TopologyConfig,
    pub seed: u64,
    /// One-way latency of each node pair, fixed per pair, uniform in this range.
    pub latency_min: Duration,
    pub latency_max: Duration,
    /// Probability (per million) that a control message inside a link is lost.
    pub loss_per_million: u32,
    /// One-way latency through the signalling server.
    pub signal_latency: Duration,
    /// Members a joining node hears of from signalling (and that hear of it).
    pub bootstrap: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            topology: TopologyConfig::default(),
            seed: 1,
            latency_min: Duration::from_millis(5),
            latency_max: Duration::from_millis(80),
            loss_per_million: 0,
            signal_latency: Duration::from_millis(40),
            bootstrap: 8,
        }
    }
}

/// Counters of what the network did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub events: u64,
    pub control_messages: u64,
    pub control_bytes: u64,
    pub lost: u64,
    pub partitioned: u64,
    pub link_requests: u64,
    pub links_established: u64,
    pub pings: u64,
}

pub(crate) struct SimNode {
    pub uid: Uid,
    pub topo: Topology,
    pub alive: bool,
    /// Partition side; messages between sides are dropped while partitioned.
    pub group: u8,
    wake: Option<Instant>,
}

enum Event {
    Wake(u32),
    LinkRequest {
        from: u32,
        to: u32,
        role: LinkRole,
    },
    Establish {
        a: u32,
        b: u32,
    },
    LinkDown {
        at: u32,
        peer: u32,
    },
    Control {
        from: u32,
        to: u32,
        bytes: Box<[u8]>,
    },
    Ping {
        from: u32,
        to: u32,
        reply: bool,
    },
}

/// Many nodes on one virtual network. See the module doc.
pub struct World {
    pub(crate) cfg: SimConfig,
    now: Instant,
    rng: Rng,
    pub(crate) nodes: Vec<SimNode>,
    index: HashMap<Uid, u32>,
    alive: Vec<u32>,
    queue: EventQueue<Event>,
    links: HashSet<(u32, u32)>,
    partitioned: bool,
    pub stats: SimStats,
    buf: Vec<u8>,
}

fn pair(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

impl World {
    pub fn new(cfg: SimConfig) -> Self {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&cfg.seed.to_le_bytes());
        World {
            cfg,
            now: Instant::ZERO,
            rng: Rng::from_seed(seed),
            nodes: Vec::new(),
            index: HashMap::new(),
            alive: Vec::new(),
            queue: EventQueue::new(),
            links: HashSet::new(),
            partitioned: false,
            stats: SimStats::default(),
            buf: vec![0u8; 8192],
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Nodes alive now.
    pub fn alive_count(&self) -> usize {
        self.alive.len()
    }

    /// Established links (each counted once).
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// The node with UID `uid`, if it ever joined.
    pub fn topology(&self, uid: &Uid) -> Option<&Topology> {
        let i = *self.index.get(uid)?;
        self.nodes.get(i as usize).map(|n| &n.topo)
    }

    pub(crate) fn node_of(&self, uid: &Uid) -> Option<&SimNode> {
        self.index
            .get(uid)
            .and_then(|&i| self.nodes.get(i as usize))
            .filter(|n| n.alive)
    }

    /// UIDs of the live nodes, sorted (ring order).
    pub fn members(&self) -> Vec<Uid> {
        let mut v: Vec<Uid> = self
            .alive
            .iter()
            .map(|&i| self.nodes[i as usize].uid)
            .collect();
        v.sort_unstable();
        v
    }

    /// A new node joins now with identity `SHA-1("10.a.b.c")` for the next
    /// unused address. Signalling tells it of `bootstrap` random live members
    /// and tells them of it. Returns its UID.
    pub fn join(&mut self) -> Uid {
        let n = self.nodes.len() as u32;
        let ip = Ipv4Addr::from(0x0a00_0001u32 + n);
        let uid = Uid::from_ip4(ip);
        let topo = Topology::new(self.cfg.topology.clone(), uid, self.rng.fork());
        let group = if self.rng.below(2) == 0 { 0 } else { 1 };
        self.nodes.push(SimNode {
            uid,
            topo,
            alive: true,
            group,
            wake: None,
        });
        self.index.insert(uid, n);
        let k = self.cfg.bootstrap.min(self.alive.len());
        let mut picks = Vec::with_capacity(k);
        while picks.len() < k {
            let j = self.alive[self.rng.below(self.alive.len() as u64) as usize];
            if !picks.contains(&j) {
                picks.push(j);
            }
        }
        self.alive.push(n);
        let now = self.now;
        for j in picks {
            let other = self.nodes[j as usize].uid;
            self.nodes[n as usize].topo.handle_discovered(now, other);
            self.nodes[j as usize].topo.handle_discovered(now, uid);
            self.drain(j);
        }
        self.nodes[n as usize].topo.handle_discovered(now, uid); // starts its timers
        self.drain(n);
        uid
    }

    /// `src` sends `bytes` of traffic toward member `dst` now (counted for
    /// on-demand links, as the datapath would on every frame).
    pub fn send_traffic(&mut self, src: &Uid, dst: &Uid, bytes: usize) {
        let Some(&i) = self.index.get(src) else {
            return;
        };
        if self.nodes[i as usize].alive {
            self.nodes[i as usize].topo.handle_traffic(*dst, bytes);
        }
    }

    /// A random live node crashes (no goodbye: peers notice by TTL).
    pub fn crash_random(&mut self) -> Option<Uid> {
        if self.alive.is_empty() {
            return None;
        }
        let k = self.rng.below(self.alive.len() as u64) as usize;
        let i = self.alive.swap_remove(k);
        let node = &mut self.nodes[i as usize];
        node.alive = false;
        Some(node.uid)
    }

    /// Splits the network along each node's random side (0 or 1), or heals it.
    pub fn set_partitioned(&mut self, on: bool) {
        self.partitioned = on;
    }

    /// Runs every event up to and including `until`.
    pub fn run_until(&mut self, until: Instant) {
        while let Some(s) = self.queue.pop_due(until) {
            self.now = s.at;
            self.stats.events += 1;
            self.dispatch(s.ev);
        }
        self.now = until;
    }

    /// `n` nodes join at even intervals over `window`, then it runs to the end of it.
    pub fn join_spread(&mut self, n: usize, window: Duration) {
        let start = self.now;
        for k in 0..n {
            let at = start + window.mul_f64(k as f64 / n.max(1) as f64);
            self.run_until(at);
            self.join();
        }
        self.run_until(start + window);
    }

    /// Runs one management period at a time until every successor set is
    /// right, then until every chord is right too, for at most `limit`.
    /// Returns the virtual time each took (None: not within `limit`).
    pub fn run_until_converged(&mut self, limit: Duration) -> (Option<Duration>, Option<Duration>) {
        let start = self.now;
        let step = self.cfg.topology.management_period();
        let mut succ = None;
        while self.now - start <= limit {
            if succ.is_none() && self.successor_errors() == 0 {
                succ = Some(self.now - start);
            }
            if succ.is_some() && self.chord_errors() == 0 {
                return (succ, Some(self.now - start));
            }
            self.run_for(step);
        }
        (succ, None)
    }

    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn schedule(&mut self, at: Instant, ev: Event) {
        self.queue.push(at, ev);
    }

    /// Fixed one-way latency of a pair, derived from both UIDs.
    fn latency(&self, a: u32, b: u32) -> Duration {
        pair_latency(a, b, self.cfg.latency_min, self.cfg.latency_max)
    }

    fn reachable(&mut self, a: u32, b: u32) -> bool {
        let (na, nb) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        if !na.alive || !nb.alive {
            return false;
        }
        if self.partitioned && na.group != nb.group {
            self.stats.partitioned += 1;
            return false;
        }
        true
    }

    fn dispatch(&mut self, ev: Event) {
        let now = self.now;
        match ev {
            Event::Wake(i) => {
                let n = &mut self.nodes[i as usize];
                if !n.alive || n.wake != Some(now) {
                    return;
                }
                n.wake = None;
                n.topo.handle_timeout(now);
                self.drain(i);
            }
            Event::LinkRequest { from, to, role } => {
                if !self.reachable(from, to) {
                    return;
                }
                let from_uid = self.nodes[from as usize].uid;
                let ok = self.nodes[to as usize]
                    .topo
                    .handle_link_request(now, from_uid, role);
                self.drain(to);
                if ok {
                    // The accept goes back over signalling, then one handshake round trip.
                    let at = now + self.cfg.signal_latency + 2 * self.latency(from, to);
                    self.schedule(at, Event::Establish { a: from, b: to });
                }
            }
            Event::Establish { a, b } => {
                if !self.reachable(a, b) {
                    return;
                }
                if self.links.insert(pair(a, b)) {
                    self.stats.links_established += 1;
                }
                let (ua, ub) = (self.nodes[a as usize].uid, self.nodes[b as usize].uid);
                self.nodes[a as usize].topo.handle_link_up(now, ub);
                self.nodes[b as usize].topo.handle_link_up(now, ua);
                self.drain(a);
                self.drain(b);
            }
            Event::LinkDown { at, peer } => {
                let n = &mut self.nodes[at as usize];
                if n.alive {
                    let uid = self.nodes[peer as usize].uid;
                    self.nodes[at as usize].topo.handle_link_down(now, uid);
                    self.drain(at);
                }
            }
            Event::Control { from, to, bytes } => {
                if !self.links.contains(&pair(from, to)) || !self.reachable(from, to) {
                    return;
                }
                let from_uid = self.nodes[from as usize].uid;
                self.nodes[to as usize]
                    .topo
                    .handle_control(now, from_uid, &bytes);
                self.drain(to);
            }
            Event::Ping { from, to, reply } => {
                if !self.reachable(from, to) {
                    return;
                }
                let from_uid = self.nodes[from as usize].uid;
                let t = &mut self.nodes[to as usize].topo;
                if reply {
                    t.handle_signal_ping_reply(now, from_uid);
                } else {
                    t.handle_signal_ping(now, from_uid);
                }
                self.drain(to);
            }
        }
    }

    /// Carries out everything node `i` wants done, then re-arms its timer.
    fn drain(&mut self, i: u32) {
        let now = self.now;
        while let Some(a) = self.nodes[i as usize].topo.poll_action() {
            let (Action::Connect { uid, .. }
            | Action::Disconnect { uid }
            | Action::Ping { to: uid }
            | Action::PingReply { to: uid }) = a;
            let Some(&j) = self.index.get(&uid) else {
                continue;
            };
            match a {
                Action::Connect { role, .. } => {
                    self.stats.link_requests += 1;
                    self.schedule(
                        now + self.cfg.signal_latency,
                        Event::LinkRequest {
                            from: i,
                            to: j,
                            role,
                        },
                    );
                }
                Action::Disconnect { .. } => {
                    if self.links.remove(&pair(i, j)) {
                        let at = now + self.latency(i, j);
                        self.schedule(at, Event::LinkDown { at: j, peer: i });
                    }
                }
                Action::Ping { .. } | Action::PingReply { .. } => {
                    self.stats.pings += 1;
                    let reply = matches!(a, Action::PingReply { .. });
                    self.schedule(
                        now + 2 * self.cfg.signal_latency,
                        Event::Ping {
                            from: i,
                            to: j,
                            reply,
                        },
                    );
                }
            }
        }
        let mut buf = core::mem::take(&mut self.buf);
        while let Some(tx) = self.nodes[i as usize].topo.poll_transmit(&mut buf) {
            let Some(&j) = self.index.get(&tx.via) else {
                continue;
            };
            self.stats.control_messages += 1;
            self.stats.control_bytes += tx.len as u64;
            if self.cfg.loss_per_million > 0
                && self.rng.below(1_000_000) < u64::from(self.cfg.loss_per_million)
            {
                self.stats.lost += 1;
                continue;
            }
            let bytes: Box<[u8]> = buf.get(..tx.len).unwrap_or_default().into();
            let at = now + self.latency(i, j);
            self.schedule(
                at,
                Event::Control {
                    from: i,
                    to: j,
                    bytes,
                },
            );
        }
        self.buf = buf;
        let node = &mut self.nodes[i as usize];
        if let Some(t) = node.topo.poll_timeout() {
            if node.wake != Some(t) {
                node.wake = Some(t);
                self.schedule(t, Event::Wake(i));
            }
        }
    }
}
