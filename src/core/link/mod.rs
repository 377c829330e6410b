//! Encrypted links: Noise `IKpsk2` (X25519, ChaCha20-Poly1305, BLAKE2s) over
//! UDP, with WireGuard's message layout, timers and cookie-based DoS
//! protection, for many peers at once. Sans-IO: the node hands in datagrams
//! and `now`, and gets bytes written into its own buffers.
//!
//! Contract with the node:
//! * `receive` for every link datagram (see `is_link_datagram` for demux);
//!   act on the returned `Received`.
//! * `encapsulate` for every outgoing payload; on `Err(NoSession)` call
//!   `initiate` (which refuses with `HandshakeInProgress` while one is in
//!   flight) and queue or drop the payload until `Received::Established`.
//! * After any call, drain `poll_transmit` until `None`, then sleep until
//!   `poll_timeout` (or the next input).
//!
//! The layer never decides *where* to send: it names the peer, and the node
//! picks the path. Memory is fixed at `new` (peer table of `max_peers`,
//! four session slots per peer); nothing here allocates afterwards.

// Input paths must not panic: no unwrap, expect or unchecked indexing
// outside tests (clippy enforces it).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod consts;
pub mod cookie;
pub mod error;
pub mod handshake;
pub mod noise;
pub mod peer;
pub mod psk;
pub mod ratelimit;
mod receive;
pub mod refuse;
pub mod replay;
mod send;
pub mod session;
pub mod timers;
pub mod wire;

#[cfg(test)]
mod flood_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod membership_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timer_tests;
#[cfg(test)]
mod vectors;

use core::time::Duration;
use std::net::SocketAddr;

use x25519_dalek::StaticSecret;

pub use consts::TRANSPORT_OVERHEAD;
pub use error::{DropReason, LinkError};
pub use wire::is_link_datagram;

use consts::*;
use cookie::CookieChecker;
use noise::Symmetric;
use peer::Peer;
use psk::{PskStatus, Psks};
use ratelimit::RateLimiter;
use refuse::{Refusals, Tried};
use send::send_on_current;
use timers::Timers;
use wire::MessageType;

use crate::core::rng::Rng;
use crate::core::time::Instant;

/// What the node configures the link layer with.
pub struct LinkConfig {
    /// Our X25519 static secret (from the key file).
    pub static_secret: [u8; 32],
    /// Pre-shared key mixed into every handshake (from `group_secret`; zeros when unset).
    pub psk: [u8; 32],
    /// Capacity of the peer table; fixed for the life of `Links`.
    pub max_peers: usize,
}

/// A peer's slot in the table. A removed peer's id may be reused by a later `add_peer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerId(pub u16);

/// Status of one peer's link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerLinkStats {
    /// A session can carry data now.
    pub established: bool,
    /// When the last handshake completed (either role).
    pub last_handshake: Option<Instant>,
    /// When the last authenticated message from the peer arrived.
    pub last_received: Option<Instant>,
    /// Wire bytes (whole link datagrams) and datagram counts.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// What a received datagram meant.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// A decrypted transport payload (non-empty), borrowed from `buf`.
    Data { peer: PeerId, payload: &'a [u8] },
    /// An authenticated empty transport message.
    Keepalive { peer: PeerId },
    /// Send `out[..len]` back to the datagram's source: a handshake response
    /// (peer known) or a cookie reply (peer `None`).
    Reply { peer: Option<PeerId>, len: usize },
    /// We were initiator and the response completed the handshake: queued
    /// payloads for `peer` can go now.
    Established { peer: PeerId },
    /// The peer is under load and sent us a cookie; the next initiation
    /// (the retransmit timer sends it) carries mac2. Nothing to do.
    CookieStored { peer: PeerId },
    /// Discarded; counted in `drops()`.
    Dropped(DropReason),
}

/// The link layer: one static identity, a table of peers and their sessions.
pub struct Links {
    secret: StaticSecret,
    public: [u8; 32],
    psks: Psks,
    /// Revoked keys and the allow-list: refused in handshakes.
    refusals: Refusals,
    /// Hash state after the prologue (same for every handshake).
    initial: Symmetric,
    /// Hash state after also mixing our own public key (responder start).
    responder_start: Symmetric,
    checker: CookieChecker,
    limiter: RateLimiter,
    peers: Vec<Option<Peer>>,
    max_peers: usize,
    rng: Rng,
    drops: [u64; DropReason::COUNT],
    accept_unknown: bool,
    default_keepalive: Option<Duration>,
    /// Unix time (ns) at `Instant::ZERO`, for initiation timestamps.
    wall_base_nanos: u64,
    last_timestamp_nanos: u64,
    /// X25519 operations performed (scalar multiplications), for tests and status.
    dh_ops: u64,
    cookie_replies_sent: u64,
    poll_cursor: usize,
    /// mac1 of the last RECENT_INITIATIONS initiations answered (a ring).
    recent_initiations: [Option<[u8; MAC_LEN]>; RECENT_INITIATIONS],
    recent_next: usize,
}

