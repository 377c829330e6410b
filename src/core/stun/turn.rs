//! TURN client over UDP (RFC 8656), one allocation on one server.
//!
//! Life of an allocation:
//! * Allocate without credentials; the server answers 401 with REALM and
//!   NONCE; Allocate again with USERNAME, REALM, NONCE and
//!   MESSAGE-INTEGRITY keyed with MD5(user:realm:pass). A 438 (stale
//!   nonce) on any request repeats it with the new nonce. At most
//!   [`MAX_AUTH_ROUNDS`] credential rounds, then [`TurnEvent::Failed`].
//! * 437 (allocation mismatch: a previous run's allocation on this 5-tuple)
//!   deletes it with Refresh(LIFETIME 0), then allocates again.
//! * Refresh [`ALLOCATION_REFRESH_MARGIN`] before the granted lifetime ends.
//! * Peers (tables in `turn_peers.rs`): a CreatePermission per peer
//!   IP, repeated every [`PERMISSION_REFRESH`] (permissions expire after
//!   300 s) while the IP is in use; a ChannelBind per peer address we send
//!   to, on the first [`wrap`](TurnClient::wrap) (that packet goes as a
//!   Send indication), repeated every [`CHANNEL_REFRESH`] while packets use
//!   it. Both tables are bounded and evict the least recently used entry.
//! * A Binding request to the server every [`TURN_KEEPALIVE`] keeps our NAT
//!   mapping alive; if the XOR-MAPPED-ADDRESS changed (NAT rebinding) or
//!   the server stopped answering, the allocation is lost: the client
//!   emits [`TurnEvent::Failed`] and allocates again at once.
//! * A failed allocation is retried after [`ALLOCATION_RETRY`].
//!
//! Success responses to authenticated requests must carry a valid
//! MESSAGE-INTEGRITY; error responses (401/438) cannot, so they may only
//! make the client retry or give up.

use super::attr;
use super::binding::Txn;
use super::channel::ChannelData;
use super::consts::*;
use super::error::{StunDrop, StunError, StunStats};
use super::long_term_key;
use super::message::{message_type, Class, Message};
use super::writer::MessageWriter;
use crate::core::rng::Rng;
use crate::core::time::Instant;
use core::time::Duration;
use peers::{insert_lru, Channel, Due, Permission};
use std::net::{IpAddr, SocketAddr};

#[path = "turn_peers.rs"]
mod peers;
pub use peers::{
    addr_class, can_permit, AddrClass, CHANNEL_LIFETIME, CHANNEL_REFRESH, MAX_CHANNELS,
    MAX_PERMISSIONS, PERMISSION_IDLE,
};

/// Requests in flight at once.
const MAX_TXNS: usize = 16;
/// REALM and NONCE longer than this make the allocation fail.
const MAX_TOKEN: usize = 256;
/// Wait before retrying a permission or channel binding that timed out.
const PEER_RETRY: Duration = Duration::from_secs(5);
/// Wait before retrying one the server refused (e.g. 403 for a peer IP
/// its policy forbids): not worth asking every few seconds.
const PEER_REFUSED_RETRY: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnEvent {
    /// The allocation is ready; `mapped` is the server-reflexive address
    /// the server saw (XOR-MAPPED-ADDRESS), when it said.
    Allocated {
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
    },
    /// Allocation failed or was lost; retried after [`ALLOCATION_RETRY`].
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Allocate,
    Refresh {
        lifetime: u32,
    },
    Permission {
        peer: SocketAddr,
    },
    ChannelBind {
        peer: SocketAddr,
        channel: u16,
    },
    /// Binding request on the allocation's 5-tuple.
    Keepalive,
}

#[derive(Clone, Copy, Debug)]
struct Request {
    txn: Txn,
    kind: Kind,
    authenticated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No allocation; start one at the given time.
    Idle {
        start_at: Instant,
    },
    Allocating,
    Allocated {
        relayed: SocketAddr,
        refresh_at: Instant,
        keepalive_at: Instant,
    },
}

