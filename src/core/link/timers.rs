//! Per-peer timers (WireGuard paper §6), as one table of deadlines.
//!
//! Rules, one line each:
//! * RetransmitHandshake: an initiation got no response within REKEY_TIMEOUT
//!   (+ up to 333 ms jitter): send a fresh one, until REKEY_ATTEMPT_TIME has
//!   passed since the first attempt, then give up.
//! * SendKeepalive: we received data and sent nothing for KEEPALIVE_TIMEOUT:
//!   send an empty transport message so the peer knows we are alive.
//! * NewHandshake: we sent data and heard nothing for KEEPALIVE_TIMEOUT +
//!   REKEY_TIMEOUT: the session may be dead on the other side; start a handshake.
//! * ExpireSessions: a session reached REJECT_AFTER_TIME: forget it, so
//!   `is_established` turns false without waiting for ZeroKeys.
//! * ZeroKeys: no new session for ZERO_KEYS_AFTER: erase every key.
//! * PersistentKeepalive: nothing sent for the configured interval (e.g. 25 s):
//!   send a keepalive to hold NAT mappings open.
//! * SendInitiation: a handshake is wanted now (rekey on time or count, or
//!   NewHandshake fired); `poll_transmit` sends it.
//! * ConfirmSession: we completed a handshake as initiator; if no data went
//!   out first, a keepalive confirms the session to the responder.
//!
//! Hooks below are named after what happened; each says when to call it.

use core::time::Duration;

use super::consts::{
    KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX, ZERO_KEYS_AFTER,
};
use crate::core::rng::Rng;
use crate::core::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    SendInitiation = 0,
    ConfirmSession = 1,
    RetransmitHandshake = 2,
    SendKeepalive = 3,
    NewHandshake = 4,
    PersistentKeepalive = 5,
    ExpireSessions = 6,
    ZeroKeys = 7,
}

impl TimerKind {
    pub const COUNT: usize = 8;
    /// In the order `poll_transmit` serves them when several are due.
    pub const ALL: [TimerKind; TimerKind::COUNT] = [
        TimerKind::SendInitiation,
        TimerKind::ConfirmSession,
        TimerKind::RetransmitHandshake,
        TimerKind::SendKeepalive,
        TimerKind::NewHandshake,
        TimerKind::PersistentKeepalive,
        TimerKind::ExpireSessions,
        TimerKind::ZeroKeys,
    ];
}

#[derive(Clone, Default)]
pub struct Timers {
    deadlines: [Option<Instant>; TimerKind::COUNT],
    /// Persistent keepalive interval (None: off).
    pub persistent: Option<Duration>,
}

/// Random jitter in [0, REKEY_TIMEOUT_JITTER_MAX].
pub fn jitter(rng: &mut Rng) -> Duration {
    let max = REKEY_TIMEOUT_JITTER_MAX.as_millis() as u64;
    Duration::from_millis(rng.below(max + 1))
}

