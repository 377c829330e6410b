//! What both simulators share: the event queue, ordered by virtual time
//! with ties broken by insertion order so a seed replays exactly, and the
//! fixed per-pair latency of the virtual network.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

use crate::core::time::Instant;

pub(crate) struct Scheduled<E> {
    pub at: Instant,
    seq: u64,
    pub ev: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Scheduled<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

pub(crate) struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    seq: u64,
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub fn push(&mut self, at: Instant, ev: E) {
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// The earliest event due at or before `until`.
    pub fn pop_due(&mut self, until: Instant) -> Option<Scheduled<E>> {
        if self.heap.peek()?.at <= until {
            self.heap.pop()
        } else {
            None
        }
    }
}

/// The one-way latency of the pair `a`, `b` (either order): fixed per pair,
/// spread over `[min, max]` by a hash of both ids.
pub(crate) fn pair_latency(a: u32, b: u32, min: Duration, max: Duration) -> Duration {
    let (lo, hi) = (a.min(b), a.max(b));
    let h = u64::from(lo).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(hi).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    let span = max.saturating_sub(min).as_micros() as u64 + 1;
    min + Duration::from_micros(h.rotate_left(17) % span)
}
