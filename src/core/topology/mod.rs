//! IPOP 16.01's GroupVPN topology as a sans-IO state machine (reference §4).
//!
//! Each node keeps links to its `num_successors` clockwise neighbours on the
//! 160-bit UID ring, `num_chords` chords toward `uid + 2^(159-i)` found by
//! greedy routing, and on-demand links to busy destinations; it accepts
//! inbound links up to a cap, detects dead links by TTL, gossips its link list
//! to its peers every management cycle and pings random signalling-known
//! members to heal partitions.
//!
//! **Inputs** (each takes `now` where time matters): [`Topology::handle_timeout`],
//! [`handle_discovered`](Topology::handle_discovered) (signalling presence),
//! [`handle_link_request`](Topology::handle_link_request),
//! [`handle_link_up`](Topology::handle_link_up) / [`handle_link_down`](Topology::handle_link_down),
//! [`handle_control`](Topology::handle_control) (a topology message from a link),
//! [`handle_traffic`](Topology::handle_traffic) (bytes sent toward a member),
//! [`handle_signal_ping`](Topology::handle_signal_ping) and its reply.
//!
//! **Outputs**: [`poll_action`](Topology::poll_action) (connect, disconnect,
//! signalling pings), [`poll_transmit`](Topology::poll_transmit) (control
//! messages written into the caller's buffer), [`poll_timeout`](Topology::poll_timeout).
//! Drain both polls after every input, then sleep until the timeout.
//!
//! **Datapath queries** ([`next_hop`](Topology::next_hop),
//! [`flood_targets`](Topology::flood_targets), [`roles`](Topology::roles)) take
//! `&self` and never allocate.
//!
//! Where ipop differs from 16.01 (each marked "16.01:" at the code):
//! * `found_chord` names the first member *at or after* the target (the node
//!   where the search stops answers with its nearest successor), so chords
//!   land where Chord puts its fingers; 16.01 returned the node before it.
//! * A chord lost to failure is searched again at the next cycle (16.01 never
//!   re-searched it, see the reference's "Quirk"). A chord link that never
//!   comes up (the member's inbound cap refused it) keeps its slot and is
//!   asked for again at the slot's `ttl_chord` re-check.
//! * A busy on-demand link is renewed to `now + ttl_on_demand` each cycle
//!   instead of adding `ttl_on_demand` to its deadline (which grew without bound).
//! * An advertisement carries the sender's links closest clockwise to the
//!   receiver, at most `num_successors` of them: the receiver could only use
//!   those, so successor choice is unchanged while messages stay small.
//! * Signalling-known members stay ping targets and successor candidates
//!   (a bounded sample) rather than being forgotten after each ping round.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod chords;
mod config;
mod manage;
mod peers;
mod routing;
mod traffic;
pub mod wire;

use core::fmt;
use std::collections::VecDeque;

pub use config::TopologyConfig;
pub use peers::{LinkRole, LinkState, Roles};
pub use routing::in_open_arc;

use crate::core::identity::Uid;
use crate::core::rng::Rng;
use crate::core::time::Instant;
use chords::ChordSlot;
use peers::Peer;
use traffic::TrafficTable;
use wire::ChordMsg;

/// Something the node must do for the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Build a link to `uid`: send it a link request (16.01 `con_req`) with
    /// `role`, then handshake. Report the result with `handle_link_up`; if it
    /// never comes up the topology gives up after `ttl_link_initial`.
    Connect { uid: Uid, role: LinkRole },
    /// Tear down the link to `uid` (or abandon building it).
    Disconnect { uid: Uid },
    /// Send a signalling ping carrying our UID to `to` (16.01 `ping`).
    Ping { to: Uid },
    /// Answer a signalling ping from `to` (16.01 `ping_resp`).
    PingReply { to: Uid },
}

/// A control message written into the caller's buffer: send `len` bytes
/// inside the link to `via`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub via: Uid,
    pub len: usize,
}

/// Why an input was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// A control message that does not parse.
    Malformed,
    /// A control message from a UID we have no link with.
    NotLinked,
    /// A chord message whose hop budget ran out.
    HopLimit,
    /// A `found_chord` that cannot make progress toward its requester.
    NoRoute,
    /// A `found_chord` for a target we are not searching.
    Stale,
    /// An action or control message queue was full.
    QueueFull,
    /// The caller's buffer was too small for a control message.
    BufferTooSmall,
}