impl Timers {
    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        if let Some(d) = self.deadlines.get_mut(kind as usize) {
            *d = Some(at);
        }
    }

    pub fn stop(&mut self, kind: TimerKind) {
        if let Some(d) = self.deadlines.get_mut(kind as usize) {
            *d = None;
        }
    }

    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.deadlines.get(kind as usize).copied().flatten()
    }

    pub fn is_set(&self, kind: TimerKind) -> bool {
        self.get(kind).is_some()
    }

    pub fn is_due(&self, kind: TimerKind, now: Instant) -> bool {
        self.get(kind).is_some_and(|t| t <= now)
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    pub fn clear(&mut self) {
        self.deadlines = [None; TimerKind::COUNT];
    }

    /// Call after sending an initiation.
    pub fn on_handshake_initiated(&mut self, now: Instant, rng: &mut Rng) {
        self.stop(TimerKind::SendInitiation);
        self.set(
            TimerKind::RetransmitHandshake,
            now + REKEY_TIMEOUT + jitter(rng),
        );
    }

    /// Call after a response completed our handshake.
    pub fn on_handshake_complete(&mut self) {
        self.stop(TimerKind::RetransmitHandshake);
    }

    /// Call after any new session was derived (either role).
    pub fn on_session_derived(&mut self, now: Instant) {
        self.set(TimerKind::ZeroKeys, now + ZERO_KEYS_AFTER);
        // Older sessions expire first; their deadline, if set, comes sooner.
        if !self.is_set(TimerKind::ExpireSessions) {
            self.set(TimerKind::ExpireSessions, now + REJECT_AFTER_TIME);
        }
    }

    /// Call after sending a transport message that carries data.
    pub fn on_data_sent(&mut self, now: Instant, rng: &mut Rng) {
        if !self.is_set(TimerKind::NewHandshake) {
            self.set(
                TimerKind::NewHandshake,
                now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter(rng),
            );
        }
    }

    /// Call after receiving a transport message that carries data.
    pub fn on_data_received(&mut self, now: Instant) {
        if !self.is_set(TimerKind::SendKeepalive) {
            self.set(TimerKind::SendKeepalive, now + KEEPALIVE_TIMEOUT);
        }
    }

    /// Call after sending any authenticated message (data, keepalive, handshake).
    pub fn on_authenticated_sent(&mut self, now: Instant) {
        self.stop(TimerKind::SendKeepalive);
        self.stop(TimerKind::ConfirmSession);
        self.rearm_persistent(now);
    }

    /// Call after receiving any authenticated message (data, keepalive, handshake).
    pub fn on_authenticated_received(&mut self, now: Instant) {
        self.stop(TimerKind::NewHandshake);
        self.rearm_persistent(now);
    }

    fn rearm_persistent(&mut self, now: Instant) {
        match self.persistent {
            Some(every) => self.set(TimerKind::PersistentKeepalive, now + every),
            None => self.stop(TimerKind::PersistentKeepalive),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_hooks() {
        let mut rng = Rng::from_seed([3; 32]);
        let mut t = Timers::default();
        let now = Instant::from_secs(100);
        assert_eq!(t.next(), None);
        t.on_handshake_initiated(now, &mut rng);
        let r = t.get(TimerKind::RetransmitHandshake).unwrap();
        assert!(r >= now + REKEY_TIMEOUT && r <= now + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
        t.on_data_received(now);
        assert_eq!(t.next(), Some(now + KEEPALIVE_TIMEOUT).min(Some(r)));
        t.on_data_received(now + Duration::from_secs(3));
        assert_eq!(
            t.get(TimerKind::SendKeepalive),
            Some(now + KEEPALIVE_TIMEOUT),
            "not pushed back"
        );
        t.on_authenticated_sent(now);
        assert!(!t.is_set(TimerKind::SendKeepalive));
        assert!(!t.is_set(TimerKind::PersistentKeepalive));
        t.persistent = Some(Duration::from_secs(25));
        t.on_authenticated_received(now);
        assert_eq!(
            t.get(TimerKind::PersistentKeepalive),
            Some(now + Duration::from_secs(25))
        );
        t.on_handshake_complete();
        assert!(!t.is_set(TimerKind::RetransmitHandshake));
        assert!(t.is_due(
            TimerKind::PersistentKeepalive,
            now + Duration::from_secs(25)
        ));
        assert!(!t.is_due(
            TimerKind::PersistentKeepalive,
            now + Duration::from_secs(24)
        ));
        t.clear();
        assert_eq!(t.next(), None);
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let mut rng = Rng::from_seed([4; 32]);
        let js: Vec<_> = (0..200).map(|_| jitter(&mut rng)).collect();
        assert!(js.iter().all(|j| *j <= REKEY_TIMEOUT_JITTER_MAX));
        assert!(js.iter().any(|j| *j != js[0]));
    }
}
