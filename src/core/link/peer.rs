//! One peer's link state: its keys, the four index slots (a pending
//! initiation and the current, previous and next sessions), timers and
//! counters. Slots never move, so an index keeps naming the same slot for
//! its whole life; the roles (`current`, `previous`, `next`) point at slots.

use super::consts::{REJECT_AFTER_TIME, SLOTS_PER_PEER, STUN_MAGIC_COOKIE_BYTES, TIMESTAMP_LEN};
use super::cookie::CookieSender;
use super::handshake::InitiatorState;
use super::session::Session;
use super::timers::Timers;
use crate::core::rng::Rng;
use crate::core::time::Instant;

/// What an index slot holds. Sessions are stored inline (no Box): the
/// slot array is sized once per peer, so the size gap costs no allocation.
#[allow(clippy::large_enum_variant)]
pub enum Slot {
    Free,
    /// An initiation we sent and whose response we await.
    Handshake {
        state: InitiatorState,
        local_index: u32,
    },
    Session(Session),
}

impl Slot {
    pub fn local_index(&self) -> Option<u32> {
        match self {
            Slot::Free => None,
            Slot::Handshake { local_index, .. } => Some(*local_index),
            Slot::Session(s) => Some(s.local_index),
        }
    }
}

/// Traffic counters of one peer (wire bytes, including link headers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

pub struct Peer {
    pub public: [u8; 32],
    /// DH(our static, their static), computed once when the peer is added.
    pub static_static: [u8; 32],
    pub cookies: CookieSender,
    pub slots: [Slot; SLOTS_PER_PEER],
    pub current: Option<usize>,
    pub previous: Option<usize>,
    pub next: Option<usize>,
    pub pending: Option<usize>,
    /// When the current run of initiation attempts started (REKEY_ATTEMPT_TIME).
    pub first_attempt: Option<Instant>,
    pub last_initiation_sent: Option<Instant>,
    /// Greatest initiation timestamp accepted from this peer.
    pub last_timestamp: [u8; TIMESTAMP_LEN],
    pub last_handshake: Option<Instant>,
    pub last_received: Option<Instant>,
    pub timers: Timers,
    pub counters: Counters,
    /// Added automatically from an unknown initiator and not yet proven to
    /// hold the PSK (no transport message received on a session with it):
    /// may be evicted to make room.
    pub provisional: bool,
    /// Our `next` session was answered with the next group secret: its
    /// confirmation proves the peer uses that secret.
    pub answered_with_next: bool,
}

/// Index layout: bits 0..2 slot, 2..18 peer number, 18..32 random tag. The
/// tag makes stale or guessed indices miss; the rest makes lookup O(1).
pub fn make_index(rng: &mut Rng, peer: usize, slot: usize) -> u32 {
    let tag = rng.next_u32() & 0x3fff;
    let mut index = (tag << 18) | (((peer as u32) & 0xffff) << 2) | (slot as u32 & 3);
    if index == u32::from_le_bytes(STUN_MAGIC_COOKIE_BYTES) {
        // Keep bytes 4..8 of every link message free of the STUN cookie.
        index ^= 1 << 18;
    }
    index
}

/// (peer number, slot) of an index.
pub fn split_index(index: u32) -> (usize, usize) {
    (((index >> 2) & 0xffff) as usize, (index & 3) as usize)
}

impl Peer {
    pub fn new(public: [u8; 32], static_static: [u8; 32], timers: Timers) -> Peer {
        Peer {
            public,
            static_static,
            cookies: CookieSender::new(&public),
            slots: [Slot::Free, Slot::Free, Slot::Free, Slot::Free],
            current: None,
            previous: None,
            next: None,
            pending: None,
            first_attempt: None,
            last_initiation_sent: None,
            last_timestamp: [0; TIMESTAMP_LEN],
            last_handshake: None,
            last_received: None,
            timers,
            counters: Counters::default(),
            provisional: false,
            answered_with_next: false,
        }
    }

    pub fn session(&self, slot: Option<usize>) -> Option<&Session> {
        match self.slots.get(slot?)? {
            Slot::Session(s) => Some(s),
            _ => None,
        }
    }

    pub fn session_mut(&mut self, slot: Option<usize>) -> Option<&mut Session> {
        match self.slots.get_mut(slot?)? {
            Slot::Session(s) => Some(s),
            _ => None,
        }
    }

    pub fn free(&mut self, slot: Option<usize>) {
        if let Some(s) = slot.and_then(|i| self.slots.get_mut(i)) {
            *s = Slot::Free;
        }
    }