impl DropReason {
    pub const COUNT: usize = 7;
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Malformed,
        DropReason::NotLinked,
        DropReason::HopLimit,
        DropReason::NoRoute,
        DropReason::Stale,
        DropReason::QueueFull,
        DropReason::BufferTooSmall,
    ];
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Malformed => "malformed topology message",
            DropReason::NotLinked => "topology message from an unlinked peer",
            DropReason::HopLimit => "chord message out of hops",
            DropReason::NoRoute => "no route toward chord requester",
            DropReason::Stale => "answer to a chord search we did not make",
            DropReason::QueueFull => "topology queue full",
            DropReason::BufferTooSmall => "buffer too small for topology message",
        })
    }
}

/// Counters for `ipop status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopologyStats {
    pub drops: [u64; DropReason::COUNT],
    pub management_cycles: u64,
    pub connects: u64,
    pub disconnects: u64,
    pub link_timeouts: u64,
    pub adverts_sent: u64,
    pub chord_searches: u64,
    pub chord_forwards: u64,
    pub pings_sent: u64,
}

impl TopologyStats {
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops.get(r as usize).copied().unwrap_or(0)
    }
}

/// One link as `ipop status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub uid: Uid,
    pub roles: Roles,
    pub state: LinkState,
}

/// The GroupVPN ring topology of one node. See the module doc.
pub struct Topology {
    cfg: TopologyConfig,
    me: Uid,
    rng: Rng,
    /// Every link being built or up, sorted by UID.
    peers: Vec<Peer>,
    /// UIDs of up links, sorted ascending (the datapath's routing table).
    up: Vec<Uid>,
    /// Successor candidates learned since the last cycle, the closest
    /// clockwise first, at most `num_successors`.
    discovered: Vec<(routing::Dist, Uid)>,
    /// Clockwise distance of the farthest successor chosen at the last
    /// cycle (everything while fewer than `num_successors` were found).
    horizon: routing::Dist,
    /// Members signalling told us about (ping targets, successor candidates).
    known: Vec<Uid>,
    chords: Vec<ChordSlot>,
    traffic: TrafficTable,
    actions: VecDeque<Action>,
    outbox: VecDeque<(Uid, ChordMsg)>,
    /// Receivers of this cycle's advertisement not yet written out.
    advert_to: Vec<Uid>,
    next_management: Option<Instant>,
    next_ping: Option<Instant>,
    last_management: Option<Instant>,
    stats: TopologyStats,
}

impl Topology {
    /// A topology for node `me`. Nothing happens until the first input with a time.
    pub fn new(cfg: TopologyConfig, me: Uid, rng: Rng) -> Self {
        let chords = (0..cfg.num_chords.min(160))
            .map(|i| ChordSlot::new(me.add_pow2(159 - u32::from(i))))
            .collect();
        Topology {
            cfg,
            me,
            rng,
            peers: Vec::new(),
            up: Vec::new(),
            discovered: Vec::new(),
            horizon: routing::Dist::MAX,
            known: Vec::new(),
            chords,
            traffic: TrafficTable::default(),
            actions: VecDeque::new(),
            outbox: VecDeque::new(),
            advert_to: Vec::new(),
            next_management: None,
            next_ping: None,
            last_management: None,
            stats: TopologyStats::default(),
        }
    }

    pub fn uid(&self) -> Uid {
        self.me
    }

    pub fn config(&self) -> &TopologyConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &TopologyStats {
        &self.stats
    }

    // ----- inputs -----

