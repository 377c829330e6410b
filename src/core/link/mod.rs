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
pub mod ratelimit;
pub mod replay;
pub mod session;
pub mod timers;
pub mod wire;

#[cfg(test)]
mod flood_tests;
#[cfg(test)]
mod fuzz_tests;
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
use handshake::{InitiationInputs, InitiationRead};
use noise::Symmetric;
use peer::{make_index, split_index, Peer, Slot};
use ratelimit::{RateLimiter, Verdict};
use session::{OpenError, Session};
use timers::{TimerKind, Timers};
use wire::{field, put, put_header, u32_at, u64_at, MessageType};

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
    psk: [u8; 32],
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
            psk: cfg.psk,
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

    /// mac1, then the rate limiter (which may answer with a cookie reply).
    /// Returns Some(reply) when the message must not go further.
    fn admit_handshake(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>, DropReason> {
        if !self.checker.check_mac1(msg) {
            return Err(DropReason::BadMac);
        }
        let (checker, rng) = (&mut self.checker, &mut self.rng);
        match self
            .limiter
            .check(now, from.ip(), || checker.check_mac2(now, rng, from, msg))
        {
            Verdict::Accept => Ok(None),
            Verdict::Limited => Err(DropReason::RateLimited),
            Verdict::NeedCookie => {
                let len = self
                    .checker
                    .write_reply(now, &mut self.rng, from, msg, out)?;
                self.cookie_replies_sent += 1;
                Ok(Some(len))
            }
        }
    }

    fn handle_initiation<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Received<'a>, DropReason> {
        if out.len() < RESPONSE_LEN {
            return Err(DropReason::BufferTooSmall);
        }
        if let Some(len) = self.admit_handshake(now, from, msg, out)? {
            return Ok(Received::Reply { peer: None, len });
        }
        let mut read = handshake::read_initiation_static(
            &self.responder_start,
            &self.secret,
            msg,
            &mut self.dh_ops,
        )?;
        let id = match self.find_peer(&read.static_key) {
            Some(id) => id,
            None if self.accept_unknown => self.add_provisional(now, read.static_key)?,
            None => return Err(DropReason::UnknownPeer),
        };
        let idx = usize::from(id.0);
        let p = self.peer_slot_mut(idx).ok_or(DropReason::UnknownPeer)?;
        let ts = handshake::read_initiation_timestamp(&mut read, &p.static_static, msg)?;
        check_timestamp(p, now, &ts)?;
        self.respond(now, idx, read, u32_at(msg, field::initiation::SENDER), out)
            .map(|len| Received::Reply {
                peer: Some(id),
                len,
            })
            .inspect(|_| self.note_received(idx, now, msg.len()))
    }

    /// Adds an unknown initiator as a provisional peer, evicting a
    /// provisional one that has had REKEY_TIMEOUT to prove itself when the
    /// table is full. Without the PSK such a peer never leaves that state, so
    /// strangers cannot crowd out real peers.
    fn add_provisional(&mut self, now: Instant, key: [u8; 32]) -> Result<PeerId, DropReason> {
        let added = match self.add_peer(key) {
            Err(LinkError::TooManyPeers) => {
                let stale = self.peers.iter().position(|p| {
                    p.as_ref().is_some_and(|p| {
                        p.provisional
                            && p.last_handshake
                                .is_none_or(|t| now.saturating_since(t) >= REKEY_TIMEOUT)
                    })
                });
                let victim = stale
                    .and_then(|i| u16::try_from(i).ok())
                    .ok_or(DropReason::TooManyPeers)?;
                self.remove_peer(PeerId(victim));
                self.add_peer(key)
            }
            other => other,
        };
        let id = added.map_err(|e| match e {
            LinkError::TooManyPeers => DropReason::TooManyPeers,
            _ => DropReason::BadKey,
        })?;
        if let Some(p) = self.peer_mut(id) {
            p.provisional = true;
        }
        Ok(id)
    }

    /// Writes the response to a verified initiation and installs the new
    /// session as `next` (usable for sending once the initiator's first
    /// transport message confirms it).
    fn respond(
        &mut self,
        now: Instant,
        idx: usize,
        read: InitiationRead,
        remote_index: u32,
        out: &mut [u8],
    ) -> Result<usize, DropReason> {
        let ephemeral = StaticSecret::from(self.rng.bytes::<32>());
        let msg = out
            .get_mut(..RESPONSE_LEN)
            .ok_or(DropReason::BufferTooSmall)?;
        let keys = handshake::write_response(read, &ephemeral, &self.psk, msg, &mut self.dh_ops)?;
        let rng = &mut self.rng;
        let p = self
            .peers
            .get_mut(idx)
            .and_then(Option::as_mut)
            .ok_or(DropReason::UnknownPeer)?;
        let slot = p.pick_slot(p.next);
        if let Some(n) = p.next.take() {
            p.free(Some(n));
        }
        let local_index = make_index(rng, idx, slot);
        put_header(msg, TYPE_RESPONSE);
        put(msg, field::response::SENDER, &local_index.to_le_bytes());
        put(msg, field::response::RECEIVER, &remote_index.to_le_bytes());
        p.cookies.seal(now, msg);
        let session = Session::new(
            local_index,
            remote_index,
            &keys.send,
            &keys.recv,
            now,
            false,
        );
        if let Some(s) = p.slots.get_mut(slot) {
            *s = Slot::Session(session);
        }
        p.next = Some(slot);
        p.last_handshake = Some(now);
        p.timers.on_session_derived(now);
        p.timers.on_authenticated_sent(now);
        p.counters.tx_bytes += RESPONSE_LEN as u64;
        p.counters.tx_packets += 1;
        Ok(RESPONSE_LEN)
    }

    fn handle_response<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Received<'a>, DropReason> {
        if let Some(len) = self.admit_handshake(now, from, msg, out)? {
            return Ok(Received::Reply { peer: None, len });
        }
        let local_index = u32_at(msg, field::response::RECEIVER);
        let (idx, slot) = split_index(local_index);
        let p = self
            .peers
            .get_mut(idx)
            .and_then(Option::as_mut)
            .ok_or(DropReason::UnknownIndex)?;
        let keys = match p.slots.get(slot) {
            Some(Slot::Handshake {
                state,
                local_index: li,
            }) if *li == local_index => {
                handshake::read_response(state, &self.secret, &self.psk, msg, &mut self.dh_ops)?
            }
            _ => return Err(DropReason::UnknownIndex),
        };
        let remote_index = u32_at(msg, field::response::SENDER);
        let session = Session::new(local_index, remote_index, &keys.send, &keys.recv, now, true);
        if let Some(s) = p.slots.get_mut(slot) {
            *s = Slot::Session(session);
        }
        p.promote_initiated(slot);
        // The response decrypted, so the peer holds the PSK.
        p.provisional = false;
        p.first_attempt = None;
        p.last_handshake = Some(now);
        p.timers.on_handshake_complete();
        p.timers.on_session_derived(now);
        // Confirm the session to the responder unless data goes out first.
        p.timers.set(TimerKind::ConfirmSession, now);
        self.note_received(idx, now, msg.len());
        let id = u16::try_from(idx).map_err(|_| DropReason::UnknownIndex)?;
        Ok(Received::Established { peer: PeerId(id) })
    }

    fn handle_cookie_reply<'a>(
        &mut self,
        now: Instant,
        msg: &[u8],
    ) -> Result<Received<'a>, DropReason> {
        let local_index = u32_at(msg, field::cookie_reply::RECEIVER);
        let (idx, slot) = split_index(local_index);
        let p = self.peer_slot_mut(idx).ok_or(DropReason::UnknownIndex)?;
        if p.slots.get(slot).and_then(Slot::local_index) != Some(local_index) {
            return Err(DropReason::UnknownIndex);
        }
        p.cookies.consume_reply(now, msg)?;
        let id = u16::try_from(idx).map_err(|_| DropReason::UnknownIndex)?;
        Ok(Received::CookieStored { peer: PeerId(id) })
    }

    fn handle_transport<'a>(
        &mut self,
        now: Instant,
        buf: &'a mut [u8],
    ) -> Result<Received<'a>, DropReason> {
        let wire_len = buf.len();
        let local_index = u32_at(buf, field::transport::RECEIVER);
        let counter = u64_at(buf, field::transport::COUNTER);
        let (idx, slot) = split_index(local_index);
        let p = self.peer_slot_mut(idx).ok_or(DropReason::UnknownIndex)?;
        let session = match p.slots.get_mut(slot) {
            Some(Slot::Session(s)) if s.local_index == local_index => s,
            _ => return Err(DropReason::UnknownIndex),
        };
        if !session.can_receive(now) {
            return Err(DropReason::Expired);
        }
        let (_, body) = buf.split_at_mut(field::transport::PACKET);
        let len = session.open(counter, body).map_err(|e| match e {
            OpenError::Replay => DropReason::Replay,
            OpenError::AeadFail => DropReason::AeadFail,
        })?;
        let initiated_and_aging = session.initiator
            && now.saturating_since(session.created)
                >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
        if p.next == Some(slot) {
            p.confirm_next();
        }
        p.provisional = false;
        // Rekey on receive (paper §6.2): the initiator renews a session
        // about to hit REJECT_AFTER_TIME even when it sends nothing.
        if initiated_and_aging && p.current == Some(slot) && p.pending.is_none() {
            p.timers.set(TimerKind::SendInitiation, now);
        }
        if len > 0 {
            p.timers.on_data_received(now);
        }
        self.note_received(idx, now, wire_len);
        let id = PeerId(u16::try_from(idx).map_err(|_| DropReason::UnknownIndex)?);
        let body: &'a [u8] = body;
        match body.get(..len) {
            Some(payload) if !payload.is_empty() => Ok(Received::Data { peer: id, payload }),
            _ => Ok(Received::Keepalive { peer: id }),
        }
    }

    fn note_received(&mut self, idx: usize, now: Instant, wire_len: usize) {
        if let Some(p) = self.peer_slot_mut(idx) {
            p.last_received = Some(now);
            p.counters.rx_bytes += wire_len as u64;
            p.counters.rx_packets += 1;
            p.timers.on_authenticated_received(now);
        }
    }

    /// Builds a fresh initiation for peer `idx` into `out` (new ephemeral,
    /// new index) and arms the retransmit timer.
    fn start_handshake(
        &mut self,
        now: Instant,
        idx: usize,
        out: &mut [u8],
    ) -> Result<usize, LinkError> {
        let msg = out
            .get_mut(..INITIATION_LEN)
            .ok_or(LinkError::BufferTooSmall)?;
        let ts_nanos = self
            .wall_base_nanos
            .saturating_add(now.as_nanos())
            .max(self.last_timestamp_nanos + 1);
        self.last_timestamp_nanos = ts_nanos;
        let ephemeral = StaticSecret::from(self.rng.bytes::<32>());
        let (initial, public, rng) = (&self.initial, &self.public, &mut self.rng);
        let p = self
            .peers
            .get_mut(idx)
            .and_then(Option::as_mut)
            .ok_or(LinkError::UnknownPeer)?;
        let slot = p.pick_slot(p.pending);
        let local_index = make_index(rng, idx, slot);
        put_header(msg, TYPE_INITIATION);
        put(msg, field::initiation::SENDER, &local_index.to_le_bytes());
        let inputs = InitiationInputs {
            local_public: public,
            remote_public: &p.public,
            static_static: &p.static_static,
            ephemeral,
            timestamp: &handshake::tai64n(ts_nanos),
        };
        let state = handshake::write_initiation(initial, inputs, msg, &mut self.dh_ops)
            .map_err(|_| LinkError::BadKey)?;
        p.cookies.seal(now, msg);
        if let Some(s) = p.slots.get_mut(slot) {
            *s = Slot::Handshake { state, local_index };
        }
        p.pending = Some(slot);
        p.first_attempt.get_or_insert(now);
        p.last_initiation_sent = Some(now);
        p.timers.on_handshake_initiated(now, rng);
        p.timers.on_authenticated_sent(now);
        p.counters.tx_bytes += INITIATION_LEN as u64;
        p.counters.tx_packets += 1;
        Ok(INITIATION_LEN)
    }

    /// Serves the first due timer of peer `idx` that produces a datagram;
    /// due timers that produce nothing are cleared on the way.
    fn poll_peer(&mut self, now: Instant, idx: usize, out: &mut [u8]) -> Option<usize> {
        for kind in TimerKind::ALL {
            let p = self.peers.get_mut(idx)?.as_mut()?;
            if !p.timers.is_due(kind, now) {
                continue;
            }
            p.timers.stop(kind);
            match kind {
                TimerKind::SendInitiation => {
                    let in_flight = p.pending.is_some()
                        && p.last_initiation_sent
                            .is_some_and(|t| now.saturating_since(t) < REKEY_TIMEOUT);
                    if !in_flight {
                        if let Ok(len) = self.start_handshake(now, idx, out) {
                            return Some(len);
                        }
                    }
                }
                TimerKind::RetransmitHandshake => {
                    let Some(pending) = p.pending else { continue };
                    let gave_up = p
                        .first_attempt
                        .is_none_or(|t| now.saturating_since(t) >= REKEY_ATTEMPT_TIME);
                    if gave_up {
                        log::debug!("link: handshake with peer {idx} given up");
                        p.release(pending);
                        p.first_attempt = None;
                        p.timers.stop(TimerKind::SendKeepalive);
                        continue;
                    }
                    if let Ok(len) = self.start_handshake(now, idx, out) {
                        return Some(len);
                    }
                }
                TimerKind::NewHandshake => {
                    if p.pending.is_none() {
                        if let Ok(len) = self.start_handshake(now, idx, out) {
                            return Some(len);
                        }
                    }
                }
                TimerKind::ConfirmSession
                | TimerKind::SendKeepalive
                | TimerKind::PersistentKeepalive => {
                    if let Some(len) = send_on_current(p, now, &[], out, &mut self.rng) {
                        return Some(len);
                    }
                }
                TimerKind::ExpireSessions => {
                    if let Some(at) = p.expire_sessions(now) {
                        p.timers.set(TimerKind::ExpireSessions, at);
                    }
                }
                TimerKind::ZeroKeys => {
                    log::debug!("link: erasing keys of idle peer {idx}");
                    p.clear_keys();
                    let persistent = p.timers.persistent;
                    p.timers.clear();
                    p.timers.persistent = persistent;
                }
            }
        }
        None
    }
}

