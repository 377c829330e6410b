//! The receive half of `Links`: one handler per message type, validating
//! from cheap to expensive (length and type in `wire`, then mac1 and the
//! rate limiter, then Diffie-Hellman or AEAD, then the replay window).

use std::net::SocketAddr;

use x25519_dalek::StaticSecret;

use super::consts::*;
use super::error::{DropReason, LinkError};
use super::handshake::{self, InitiationRead};
use super::peer::{make_index, split_index, Peer, Slot};
use super::ratelimit::Verdict;
use super::session::{OpenError, Session};
use super::timers::TimerKind;
use super::wire::{field, put, put_header, take, u32_at, u64_at};
use super::{Links, PeerId, Received};
use crate::core::time::Instant;

impl Links {
    /// mac1, then the rate limiter (which may answer with a cookie reply).
    /// Returns Some(reply) when the message must not go further.
    pub(super) fn admit_handshake(
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

    pub(super) fn handle_initiation<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Received<'a>, DropReason> {
        if out.len() < RESPONSE_LEN {
            return Err(DropReason::BufferTooSmall);
        }
        // The node sends one initiation to several candidate addresses;
        // copies of one already answered are dropped before any DH.
        let mac1: [u8; MAC_LEN] = take(msg, field::initiation::MAC1);
        if self.recent_initiations.contains(&Some(mac1)) {
            return Err(DropReason::StaleTimestamp);
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
        // The static key is only readable after the first DH; a revoked
        // key goes no further (no table entry, no response).
        if self.refusals.refuses(&read.static_key) {
            self.refusals.note(now, &read.static_key);
            return Err(DropReason::Revoked);
        }
        let id = match self.find_peer(&read.static_key) {
            Some(id) => id,
            None if self.accept_unknown => self.add_provisional(now, read.static_key)?,
            None => return Err(DropReason::UnknownPeer),
        };
        let idx = usize::from(id.0);
        let p = self.peer_slot_mut(idx).ok_or(DropReason::UnknownPeer)?;
        let ts = handshake::read_initiation_timestamp(&mut read, &p.static_static, msg)?;
        check_timestamp(p, now, &ts)?;
        let tag = msg.get(1).copied().unwrap_or(0);
        let sender = u32_at(msg, field::initiation::SENDER);
        let len = self.respond(now, idx, read, sender, tag, out)?;
        self.note_received(idx, now, msg.len());
        if let Some(r) = self
            .recent_initiations
            .get_mut(self.recent_next % RECENT_INITIATIONS)
        {
            *r = Some(mac1);
        }
        self.recent_next = self.recent_next.wrapping_add(1);
        Ok(Received::Reply {
            peer: Some(id),
            len,
        })
    }

    /// Adds an unknown initiator as a provisional peer, evicting a
    /// provisional one that has had REKEY_TIMEOUT to prove itself when the
    /// table is full. Without the PSK such a peer never leaves that state, so
    /// strangers cannot crowd out real peers.
    pub(super) fn add_provisional(
        &mut self,
        now: Instant,
        key: [u8; 32],
    ) -> Result<PeerId, DropReason> {
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
    pub(super) fn respond(
        &mut self,
        now: Instant,
        idx: usize,
        read: InitiationRead,
        remote_index: u32,
        psk_tag: u8,
        out: &mut [u8],
    ) -> Result<usize, DropReason> {
        let ephemeral = StaticSecret::from(self.rng.bytes::<32>());
        let msg = out
            .get_mut(..RESPONSE_LEN)
            .ok_or(DropReason::BufferTooSmall)?;
        let (psk, with_next) = self.psks.for_tag(psk_tag);
        let keys = handshake::write_response(read, &ephemeral, psk, msg, &mut self.dh_ops)?;
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
        p.answered_with_next = with_next;
        p.last_handshake = Some(now);
        p.timers.on_session_derived(now);
        p.timers.on_authenticated_sent(now);
        p.counters.tx_bytes += RESPONSE_LEN as u64;
        p.counters.tx_packets += 1;
        Ok(RESPONSE_LEN)
    }

    pub(super) fn handle_response<'a>(
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
        let (current, other) = self.psks.candidates();
        let (keys, used_next) = match p.slots.get(slot) {
            Some(Slot::Handshake {
                state,
                local_index: li,
            }) if *li == local_index => {
                // Current first; a peer that has not rotated yet (or has
                // and we have not) answers with the other secret.
                let psks = [Some((current, false)), other];
                handshake::read_response_any(state, &self.secret, &psks, msg, &mut self.dh_ops)?
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
        if used_next {
            self.adopt_next_psk(now);
        }
        let id = u16::try_from(idx).map_err(|_| DropReason::UnknownIndex)?;
        Ok(Received::Established { peer: PeerId(id) })
    }

    pub(super) fn handle_cookie_reply<'a>(
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

    pub(super) fn handle_transport<'a>(
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
        let mut adopt = false;
        if p.next == Some(slot) {
            p.confirm_next();
            adopt = core::mem::take(&mut p.answered_with_next);
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
        if adopt {
            self.adopt_next_psk(now);
        }
        let id = PeerId(u16::try_from(idx).map_err(|_| DropReason::UnknownIndex)?);
        let body: &'a [u8] = body;
        match body.get(..len) {
            Some(payload) if !payload.is_empty() => Ok(Received::Data { peer: id, payload }),
            _ => Ok(Received::Keepalive { peer: id }),
        }
    }

    pub(super) fn note_received(&mut self, idx: usize, now: Instant, wire_len: usize) {
        if let Some(p) = self.peer_slot_mut(idx) {
            p.last_received = Some(now);
            p.counters.rx_bytes += wire_len as u64;
            p.counters.rx_packets += 1;
            p.timers.on_authenticated_received(now);
        }
    }
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