    /// Runs the timers: a management cycle every `interval_management` ticks
    /// (the first one tick after the first input), a ping round every
    /// `interval_ping` ticks. Call at or after [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.start(now);
        if self.next_management.is_some_and(|t| now >= t) {
            self.manage(now);
            let period = self.cfg.management_period();
            self.next_management = self.next_management.map(|t| next_after(t, period, now));
        }
        if self.next_ping.is_some_and(|t| now >= t) {
            self.ping_round();
            let period = self.cfg.ping_period();
            self.next_ping = self.next_ping.map(|t| next_after(t, period, now));
        }
    }

    /// Signalling reports member `uid` (presence, announce, a static peer).
    /// It becomes a successor candidate and a ping target.
    pub fn handle_discovered(&mut self, now: Instant, uid: Uid) {
        self.start(now);
        self.discover(uid);
        self.remember_known(uid);
    }

    /// Signalling reports that `uid` left (presence unavailable).
    pub fn handle_departed(&mut self, uid: Uid) {
        self.known.retain(|u| *u != uid);
        self.discovered.retain(|(_, u)| *u != uid);
    }

    /// `from` asks for a link as our `role`-peer... in its view: it wants us as
    /// its successor, chord or on-demand peer. Returns whether to accept.
    ///
    /// 16.01's rules: successor requests are always accepted; chord and
    /// on-demand requests only while we have fewer than `max_links` links. If
    /// we are ourselves requesting a link to `from` (both sent a request), only
    /// the smaller UID accepts. An accepted link must come up within
    /// `ttl_link_initial`.
    pub fn handle_link_request(&mut self, now: Instant, from: Uid, role: LinkRole) -> bool {
        self.start(now);
        if from == self.me {
            return false;
        }
        let me = self.me;
        if let Some(p) = self.peer_mut(&from) {
            let racing = p.state == LinkState::Linking && !p.roles.contains(Roles::INBOUND);
            if racing && me > from {
                return false;
            }
            p.roles.insert(Roles::INBOUND);
            return true;
        }
        if role != LinkRole::Successor && self.peers.len() >= self.cfg.max_links() {
            return false;
        }
        let expires = now + self.cfg.ttl_link_initial;
        self.insert_peer(Peer {
            uid: from,
            roles: Roles::INBOUND,
            state: LinkState::Linking,
            expires,
            on_demand_until: now,
        });
        true
    }

    /// The link to `uid` is established, or showed life (call on keepalives
    /// too; it is idempotent). An up link expires `ttl_link_pulse` after the
    /// last call. A link the topology did not ask for or accept is adopted as
    /// inbound while under the link cap, else disconnected.
    pub fn handle_link_up(&mut self, now: Instant, uid: Uid) {
        self.start(now);
        if uid == self.me {
            return;
        }
        let pulse = now + self.cfg.ttl_link_pulse;
        let cap = self.cfg.max_links();
        let count = self.peers.len();
        let became_up = match self.peer_mut(&uid) {
            Some(p) => {
                p.expires = pulse;
                let was = p.state;
                p.state = LinkState::Up;
                was == LinkState::Linking
            }
            None if count < cap => {
                self.insert_peer(Peer {
                    uid,
                    roles: Roles::INBOUND,
                    state: LinkState::Up,
                    expires: pulse,
                    on_demand_until: now,
                });
                true
            }
            None => {
                self.push_action(Action::Disconnect { uid });
                false
            }
        };
        if became_up {
            if let Err(i) = self.up.binary_search(&uid) {
                self.up.insert(i, uid);
            }
        }
    }

    /// The link to `uid` failed or was closed by the peer. Its roles are
    /// released; the next cycle links a replacement where needed.
    pub fn handle_link_down(&mut self, now: Instant, uid: Uid) {
        self.start(now);
        self.remove_peer(&uid, false);
    }

    /// A topology control message arrived inside the link from `from`.
    /// Bad input is dropped and counted, never a panic.
    pub fn handle_control(&mut self, now: Instant, from: Uid, bytes: &[u8]) {
        self.start(now);
        let pulse = now + self.cfg.ttl_link_pulse;
        match self.peer_mut(&from) {
            Some(p) if p.state == LinkState::Up => p.expires = pulse,
            Some(_) => self.handle_link_up(now, from),
            None => return self.drop(DropReason::NotLinked),
        }
        match wire::parse(bytes) {
            Err(_) => self.drop(DropReason::Malformed),
            Ok(wire::Message::Advertise(list)) => {
                for uid in wire::advertised(list) {
                    self.discover(uid);
                }
            }
            Ok(wire::Message::Chord(m)) => self.handle_chord(now, m),
        }
    }

    /// Counts `bytes` sent toward member `uid` (directly or relayed), for
    /// on-demand links. Cheap and allocation-free after the first call.
    pub fn handle_traffic(&mut self, uid: Uid, bytes: usize) {
        self.traffic.add(uid, bytes as u64);
    }

    /// A signalling ping from `from` (16.01: both ends of a ping add the other
    /// to the discovered set, which merges split rings).
    pub fn handle_signal_ping(&mut self, now: Instant, from: Uid) {
        self.handle_discovered(now, from);
        if from != self.me {
            self.push_action(Action::PingReply { to: from });
        }
    }

    /// The answer to one of our signalling pings.
    pub fn handle_signal_ping_reply(&mut self, now: Instant, from: Uid) {
        self.handle_discovered(now, from);
    }

    // ----- outputs -----

    /// The next thing the node must do. Drain until None after every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        let a = self.actions.pop_front()?;
        match a {
            Action::Connect { uid, role } => {
                log::debug!("topology: link {} as {role}", uid.short())
            }
            Action::Disconnect { uid } => log::debug!("topology: unlink {}", uid.short()),
            Action::Ping { .. } | Action::PingReply { .. } => {}
        }
        Some(a)
    }

    /// Writes the next control message into `buf` (at least
    /// [`max_message_len`](Self::max_message_len) bytes). Drain until None
    /// after every input. A message that does not fit is dropped and counted.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some((via, m)) = self.outbox.pop_front() {
            match wire::emit_chord(buf, &m) {
                Some(len) => return Some(Transmit { via, len }),
                None => self.drop(DropReason::BufferTooSmall),
            }
        }
        while let Some(to) = self.advert_to.pop() {
            if self.up.binary_search(&to).is_err() {
                continue;
            }
            match self.emit_advert(buf, &to) {
                Some(len) => {
                    self.stats.adverts_sent += 1;
                    return Some(Transmit { via: to, len });
                }
                None => self.drop(DropReason::BufferTooSmall),
            }
        }
        None
    }

    /// The longest control message this topology writes: an advertisement
    /// of `num_successors` UIDs or a `found_chord`, whichever is longer.
    pub fn max_message_len(&self) -> usize {
        let k = usize::from(self.cfg.num_successors).min(wire::MAX_ADVERTISED);
        (2 + k * Uid::LEN).max(wire::FOUND_CHORD_LEN)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next. None until
    /// the first input with a time; changes only after `handle_timeout`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_management, self.next_ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- datapath queries (no allocation) -----

    /// The link to forward a frame for member `dst` on: `dst` itself when
    /// linked, else the up peer with the largest clockwise progress toward
    /// `dst` that does not pass it. None if `dst` is us or no peer helps.
    pub fn next_hop(&self, dst: &Uid) -> Option<Uid> {
        routing::greedy(&self.me, &self.up, dst)
    }

    /// Where to send copies of a broadcast this node is responsible for up to
    /// `arc_end` (pass our own UID for a broadcast we originate): pairs of
    /// (peer, the `arc_end` to put in its copy). Every member receives each
    /// broadcast exactly once; see `routing` for the rule and the proof.
    pub fn flood_targets<const N: usize>(
        &self,
        arc_end: &Uid,
        out: &mut heapless::Vec<(Uid, Uid), N>,
    ) {
        routing::flood_targets(&self.me, &self.up, arc_end, out)
    }

    /// The roles of the link to `uid` (empty if none).
    pub fn roles(&self, uid: &Uid) -> Roles {
        self.peer(uid).map_or(Roles::NONE, |p| p.roles)
    }

    /// Up links, sorted by UID.
    pub fn linked(&self) -> &[Uid] {
        &self.up
    }

    /// Every link being built or up.
    pub fn links(&self) -> impl Iterator<Item = LinkInfo> + '_ {
        self.peers.iter().map(|p| LinkInfo {
            uid: p.uid,
            roles: p.roles,
            state: p.state,
        })
    }

    /// Chord `i`'s target `uid + 2^(159-i)` and the member holding it, if found.
    pub fn chord(&self, i: usize) -> Option<(Uid, Option<Uid>)> {
        self.chords.get(i).map(|s| (s.target, s.peer))
    }

    // ----- internals shared by the submodules -----

    fn start(&mut self, now: Instant) {
        if self.next_management.is_none() {
            self.next_management = Some(now + self.cfg.tick);
            self.next_ping = Some(now + self.cfg.ping_period());
        }
    }

    fn peer(&self, uid: &Uid) -> Option<&Peer> {
        let i = self.peers.binary_search_by(|p| p.uid.cmp(uid)).ok()?;
        self.peers.get(i)
    }

    fn peer_mut(&mut self, uid: &Uid) -> Option<&mut Peer> {
        let i = self.peers.binary_search_by(|p| p.uid.cmp(uid)).ok()?;
        self.peers.get_mut(i)
    }

    /// Adds a link, keeping `peers` sorted by UID (callers checked it is new).
    fn insert_peer(&mut self, p: Peer) {
        if let Err(i) = self.peers.binary_search_by(|q| q.uid.cmp(&p.uid)) {
            self.peers.insert(i, p);
        }
    }

    fn drop(&mut self, r: DropReason) {
        if let Some(c) = self.stats.drops.get_mut(r as usize) {
            *c += 1;
        }
    }

    fn push_action(&mut self, a: Action) {
        if self.actions.len() >= self.cfg.max_actions {
            return self.drop(DropReason::QueueFull);
        }
        match a {
            Action::Connect { .. } => self.stats.connects += 1,
            Action::Disconnect { .. } => self.stats.disconnects += 1,
            Action::Ping { .. } => self.stats.pings_sent += 1,
            Action::PingReply { .. } => {}
        }
        self.actions.push_back(a);
    }

    fn push_control(&mut self, via: Uid, m: ChordMsg) {
        if self.outbox.len() >= self.cfg.max_outbox {
            return self.drop(DropReason::QueueFull);
        }
        self.outbox.push_back((via, m));
    }

    /// Gives `uid` `role`, asking for a link if there is none yet.
    fn add_role(&mut self, now: Instant, uid: Uid, role: LinkRole) {
        if uid == self.me {
            return;
        }
        let bit = Roles::of(role);
        let od_until = now + self.cfg.ttl_on_demand;
        if let Some(p) = self.peer_mut(&uid) {
            if role == LinkRole::OnDemand && !p.roles.contains(bit) {
                p.on_demand_until = od_until;
            }
            p.roles.insert(bit);
            return;
        }
        self.insert_peer(Peer {
            uid,
            roles: bit,
            state: LinkState::Linking,
            expires: now + self.cfg.ttl_link_initial,
            on_demand_until: od_until,
        });
        self.push_action(Action::Connect { uid, role });
    }

    /// Takes `role` away from `uid`; a link left with no role is closed
    /// (16.01 closes a connection only when its last role goes).
    fn drop_role(&mut self, uid: &Uid, role: Roles) {
        let Some(p) = self.peer_mut(uid) else { return };
        p.roles.remove(role);
        if p.roles.is_empty() {
            self.remove_peer(uid, true);
        }
    }

    /// Forgets the link to `uid`; asks the node to close it if `disconnect`.
    fn remove_peer(&mut self, uid: &Uid, disconnect: bool) {
        let Ok(i) = self.peers.binary_search_by(|p| p.uid.cmp(uid)) else {
            return;
        };
        self.peers.remove(i);
        if let Ok(i) = self.up.binary_search(uid) {
            self.up.remove(i);
        }
        for s in self
            .chords
            .iter_mut()
            .filter(|s| s.peer.as_ref() == Some(uid))
        {
            s.refused = s.peer.take();
        }
        if disconnect {
            self.push_action(Action::Disconnect { uid: *uid });
        }
    }

    /// Adds `uid` to this cycle's successor candidates if it is among the
    /// `num_successors` closest clockwise seen so far.
    fn discover(&mut self, uid: Uid) {
        if uid == self.me {
            return;
        }
        let me = self.me;
        let d = routing::cw(&me, &uid);
        // Farther than the farthest successor picked last cycle: it cannot be
        // picked next cycle either (those successors are candidates too).
        if d > self.horizon {
            return;
        }
        let cap = usize::from(self.cfg.num_successors.max(1));
        match self.discovered.binary_search_by_key(&d, |(du, _)| *du) {
            Ok(_) => {}
            Err(i) if i < cap => {
                self.discovered.insert(i, (d, uid));
                self.discovered.truncate(cap);
            }
            Err(_) => {}
        }
    }

    /// Keeps `uid` in the bounded ping pool (random replacement once full).
    fn remember_known(&mut self, uid: Uid) {
        if uid == self.me || self.known.contains(&uid) || self.cfg.max_known == 0 {
            return;
        }
        if self.known.len() < self.cfg.max_known {
            self.known.push(uid);
        } else {
            let i = self.rng.below(self.known.len() as u64) as usize;
            if let Some(slot) = self.known.get_mut(i) {
                *slot = uid;
            }
        }
    }

    /// An advertisement for `to`: our up links closest clockwise after it.
    fn emit_advert(&self, buf: &mut [u8], to: &Uid) -> Option<usize> {
        let k = usize::from(self.cfg.num_successors).min(wire::MAX_ADVERTISED);
        let start = self.up.partition_point(|p| p <= to);
        let list = self
            .up
            .iter()
            .cycle()
            .skip(start)
            .take(self.up.len())
            .filter(|u| *u != to);
        wire::emit_advertise(buf, list.take(k).copied())
    }
}

/// The first `t + n·period` after `now` (skipping missed periods).
fn next_after(t: Instant, period: core::time::Duration, now: Instant) -> Instant {
    let next = t + period;
    if next > now {
        next
    } else {
        now + period
    }
}

#[cfg(test)]
mod tests;