/// Seals `payload` on the peer's current session; None when none can send.
fn send_on_current(
    p: &mut Peer,
    now: Instant,
    payload: &[u8],
    out: &mut [u8],
    rng: &mut Rng,
) -> Option<usize> {
    let current = p.current;
    let pending = p.pending.is_some();
    let s = p.session_mut(current).filter(|s| s.can_send(now))?;
    let len = s.seal(payload, out)?;
    if s.wants_rekey_on_send(now) && !pending {
        p.timers.set(TimerKind::SendInitiation, now);
    }
    p.counters.tx_bytes += len as u64;
    p.counters.tx_packets += 1;
    p.timers.on_authenticated_sent(now);
    if !payload.is_empty() {
        p.timers.on_data_sent(now, rng);
    }
    Some(len)
}

/// Initiation replay protection: timestamps must increase, except after the
/// peer has been silent for STALE_TIMESTAMP_GRACE (it may have restarted
/// without a wall clock).
fn check_timestamp(p: &mut Peer, now: Instant, ts: &[u8; TIMESTAMP_LEN]) -> Result<(), DropReason> {
    let fresh = *ts > p.last_timestamp;
    let silent = p
        .last_received
        .is_none_or(|t| now.saturating_since(t) >= STALE_TIMESTAMP_GRACE);
    if !fresh && !silent {
        return Err(DropReason::StaleTimestamp);
    }
    p.last_timestamp = *ts;
    Ok(())
}