impl Links {
    /// A link layer with no peers. Allocates the peer table (`max_peers`
    /// entries, at most 65536) once; nothing grows later.
    pub fn new(cfg: LinkConfig, mut rng: Rng) -> Links {
        let secret = StaticSecret::from(cfg.static_secret);
        let mut dh_ops = 0;
        let public = handshake::public_of(&secret, &mut dh_ops);
        let initial = Symmetric::initial();
        let responder_start = handshake::responder_start(&initial, &public);
        let max_peers = cfg.max_peers.min(MAX_PEERS_LIMIT);
        Links {
            secret,
            public,
            psks: Psks::new(cfg.psk),
            refusals: Refusals::default(),
            initial,
            responder_start,
            checker: CookieChecker::new(&public),
            limiter: RateLimiter::new(rng.bytes()),
            peers: Vec::with_capacity(max_peers),
            max_peers,
            rng,
            drops: [0; DropReason::COUNT],
            accept_unknown: false,
            default_keepalive: None,
            wall_base_nanos: 0,
            last_timestamp_nanos: 0,
            dh_ops,
            cookie_replies_sent: 0,
            poll_cursor: 0,
            recent_initiations: [None; RECENT_INITIATIONS],
            recent_next: 0,
        }
    }

    /// Our static public key (what peers need to reach us).
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// Adds a peer by static public key; returns the existing id if present.
    /// Costs one X25519 operation (the cached static-static secret).
    pub fn add_peer(&mut self, public_key: [u8; 32]) -> Result<PeerId, LinkError> {
        if let Some(id) = self.find_peer(&public_key) {
            return Ok(id);
        }
        if public_key == self.public {
            return Err(LinkError::BadKey);
        }
        if self.refusals.refuses(&public_key) {
            return Err(LinkError::Refused);
        }
        let slot = match self.peers.iter().position(Option::is_none) {
            Some(i) => i,
            None if self.peers.len() < self.max_peers => {
                self.peers.push(None);
                self.peers.len() - 1
            }
            None => return Err(LinkError::TooManyPeers),
        };
        let ss = handshake::dh(&self.secret, &public_key, &mut self.dh_ops)
            .map_err(|_| LinkError::BadKey)?;
        let mut timers = Timers::default();
        timers.persistent = self.default_keepalive;
        let id = u16::try_from(slot).map_err(|_| LinkError::TooManyPeers)?;
        if let Some(entry) = self.peers.get_mut(slot) {
            *entry = Some(Peer::new(public_key, ss, timers));
        }
        Ok(PeerId(id))
    }

    /// Forgets a peer and erases its keys. Unknown ids are ignored.
    pub fn remove_peer(&mut self, peer: PeerId) {
        if let Some(entry) = self.peers.get_mut(usize::from(peer.0)) {
            if let Some(p) = entry.as_mut() {
                p.clear_keys();
            }
            *entry = None;
        }
    }

