//! Per-destination byte counters for on-demand links: a small fixed table,
//! so counting a frame in the datapath never allocates. Counters are read
//! and cleared once per management cycle, giving a rate in bytes/s over the
//! cycle (16.01 used the link's average over its ~15 s polling gap).

use crate::core::identity::Uid;

/// Destinations tracked at once; the quietest is evicted when full.
pub const TRAFFIC_SLOTS: usize = 32;
/// Slots probed per lookup (UIDs are SHA-1 output, so the low byte spreads well).
const PROBE: usize = 4;

#[derive(Clone, Copy, Default)]
struct Slot {
    uid: Uid,
    bytes: u64,
}

#[derive(Default)]
pub struct TrafficTable {
    // Empty until the first frame is counted, so idle nodes (and simulated
    // ones) pay nothing for it.
    slots: Vec<Slot>,
}

impl TrafficTable {
    /// Counts `bytes` sent toward `uid`. Allocates once, on first use.
    pub fn add(&mut self, uid: Uid, bytes: u64) {
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); TRAFFIC_SLOTS];
        }
        let base = usize::from(uid.0[19]) % TRAFFIC_SLOTS;
        let mut victim = base;
        let mut victim_bytes = u64::MAX;
        for k in 0..PROBE {
            let i = (base + k) % TRAFFIC_SLOTS;
            let Some(s) = self.slots.get_mut(i) else {
                return;
            };
            if s.bytes > 0 && s.uid == uid {
                s.bytes = s.bytes.saturating_add(bytes);
                return;
            }
            if s.bytes < victim_bytes {
                victim = i;
                victim_bytes = s.bytes;
            }
        }
        if let Some(s) = self.slots.get_mut(victim) {
            *s = Slot { uid, bytes };
        }
    }

    /// Bytes counted for `uid` since the last [`clear`](Self::clear).
    pub fn bytes(&self, uid: &Uid) -> u64 {
        self.slots
            .iter()
            .find(|s| s.bytes > 0 && &s.uid == uid)
            .map_or(0, |s| s.bytes)
    }

    /// Every destination with traffic this cycle.
    pub fn iter(&self) -> impl Iterator<Item = (Uid, u64)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.bytes > 0)
            .map(|s| (s.uid, s.bytes))
    }

    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| s.bytes = 0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_evicts_the_quietest() {
        let mut t = TrafficTable::default();
        let mk = |b: u8, low: u8| {
            let mut x = [b; 20];
            x[19] = low;
            Uid(x)
        };
        t.add(mk(1, 5), 100);
        t.add(mk(1, 5), 50);
        assert_eq!(t.bytes(&mk(1, 5)), 150);
        // Four more UIDs hashing to the same slot: the quietest goes.
        for (i, b) in [(2u8, 10u64), (3, 20), (4, 30)] {
            t.add(mk(i, 5), b);
        }
        t.add(mk(9, 5), 1);
        assert_eq!(t.bytes(&mk(2, 5)), 0);
        assert_eq!(t.bytes(&mk(9, 5)), 1);
        assert_eq!(t.iter().count(), 4);
        t.clear();
        assert_eq!(t.iter().count(), 0);
    }
}
