//! The send half of `Links`: initiations, timer-driven transmissions and
//! sealing on the current session.

use x25519_dalek::StaticSecret;

use super::consts::*;
use super::error::LinkError;
use super::handshake::{self, InitiationInputs};
use super::peer::{make_index, Peer, Slot};
use super::timers::TimerKind;
use super::wire::{field, put, put_header};
use super::Links;
use crate::core::rng::Rng;
use crate::core::time::Instant;

impl Links {
    /// Builds a fresh initiation for peer `idx` into `out` (new ephemeral,
    /// new index) and arms the retransmit timer.
    pub(super) fn start_handshake(
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
        let psk_tag = super::psk::tag(self.psks.current());
        let (initial, public, rng) = (&self.initial, &self.public, &mut self.rng);
        let p = self
            .peers
            .get_mut(idx)
            .and_then(Option::as_mut)
            .ok_or(LinkError::UnknownPeer)?;
        // A retransmit replaces the pending attempt in place: only the
        // latest initiation's response may complete the handshake.
        let slot = match p.pending {
            Some(s) => s,
            None => p.pick_slot(None),
        };
        let local_index = make_index(rng, idx, slot);
        put_header(msg, TYPE_INITIATION);
        put(msg, 1..2, &[psk_tag]);
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
    pub(super) fn poll_peer(&mut self, now: Instant, idx: usize, out: &mut [u8]) -> Option<usize> {
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
pub(super) fn send_on_current(
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