    pub fn find_peer(&self, public_key: &[u8; 32]) -> Option<PeerId> {
        self.peers
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.public == *public_key))
            .and_then(|i| u16::try_from(i).ok())
            .map(PeerId)
    }

    pub fn peer_public_key(&self, peer: PeerId) -> Option<[u8; 32]> {
        self.peer(peer).map(|p| p.public)
    }

    /// When true, an initiation from an unknown static key (that decrypts,
    /// so it was made for us) adds that key as a new peer. Such a peer still
    /// cannot finish the handshake without the PSK.
    pub fn set_accept_unknown(&mut self, accept: bool) {
        self.accept_unknown = accept;
    }

    /// Sends a keepalive to `peer` whenever nothing was sent for `every`
    /// (None: off), to hold NAT mappings open. Typical: 25 s.
    pub fn set_persistent_keepalive(&mut self, peer: PeerId, every: Option<Duration>) {
        if let Some(p) = self.peer_mut(peer) {
            p.timers.persistent = every;
        }
    }

    /// The persistent keepalive for peers added from now on (and all current ones).
    pub fn set_default_persistent_keepalive(&mut self, every: Option<Duration>) {
        self.default_keepalive = every;
        for p in self.peers.iter_mut().flatten() {
            p.timers.persistent = every;
        }
    }

    /// Tells the layer the Unix time (ns) at `Instant::ZERO`, so initiation
    /// timestamps keep increasing across restarts (the responder rejects
    /// non-increasing ones while the peer is alive). Without it a restarted
    /// node is accepted again once its peers have not heard from it for
    /// STALE_TIMESTAMP_GRACE.
    pub fn set_wall_clock(&mut self, unix_nanos_at_zero: u64) {
        self.wall_base_nanos = unix_nanos_at_zero;
    }

    /// Writes a handshake initiation for `peer` into `out` (at least
    /// INITIATION_LEN = 148 bytes); returns its length. Refuses with
    /// `HandshakeInProgress` when one was sent less than REKEY_TIMEOUT ago
    /// or the peer's own fresh handshake awaits our first packet.
    pub fn initiate(
        &mut self,
        now: Instant,
        peer: PeerId,
        out: &mut [u8],
    ) -> Result<usize, LinkError> {
        let idx = usize::from(peer.0);
        let p = self.peer(peer).ok_or(LinkError::UnknownPeer)?;
        let recent =
            |t: Option<Instant>| t.is_some_and(|t| now.saturating_since(t) < REKEY_TIMEOUT);
        if p.pending.is_some() && recent(p.last_initiation_sent) {
            return Err(LinkError::HandshakeInProgress);
        }
        if p.current.is_none() && recent(p.session(p.next).map(|s| s.created)) {
            return Err(LinkError::HandshakeInProgress);
        }
        self.start_handshake(now, idx, out)
    }

    /// Handles one link datagram from `from`. Transport payloads are
    /// decrypted in place in `buf`; a reply goes into `out` (at least 148
    /// bytes is always enough). Never panics; bad input is counted and
    /// returned as `Dropped`.
    pub fn receive<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &'a mut [u8],
        out: &mut [u8],
    ) -> Received<'a> {
        match self.dispatch(now, from, buf, out) {
            Ok(r) => r,
            Err(reason) => {
                self.count_drop(reason);
                Received::Dropped(reason)
            }
        }
    }

    /// Encrypts `payload` for `peer` into `out` (needs payload +
    /// TRANSPORT_OVERHEAD bytes). `Err(NoSession)` when no session can send
    /// (the caller then initiates). May schedule a rekey for `poll_transmit`.
    pub fn encapsulate(
        &mut self,
        now: Instant,
        peer: PeerId,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, LinkError> {
        if out.len() < payload.len() + TRANSPORT_OVERHEAD
            || payload.len() + TRANSPORT_OVERHEAD > MAX_DATAGRAM_LEN
        {
            self.count_drop(DropReason::BufferTooSmall);
            return Err(LinkError::BufferTooSmall);
        }
        let idx = usize::from(peer.0);
        let res = match self.peers.get_mut(idx).and_then(Option::as_mut) {
            None => return Err(LinkError::UnknownPeer),
            Some(p) => send_on_current(p, now, payload, out, &mut self.rng),
        };
        if res.is_none() {
            self.count_drop(DropReason::NoSession);
        }
        res.ok_or(LinkError::NoSession)
    }

    /// Timer work: keepalives, rekeys, retransmits, key erasure. Writes one
    /// datagram for the returned peer into `out` (at least 148 bytes); call
    /// until `None`. Changes `poll_timeout`'s answer.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<(PeerId, usize)> {
        let n = self.peers.len();
        for i in 0..n {
            let idx = (self.poll_cursor + i) % n;
            if let Some(len) = self.poll_peer(now, idx, out) {
                self.poll_cursor = idx;
                let id = u16::try_from(idx).ok()?;
                return Some((PeerId(id), len));
            }
        }
        None
    }

    /// The earliest instant at which `poll_transmit` has work. Changes after
    /// any `receive`, `encapsulate`, `initiate`, `poll_transmit` or peer change.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers
            .iter()
            .flatten()
            .filter_map(|p| p.timers.next())
            .min()
    }

    pub fn stats(&self, peer: PeerId) -> Option<PeerLinkStats> {
        let p = self.peer(peer)?;
        Some(PeerLinkStats {
            established: p.current.is_some(),
            last_handshake: p.last_handshake,
            last_received: p.last_received,
            rx_bytes: p.counters.rx_bytes,
            tx_bytes: p.counters.tx_bytes,
            rx_packets: p.counters.rx_packets,
            tx_packets: p.counters.tx_packets,
        })
    }

    /// Drop counters, indexed by `DropReason as usize` (names: `DropReason::ALL`).
    pub fn drops(&self) -> &[u64] {
        &self.drops
    }

    /// A session to `peer` can carry data now.
    pub fn is_established(&self, peer: PeerId) -> bool {
        self.peer(peer).is_some_and(|p| p.current.is_some())
    }

    /// Same as `is_established` but also checks the session's age at `now`.
    pub fn can_send(&self, now: Instant, peer: PeerId) -> bool {
        self.peer(peer).is_some_and(|p| p.can_send(now))
    }

    /// X25519 operations performed so far (handshake CPU cost).
    pub fn dh_operations(&self) -> u64 {
        self.dh_ops
    }

    /// Cookie replies sent (the node was under handshake load).
    pub fn cookie_replies_sent(&self) -> u64 {
        self.cookie_replies_sent
    }

    /// Sets the keys refused in handshakes: `revoked`, and with an
    /// allow-list every key not on it. Existing peers are not touched (the
    /// node removes them); `add_peer` refuses such keys from now on.
    pub fn set_refusals(&mut self, revoked: Vec<[u8; 32]>, allowed: Option<Vec<[u8; 32]>>) {
        self.refusals.set(revoked, allowed);
    }

    /// Whether handshakes with `key` are refused.
    pub fn refuses(&self, key: &[u8; 32]) -> bool {
        self.refusals.refuses(key)
    }

    /// Refused keys that tried to link, with counts (for `ipop status`).
    pub fn refused_tries(&self) -> &[Tried] {
        self.refusals.tried()
    }

    /// Holds `psk` as the next group secret (see `psk` for the rules).
    pub fn set_next_psk(&mut self, psk: [u8; 32]) {
        self.psks.set_next(psk);
    }

    /// How long the old secret stays acceptable after a rotation.
    pub fn set_psk_grace(&mut self, grace: Duration) {
        self.psks.set_grace(grace);
    }

    /// Starts initiating with the next secret now and re-keys every
    /// established session under it (old sessions carry data until the
    /// new ones are up). False without a next secret.
    pub fn rotate_psk(&mut self, now: Instant) -> bool {
        if !self.psks.rotate(now) {
            return false;
        }
        self.rekey_all(now);
        true
    }

    /// Erases the previous secret once its grace has run out (call from
    /// the node's timer work); true when it did.
    pub fn expire_psk(&mut self, now: Instant) -> bool {
        self.psks.expire(now)
    }

    /// When `expire_psk` has work.
    pub fn psk_deadline(&self) -> Option<Instant> {
        self.psks.deadline()
    }

    pub fn psk_status(&self) -> PskStatus {
        self.psks.status()
    }

    /// A peer showed it uses the next secret: adopt it (no re-key; new
    /// handshakes use it).
    pub(super) fn adopt_next_psk(&mut self, now: Instant) {
        self.psks.rotate(now);
    }

    /// Asks for a fresh handshake with every peer that has a session.
    fn rekey_all(&mut self, now: Instant) {
        for p in self.peers.iter_mut().flatten() {
            if p.current.is_some() && p.pending.is_none() {
                p.timers.set(timers::TimerKind::SendInitiation, now);
            }
        }
    }

    fn peer(&self, peer: PeerId) -> Option<&Peer> {
        self.peers.get(usize::from(peer.0))?.as_ref()
    }

    fn peer_mut(&mut self, peer: PeerId) -> Option<&mut Peer> {
        self.peer_slot_mut(usize::from(peer.0))
    }

    fn peer_slot_mut(&mut self, idx: usize) -> Option<&mut Peer> {
        self.peers.get_mut(idx)?.as_mut()
    }

    fn count_drop(&mut self, reason: DropReason) {
        if let Some(c) = self.drops.get_mut(reason as usize) {
            *c += 1;
        }
    }

    fn dispatch<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &'a mut [u8],
        out: &mut [u8],
    ) -> Result<Received<'a>, DropReason> {
        match wire::classify(buf)? {
            MessageType::Initiation => self.handle_initiation(now, from, buf, out),
            MessageType::Response => self.handle_response(now, from, buf, out),
            MessageType::CookieReply => self.handle_cookie_reply(now, buf),
            MessageType::Transport => self.handle_transport(now, buf),
        }
    }
}