pub struct TurnClient {
    server: SocketAddr,
    user: String,
    pass: String,
    realm: heapless::Vec<u8, MAX_TOKEN>,
    nonce: heapless::Vec<u8, MAX_TOKEN>,
    key: Option<[u8; 16]>,
    auth_rounds: u8,
    /// Our address as the server sees it (from Allocate, then keepalives).
    mapped: Option<SocketAddr>,
    state: State,
    requests: [Option<Request>; MAX_TXNS],
    perms: heapless::Vec<Permission, MAX_PERMISSIONS>,
    channels: heapless::Vec<Channel, MAX_CHANNELS>,
    next_channel: u16,
    /// The latest time we were given, for [`wrap`](Self::wrap) and
    /// [`unwrap`](Self::unwrap), which take none.
    clock: Instant,
    events: heapless::Deque<TurnEvent, 4>,
    rng: Rng,
    stats: StunStats,
}

impl TurnClient {
    /// A client for `server` (resolved by the shell) with the 16.01 `turn`
    /// entry's `user` and `pass`. Allocation starts at the first
    /// [`handle_timeout`](Self::handle_timeout).
    pub fn new(server: SocketAddr, user: &str, pass: &str, rng: Rng) -> Self {
        TurnClient {
            server,
            user: user.to_owned(),
            pass: pass.to_owned(),
            realm: heapless::Vec::new(),
            nonce: heapless::Vec::new(),
            key: None,
            auth_rounds: 0,
            mapped: None,
            state: State::Idle {
                start_at: Instant::ZERO,
            },
            requests: [None; MAX_TXNS],
            perms: heapless::Vec::new(),
            channels: heapless::Vec::new(),
            next_channel: CHANNEL_MIN,
            clock: Instant::ZERO,
            events: heapless::Deque::new(),
            rng,
            stats: StunStats::default(),
        }
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// True when `datagram` (from this client's server) is ours:
    /// ChannelData, a Data indication, or a response to an outstanding
    /// request. Cheap; no full parse.
    pub fn accepts(&self, datagram: &[u8]) -> bool {
        if super::is_channel_data(datagram) {
            return true;
        }
        let Some(id) = super::binding::txid_of(datagram) else {
            return false;
        };
        let data_ind = message_type(DATA, Class::Indication).to_be_bytes();
        datagram.first_chunk::<2>() == Some(&data_ind)
            || self.requests.iter().flatten().any(|r| r.txn.id == id)
    }

    /// The relayed address while allocated.
    pub fn relayed(&self) -> Option<SocketAddr> {
        match self.state {
            State::Allocated { relayed, .. } => Some(relayed),
            _ => None,
        }
    }

    pub fn stats(&self) -> &StunStats {
        &self.stats
    }

    /// The channel bound to `peer`, once the server confirmed it.
    pub fn channel(&self, peer: SocketAddr) -> Option<u16> {
        self.channels
            .iter()
            .find(|c| c.peer == peer && c.bound)
            .map(|c| c.number)
    }

    /// Peer IPs currently permitted or about to be, in table order.
    pub fn permitted(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.perms.iter().map(|p| p.addr.ip())
    }

    /// Lets `peer`'s IP send to our relayed address (CreatePermission, kept
    /// while the IP is in use). Idempotent; marks the IP used. `false` (and
    /// nothing done) if this server cannot reach it ([`can_permit`]: a
    /// peer's LAN address is useless at a public server). A full table
    /// evicts the least recently used permission.
    pub fn permit(&mut self, now: Instant, peer: SocketAddr) -> bool {
        if !can_permit(self.server.ip(), peer.ip()) {
            return false;
        }
        self.touch_permission(now, peer);
        self.advance(now);
        true
    }

    /// Permits `peer`'s IP and binds a channel to `peer` right away, with
    /// no address-class check: for a peer the caller knows it will send to
    /// (the `check --online` probe; [`wrap`](Self::wrap) otherwise binds on
    /// first use).
    pub fn add_peer(&mut self, now: Instant, peer: SocketAddr) {
        self.touch_permission(now, peer);
        self.touch_channel(now, peer);
        self.advance(now);
    }

    /// Forgets `peer`'s channel (the node forgot the address); the server
    /// lets the binding expire. Its IP's permission lapses once nothing
    /// uses it for [`PERMISSION_IDLE`].
    pub fn remove_peer(&mut self, peer: SocketAddr) {
        self.channels.retain(|c| c.peer != peer);
    }

    /// Marks `peer`'s IP used, adding a permission (due at once) if new.
    fn touch_permission(&mut self, now: Instant, peer: SocketAddr) {
        if let Some(p) = self.perms.iter_mut().find(|p| p.addr.ip() == peer.ip()) {
            p.used = p.used.max(now);
            p.addr = peer;
            return;
        }
        let new = Permission {
            addr: peer,
            used: now,
            refresh_at: now,
        };
        if let Some(old) = insert_lru(&mut self.perms, new, |p| p.used) {
            log::debug!("turn {}: evicted permission {}", self.server, old.addr.ip());
        }
    }

    /// Marks a packet to or from `peer` on its channel, adding one (bound
    /// at the next [`advance`](Self::advance)) if new.
    fn touch_channel(&mut self, now: Instant, peer: SocketAddr) {
        if let Some(c) = self.channels.iter_mut().find(|c| c.peer == peer) {
            return c.touch(now);
        }
        let number = self.next_channel;
        self.next_channel = if number >= CHANNEL_MAX {
            CHANNEL_MIN
        } else {
            number + 1
        };
        let new = Channel {
            peer,
            number,
            bound: false,
            used: now,
            bound_at: None,
            refresh_at: now,
        };
        insert_lru(&mut self.channels, new, |c| c.used);
    }

    /// Sends a keepalive now, to learn at once whether the allocation
    /// survived (call when the network changed or a relayed peer went
    /// quiet).
    pub fn check_now(&mut self, now: Instant) {
        if let State::Allocated {
            ref mut keepalive_at,
            ..
        } = self.state
        {
            *keepalive_at = (*keepalive_at).min(now);
        }
        self.advance(now);
    }

    /// Deletes the allocation (Refresh with LIFETIME 0); call at shutdown.
    pub fn close(&mut self, now: Instant) {
        if matches!(self.state, State::Allocated { .. }) {
            self.start(now, Kind::Refresh { lifetime: 0 });
        }
        self.state = State::Idle {
            start_at: Instant::from_nanos(u64::MAX),
        };
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    fn advance(&mut self, now: Instant) {
        self.clock = self.clock.max(now);
        self.expire_requests(now);
        match self.state {
            State::Idle { start_at } if start_at <= now => {
                self.state = State::Allocating;
                self.start(now, Kind::Allocate);
            }
            State::Allocated {
                relayed,
                refresh_at,
                keepalive_at,
            } if refresh_at <= now => {
                let lifetime = ALLOCATION_LIFETIME_SECS;
                let retry = if self.start(now, Kind::Refresh { lifetime }) {
                    now + Duration::from_secs(u64::from(lifetime))
                } else {
                    now + RTO
                };
                self.state = State::Allocated {
                    relayed,
                    refresh_at: retry,
                    keepalive_at,
                };
            }
            _ => {}
        }
        if let State::Allocated {
            relayed,
            refresh_at,
            keepalive_at,
        } = self.state
        {
            if keepalive_at <= now {
                let busy = self
                    .requests
                    .iter()
                    .flatten()
                    .any(|r| r.kind == Kind::Keepalive);
                let next = if busy || self.start(now, Kind::Keepalive) {
                    now + TURN_KEEPALIVE
                } else {
                    now + RTO
                };
                self.state = State::Allocated {
                    relayed,
                    refresh_at,
                    keepalive_at: next,
                };
            }
        }
        if matches!(self.state, State::Allocated { .. }) {
            self.refresh_permissions(now);
            self.refresh_channels(now);
        }
    }

    fn refresh_permissions(&mut self, now: Instant) {
        let mut i = 0;
        while let Some(p) = self.perms.get(i).copied() {
            if p.refresh_at > now {
                i += 1;
                continue;
            }
            if p.due(now) == Due::Drop {
                log::debug!(
                    "turn {}: permission for {} idle, dropped",
                    self.server,
                    p.addr.ip()
                );
                self.perms.swap_remove(i);
                continue;
            }
            let ok = self.start(now, Kind::Permission { peer: p.addr });
            if let Some(p) = self.perms.get_mut(i) {
                p.refresh_at = now + if ok { PERMISSION_REFRESH } else { RTO };
            }
            i += 1;
        }
    }

    fn refresh_channels(&mut self, now: Instant) {
        let mut i = 0;
        while let Some(c) = self.channels.get(i).copied() {
            if c.refresh_at > now {
                i += 1;
                continue;
            }
            let next = match c.due(now) {
                Due::Drop => {
                    self.channels.swap_remove(i);
                    continue;
                }
                Due::Wait(t) => t,
                Due::Refresh => {
                    let kind = Kind::ChannelBind {
                        peer: c.peer,
                        channel: c.number,
                    };
                    if self.start(now, kind) {
                        if let Some(c) = self.channels.get_mut(i) {
                            c.bound_at = Some(now);
                        }
                        now + CHANNEL_REFRESH
                    } else {
                        now + RTO
                    }
                }
            };
            if let Some(c) = self.channels.get_mut(i) {
                c.refresh_at = next;
            }
            i += 1;
        }
    }

    /// Starts a request; false when all request slots are busy.
    fn start(&mut self, now: Instant, kind: Kind) -> bool {
        let authenticated = self.key.is_some() && kind != Kind::Keepalive;
        let Some(slot) = self.requests.iter_mut().find(|r| r.is_none()) else {
            return false;
        };
        *slot = Some(Request {
            txn: Txn::new(&mut self.rng, now),
            kind,
            authenticated,
        });
        true
    }

    fn expire_requests(&mut self, now: Instant) {
        for i in 0..MAX_TXNS {
            let Some(r) = self.requests.get(i).copied().flatten() else {
                continue;
            };
            if !r.txn.expired(now) {
                continue;
            }
            if let Some(slot) = self.requests.get_mut(i) {
                *slot = None;
            }
            log::debug!("turn {}: {:?} timed out", self.server, r.kind);
            match r.kind {
                Kind::Allocate | Kind::Refresh { .. } => self.fail(now),
                Kind::Keepalive => self.lost(now),
                Kind::Permission { .. } | Kind::ChannelBind { .. } => {
                    self.peer_failed(now, r.kind, PEER_RETRY)
                }
            }
        }
    }

    fn fail(&mut self, now: Instant) {
        log::info!("turn {}: allocation failed", self.server);
        self.reset(now, now + ALLOCATION_RETRY);
    }

    /// The allocation is gone (NAT rebinding or silent server): allocate
    /// again at once.
    fn lost(&mut self, now: Instant) {
        log::info!("turn {}: allocation lost, allocating again", self.server);
        self.reset(now, now);
    }

    fn reset(&mut self, now: Instant, start_at: Instant) {
        self.state = State::Idle { start_at };
        self.mapped = None;
        self.requests = [None; MAX_TXNS];
        for p in self.perms.iter_mut() {
            p.refresh_at = now;
        }
        // A new allocation has no channels: bound again on next use.
        self.channels.clear();
        self.auth_rounds = 0;
        self.push_event(TurnEvent::Failed);
    }

    /// A permission or channel request for `kind` timed out (`retry` =
    /// [`PEER_RETRY`]) or was refused.
    fn peer_failed(&mut self, now: Instant, kind: Kind, retry: Duration) {
        match kind {
            Kind::Permission { peer } => {
                if let Some(p) = self.perms.iter_mut().find(|p| p.addr.ip() == peer.ip()) {
                    p.refresh_at = now + retry;
                }
            }
            Kind::ChannelBind { peer, channel } => {
                let mut all = self.channels.iter_mut();
                if let Some(c) = all.find(|c| c.peer == peer && c.number == channel) {
                    c.bound = false;
                    c.bound_at = None;
                    c.refresh_at = now + retry;
                }
            }
            _ => {}
        }
    }

    fn push_event(&mut self, e: TurnEvent) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }

    /// Earliest time there is work for handle_timeout/poll_transmit.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match self.state {
            State::Idle { start_at } => Some(start_at),
            State::Allocating => None,
            State::Allocated {
                refresh_at,
                keepalive_at,
                ..
            } => Some(refresh_at.min(keepalive_at)),
        };
        let (perms, channels) = match self.state {
            State::Allocated { .. } => (
                self.perms.iter().map(|p| p.refresh_at).min(),
                self.channels.iter().map(|c| c.refresh_at).min(),
            ),
            _ => (None, None),
        };
        let reqs = self.requests.iter().flatten().map(|r| r.txn.next).min();
        [state, perms, channels, reqs].into_iter().flatten().min()
    }

    /// Writes the next due request into `buf`: (server, length).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        self.advance(now);
        let i = self
            .requests
            .iter()
            .position(|r| r.is_some_and(|r| r.txn.send_due(now)))?;
        let r = self.requests.get(i).copied().flatten()?;
        let len = self.write_request(buf, &r).ok()?;
        if let Some(Some(r)) = self.requests.get_mut(i) {
            r.txn.on_sent(now);
        }
        self.stats.requests_sent += 1;
        Some((self.server, len))
    }

    fn write_request(&self, buf: &mut [u8], r: &Request) -> Result<usize, StunError> {
        let method = match r.kind {
            Kind::Allocate => ALLOCATE,
            Kind::Refresh { .. } => REFRESH,
            Kind::Permission { .. } => CREATE_PERMISSION,
            Kind::ChannelBind { .. } => CHANNEL_BIND,
            Kind::Keepalive => BINDING,
        };
        let mut w = MessageWriter::new(buf, message_type(method, Class::Request), &r.txn.id)?;
        match r.kind {
            Kind::Allocate => w.requested_transport(TRANSPORT_UDP)?,
            Kind::Refresh { lifetime } => w.u32_attr(ATTR_LIFETIME, lifetime)?,
            Kind::Permission { peer } => w.xor_address(ATTR_XOR_PEER_ADDRESS, peer)?,
            Kind::ChannelBind { peer, channel } => {
                w.channel_number(channel)?;
                w.xor_address(ATTR_XOR_PEER_ADDRESS, peer)?;
            }
            Kind::Keepalive => {}
        }
        if let (true, Some(key)) = (r.authenticated, self.key) {
            w.attr(ATTR_USERNAME, self.user.as_bytes())?;
            w.attr(ATTR_REALM, &self.realm)?;
            w.attr(ATTR_NONCE, &self.nonce)?;
            w.message_integrity(&key)?;
        }
        Ok(w.finish())
    }

    /// Everything the server sends, in one call: ChannelData and Data
    /// indications are unframed to `Some((peer, payload))`; responses are
    /// consumed (`None`). Drops are counted and returned.
    pub fn handle_input<'d>(
        &mut self,
        now: Instant,
        datagram: &'d [u8],
    ) -> Result<Option<(SocketAddr, &'d [u8])>, StunDrop> {
        self.clock = self.clock.max(now);
        let data_ind = message_type(DATA, Class::Indication).to_be_bytes();
        if super::is_channel_data(datagram) || datagram.first_chunk::<2>() == Some(&data_ind) {
            let r = self.unwrap_inner(datagram);
            if let Err(d) = r {
                self.stats.drop(d);
            }
            return r.map(Some);
        }
        self.handle_datagram(now, datagram).map(|()| None)
    }

    /// Feeds a STUN response from the server. `Ok` when it answered one of
    /// our requests; else the drop reason, already counted. ChannelData and
    /// Data indications go to [`unwrap`](Self::unwrap) instead.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), StunDrop> {
        self.clock = self.clock.max(now);
        let r = self.accept(now, datagram);
        match r {
            Ok(()) => self.stats.responses_accepted += 1,
            Err(d) => self.stats.drop(d),
        }
        r
    }

    fn accept(&mut self, now: Instant, datagram: &[u8]) -> Result<(), StunDrop> {
        let msg = Message::parse(datagram)?;
        if !matches!(msg.class(), Class::Success | Class::Error) {
            return Err(StunDrop::UnexpectedMessage);
        }
        let id = msg.transaction_id();
        let i = self
            .requests
            .iter()
            .position(|r| r.is_some_and(|r| r.txn.id == id))
            .ok_or(StunDrop::UnexpectedTransaction)?;
        let req = self
            .requests
            .get(i)
            .copied()
            .flatten()
            .ok_or(StunDrop::UnexpectedTransaction)?;
        msg.check_fingerprint()?;
        if msg.class() == Class::Success {
            if req.authenticated {
                let key = self.key.ok_or(StunDrop::Unauthenticated)?;
                msg.check_integrity(&key)?;
            }
            // Parse everything before changing state.
            let outcome = success_outcome(&msg, req.kind)?;
            self.clear(i);
            self.on_success(now, req.kind, outcome);
        } else {
            let code = attr::error_code(msg.attr(ATTR_ERROR_CODE).ok_or(StunDrop::Malformed)?)?;
            if matches!(code.code, ERR_UNAUTHORIZED | ERR_STALE_NONCE) {
                self.take_credentials(&msg)?;
            }
            self.clear(i);
            self.on_error(now, req.kind, code.code);
        }
        Ok(())
    }

    fn clear(&mut self, i: usize) {
        if let Some(slot) = self.requests.get_mut(i) {
            *slot = None;
        }
    }

    /// Stores REALM (if sent) and NONCE from a 401/438 and derives the key.
    fn take_credentials(&mut self, msg: &Message) -> Result<(), StunDrop> {
        let nonce = msg.attr(ATTR_NONCE).ok_or(StunDrop::Malformed)?;
        let realm = msg.attr(ATTR_REALM).unwrap_or(&self.realm);
        let realm_str = attr::text(realm)?;
        let key = long_term_key(&self.user, realm_str, &self.pass);
        let (Ok(realm), Ok(nonce)) = (
            heapless::Vec::from_slice(realm),
            heapless::Vec::from_slice(nonce),
        ) else {
            return Err(StunDrop::Malformed);
        };
        self.realm = realm;
        self.nonce = nonce;
        self.key = Some(key);
        Ok(())
    }

    fn on_success(&mut self, now: Instant, kind: Kind, outcome: Outcome) {
        match (kind, outcome) {
            (
                Kind::Allocate,
                Outcome::Allocated {
                    relayed,
                    mapped,
                    lifetime,
                },
            ) => {
                log::info!("turn {}: relayed address {relayed}", self.server);
                self.auth_rounds = 0;
                self.mapped = mapped;
                self.state = State::Allocated {
                    relayed,
                    refresh_at: refresh_time(now, lifetime),
                    keepalive_at: now + TURN_KEEPALIVE,
                };
                // Everything in the table is permitted once more on the
                // new allocation, however long allocating took.
                for p in self.perms.iter_mut() {
                    p.used = p.used.max(now);
                    p.refresh_at = now;
                }
                self.push_event(TurnEvent::Allocated { relayed, mapped });
            }
            // Deleted: allocate afresh unless we are closing.
            (Kind::Refresh { lifetime: 0 }, _) if self.state == State::Allocating => {
                self.start(now, Kind::Allocate);
            }
            (Kind::Refresh { lifetime: 0 }, _) => {}
            (Kind::Refresh { .. }, Outcome::Lifetime(l)) => {
                if let State::Allocated {
                    relayed,
                    keepalive_at,
                    ..
                } = self.state
                {
                    self.state = State::Allocated {
                        relayed,
                        refresh_at: refresh_time(now, l),
                        keepalive_at,
                    };
                }
            }
            (Kind::Keepalive, Outcome::Mapped(m)) => {
                let allocated = matches!(self.state, State::Allocated { .. });
                if allocated && self.mapped.is_some_and(|old| old != m) {
                    log::info!("turn {}: NAT rebinding, now seen as {m}", self.server);
                    self.lost(now);
                }
            }
            (Kind::ChannelBind { peer, channel }, _) => {
                if let Some(c) = self.channels.iter_mut().find(|c| c.peer == peer) {
                    c.bound = c.number == channel;
                }
            }
            _ => {}
        }
    }

    fn on_error(&mut self, now: Instant, kind: Kind, code: u16) {
        log::debug!("turn {}: {kind:?} error {code}", self.server);
        let retry_auth = matches!(code, ERR_UNAUTHORIZED | ERR_STALE_NONCE)
            && self.auth_rounds < MAX_AUTH_ROUNDS;
        match kind {
            Kind::Allocate if retry_auth => {
                self.auth_rounds += 1;
                self.start(now, Kind::Allocate);
            }
            Kind::Allocate if code == ERR_ALLOCATION_MISMATCH && self.key.is_some() => {
                self.start(now, Kind::Refresh { lifetime: 0 });
            }
            Kind::Refresh { lifetime } if code == ERR_STALE_NONCE => {
                self.start(now, Kind::Refresh { lifetime });
            }
            // Deleting a stale allocation failed: allocate anyway.
            Kind::Refresh { lifetime: 0 } if self.state == State::Allocating => {
                self.start(now, Kind::Allocate);
            }
            Kind::Refresh { lifetime: 0 } | Kind::Keepalive => {}
            Kind::Allocate | Kind::Refresh { .. } => self.fail(now),
            Kind::Permission { .. } | Kind::ChannelBind { .. } if code == ERR_STALE_NONCE => {
                self.start(now, kind);
            }
            Kind::Permission { .. } | Kind::ChannelBind { .. } => {
                self.peer_failed(now, kind, PEER_REFUSED_RETRY)
            }
        }
    }

    /// Frames `payload` for `peer` into `out`: ChannelData when a channel is
    /// bound, else a Send indication (and the channel is bound next). Marks
    /// the peer's permission and channel used. The datagram goes to
    /// [`server`](Self::server). `None` when not allocated or `out` is too
    /// small. Allocates nothing.
    pub fn wrap(&mut self, peer: SocketAddr, payload: &[u8], out: &mut [u8]) -> Option<usize> {
        self.relayed()?;
        let now = self.clock;
        self.touch_permission(now, peer);
        self.touch_channel(now, peer);
        if let Some(ch) = self.channel(peer) {
            return ChannelData::emit(ch, payload, out);
        }
        let txid: [u8; 12] = self.rng.bytes();
        let mut w = MessageWriter::new(out, message_type(SEND, Class::Indication), &txid).ok()?;
        w.xor_address(ATTR_XOR_PEER_ADDRESS, peer).ok()?;
        w.attr(ATTR_DATA, payload).ok()?;
        Some(w.finish())
    }

    /// Unframes a datagram from the server: ChannelData on a channel we
    /// assigned, or a Data indication. `None` (counted) otherwise.
    /// Marks the peer's permission and channel used (at the latest time
    /// the client was given).
    pub fn unwrap<'d>(&mut self, datagram: &'d [u8]) -> Option<(SocketAddr, &'d [u8])> {
        let r = self.unwrap_inner(datagram);
        if let Err(d) = r {
            self.stats.drop(d);
        }
        r.ok()
    }

    fn unwrap_inner<'d>(&mut self, datagram: &'d [u8]) -> Result<(SocketAddr, &'d [u8]), StunDrop> {
        let now = self.clock;
        if let Some(cd) = ChannelData::parse(datagram) {
            let c = self
                .channels
                .iter_mut()
                .find(|c| c.number == cd.channel)
                .ok_or(StunDrop::BadChannelData)?;
            c.touch(now);
            let peer = c.peer;
            self.touch_permission(now, peer);
            return Ok((peer, cd.payload));
        }
        let msg = Message::parse(datagram)?;
        if msg.method() != DATA || msg.class() != Class::Indication {
            return Err(StunDrop::UnexpectedMessage);
        }
        msg.check_fingerprint()?;
        let id = msg.transaction_id();
        let peer = attr::xor_address(
            msg.attr(ATTR_XOR_PEER_ADDRESS).ok_or(StunDrop::Malformed)?,
            &id,
        )?;
        let data = msg.attr(ATTR_DATA).ok_or(StunDrop::Malformed)?;
        self.touch_permission(now, peer);
        if let Some(c) = self.channels.iter_mut().find(|c| c.peer == peer) {
            c.touch(now);
        }
        Ok((peer, data))
    }
}