    /// A slot for a new handshake or session: a free one, else the one
    /// `reuse` names (its occupant is being replaced), else `previous`.
    pub fn pick_slot(&mut self, reuse: Option<usize>) -> usize {
        let busy = [self.current, self.previous, self.next, self.pending];
        if let Some(free) = (0..SLOTS_PER_PEER).find(|i| !busy.contains(&Some(*i))) {
            return free;
        }
        let slot = reuse.or(self.previous).unwrap_or(0);
        self.release(slot);
        slot
    }

    /// Frees `slot` and forgets every role that pointed at it.
    pub fn release(&mut self, slot: usize) {
        for role in [
            &mut self.current,
            &mut self.previous,
            &mut self.next,
            &mut self.pending,
        ] {
            if *role == Some(slot) {
                *role = None;
            }
        }
        self.free(Some(slot));
    }

    /// Erases every key (ZERO_KEYS_AFTER, or removal).
    pub fn clear_keys(&mut self) {
        for i in 0..SLOTS_PER_PEER {
            self.release(i);
        }
        self.first_attempt = None;
    }

    /// A response completed our handshake in `slot`: it becomes current.
    /// A `next` session (the peer's simultaneous handshake) is kept as
    /// `previous`, since the peer may already send on it; the old current
    /// then goes (WireGuard's rule for crossing handshakes).
    pub fn promote_initiated(&mut self, slot: usize) {
        self.pending = None;
        let old_previous = self.previous.take();
        self.free(old_previous);
        if let Some(n) = self.next.take() {
            let old_current = self.current.take();
            self.free(old_current);
            self.previous = Some(n);
        } else {
            self.previous = self.current.take();
        }
        self.current = Some(slot);
    }

    /// The first transport message arrived on `next`: it becomes current.
    pub fn confirm_next(&mut self) {
        if let Some(n) = self.next.take() {
            if let Some(p) = self.previous.take() {
                self.free(Some(p));
            }
            self.previous = self.current.replace(n);
        }
    }

    /// Forgets sessions older than REJECT_AFTER_TIME; returns when the
    /// oldest remaining one will be.
    pub fn expire_sessions(&mut self, now: Instant) -> Option<Instant> {
        let mut next = None;
        for i in 0..SLOTS_PER_PEER {
            let Some(Slot::Session(s)) = self.slots.get(i) else {
                continue;
            };
            if s.can_receive(now) {
                let at = s.created + REJECT_AFTER_TIME;
                next = Some(next.map_or(at, |n: Instant| n.min(at)));
            } else {
                self.release(i);
            }
        }
        next
    }

    /// The current session can send now.
    pub fn can_send(&self, now: Instant) -> bool {
        self.session(self.current).is_some_and(|s| s.can_send(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_layout_round_trips_and_avoids_stun() {
        let mut rng = Rng::from_seed([1; 32]);
        for peer in [0usize, 1, 300, 65535] {
            for slot in 0..4 {
                let i = make_index(&mut rng, peer, slot);
                assert_eq!(split_index(i), (peer, slot));
                assert_ne!(i.to_le_bytes(), STUN_MAGIC_COOKIE_BYTES);
            }
        }
        // The one index whose bytes equal the STUN cookie maps to peer 0x0488, slot 1.
        let stun = u32::from_le_bytes(STUN_MAGIC_COOKIE_BYTES);
        assert_eq!(split_index(stun), (0x0488, 1));
    }

    #[test]
    fn slot_roles() {
        let mut p = Peer::new([1; 32], [2; 32], Timers::default());
        let s0 = p.pick_slot(None);
        assert_eq!(s0, 0);
        p.pending = Some(s0);
        p.promote_initiated(s0);
        assert_eq!((p.current, p.pending), (Some(0), None));
        let s1 = p.pick_slot(None);
        assert_eq!(s1, 1);
        p.next = Some(s1);
        p.confirm_next();
        assert_eq!((p.current, p.previous, p.next), (Some(1), Some(0), None));
        p.pending = Some(p.pick_slot(None));
        p.next = Some(p.pick_slot(None));
        assert_eq!((p.pending, p.next), (Some(2), Some(3)));
        // All four busy: a new next reuses the old next's slot.
        let again = p.pick_slot(p.next);
        assert_eq!(again, 3);
        assert_eq!(p.next, None);
        p.clear_keys();
        assert_eq!(
            (p.current, p.previous, p.next, p.pending),
            (None, None, None, None)
        );
    }
}