/// What a success response carried, parsed before any state changes.
enum Outcome {
    Allocated {
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        lifetime: u32,
    },
    Lifetime(u32),
    Mapped(SocketAddr),
    Done,
}

fn success_outcome(msg: &Message, kind: Kind) -> Result<Outcome, StunDrop> {
    let id = msg.transaction_id();
    let lifetime = match msg.attr(ATTR_LIFETIME) {
        Some(v) => attr::u32_value(v)?,
        None => ALLOCATION_LIFETIME_SECS,
    };
    Ok(match kind {
        Kind::Allocate => {
            let relayed = msg
                .attr(ATTR_XOR_RELAYED_ADDRESS)
                .ok_or(StunDrop::Malformed)?;
            let mapped = match msg.attr(ATTR_XOR_MAPPED_ADDRESS) {
                Some(v) => Some(attr::xor_address(v, &id)?),
                None => None,
            };
            Outcome::Allocated {
                relayed: attr::xor_address(relayed, &id)?,
                mapped,
                lifetime,
            }
        }
        Kind::Refresh { .. } => Outcome::Lifetime(lifetime),
        Kind::Keepalive => Outcome::Mapped(attr::xor_address(
            msg.attr(ATTR_XOR_MAPPED_ADDRESS)
                .ok_or(StunDrop::Malformed)?,
            &id,
        )?),
        _ => Outcome::Done,
    })
}

/// When to refresh an allocation granted for `lifetime` seconds.
fn refresh_time(now: Instant, lifetime: u32) -> Instant {
    let life = Duration::from_secs(u64::from(lifetime));
    let before = if life > ALLOCATION_REFRESH_MARGIN * 2 {
        life - ALLOCATION_REFRESH_MARGIN
    } else {
        life / 2
    };
    now + before.max(Duration::from_secs(1))
}

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;
