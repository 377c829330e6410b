//! Anti-replay window for transport counters (RFC 6479): a ring of
//! `REPLAY_WORDS` 64-bit words. Sliding forward clears whole words instead of
//! shifting bits, so a far jump costs at most one pass over the ring.
//!
//! The window is checked twice per packet: `check` before decryption (cheap
//! rejection of obvious replays without spending AEAD work), `accept` after
//! the tag verified (only authentic packets may move the window).

use super::consts::{REJECT_AFTER_MESSAGES, REPLAY_WINDOW, REPLAY_WORDS};

#[derive(Clone)]
pub struct ReplayWindow {
    /// One more than the highest counter accepted (0: nothing yet).
    next: u64,
    bits: [u64; REPLAY_WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            next: 0,
            bits: [0; REPLAY_WORDS],
        }
    }
}

fn word_of(n: u64) -> usize {
    ((n / 64) % REPLAY_WORDS as u64) as usize
}

impl ReplayWindow {
    /// True when `counter` could still be accepted (not too old, not seen,
    /// not past the reject limit). Does not change the window.
    pub fn check(&self, counter: u64) -> bool {
        if counter >= REJECT_AFTER_MESSAGES {
            return false;
        }
        // Shift by one so counter 0 is representable with `next == 0` meaning "empty".
        let n = counter + 1;
        if n + REPLAY_WINDOW <= self.next {
            return false;
        }
        if n > self.next {
            return true;
        }
        let bit = 1u64 << (n % 64);
        self.bits.get(word_of(n)).is_some_and(|w| w & bit == 0)
    }

    /// Records `counter` as received; false if it is a replay or too old.
    pub fn accept(&mut self, counter: u64) -> bool {
        if !self.check(counter) {
            return false;
        }
        let n = counter + 1;
        if n > self.next {
            let cur = self.next / 64;
            let target = n / 64;
            // Clear the words the window slides over (at most the whole ring).
            let steps = (target - cur).min(REPLAY_WORDS as u64);
            for i in 1..=steps {
                if let Some(w) = self.bits.get_mut(word_of((cur + i) * 64)) {
                    *w = 0;
                }
            }
            self.next = n;
        }
        match self.bits.get_mut(word_of(n)) {
            Some(w) => {
                *w |= 1u64 << (n % 64);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_and_duplicates() {
        let mut w = ReplayWindow::default();
        for c in 0..5000 {
            assert!(w.accept(c), "fresh {c}");
            assert!(!w.accept(c), "duplicate {c}");
        }
    }

    #[test]
    fn reordered_within_window_accepted_once() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(3000));
        // Every counter in the window below the top arrives late, in reverse.
        for c in (3000 - REPLAY_WINDOW + 1..3000).rev() {
            assert!(w.check(c));
            assert!(w.accept(c), "late {c}");
        }
        for c in 3000 - REPLAY_WINDOW + 1..=3000 {
            assert!(!w.accept(c), "replayed {c}");
        }
    }

    #[test]
    fn too_old_rejected() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(10_000));
        // The oldest counter still in the window, and the first one out of it.
        assert!(w.check(10_000 - REPLAY_WINDOW + 1));
        assert!(!w.check(10_000 - REPLAY_WINDOW));
        assert!(!w.accept(10_000 - REPLAY_WINDOW));
        assert!(!w.accept(0));
        assert!(w.accept(10_000 - REPLAY_WINDOW + 1));
    }

    #[test]
    fn far_future_jump_clears_old_bits() {
        let mut w = ReplayWindow::default();
        for c in 0..100 {
            assert!(w.accept(c));
        }
        let far = 1u64 << 40;
        assert!(w.accept(far));
        assert!(!w.accept(far));
        assert!(!w.accept(50));
        // Bits left over from the old position must not mark new counters as seen.
        for c in far - 100..far {
            assert!(w.accept(c), "after jump {c}");
        }
        // A jump of exactly one ring length reuses the same words.
        let ring = (REPLAY_WORDS as u64) * 64;
        assert!(w.accept(far + ring));
        assert!(w.accept(far + ring - 1));
        assert!(w.accept(far + ring - 64));
    }

    #[test]
    fn reject_limit() {
        let mut w = ReplayWindow::default();
        assert!(!w.accept(REJECT_AFTER_MESSAGES));
        assert!(!w.accept(u64::MAX));
        assert!(w.accept(REJECT_AFTER_MESSAGES - 1));
    }

    #[test]
    fn matches_a_naive_model_on_random_input() {
        // A set-based model of "accept if not seen and within the window".
        let mut rng = crate::core::rng::Rng::from_seed([5; 32]);
        let mut w = ReplayWindow::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut top: Option<u64> = None;
        let mut base = 0u64;
        for _ in 0..20_000 {
            base += rng.below(40);
            let c = (base + rng.below(2 * REPLAY_WINDOW)).saturating_sub(REPLAY_WINDOW);
            let fresh = !seen.contains(&c) && top.is_none_or(|t| c + REPLAY_WINDOW > t);
            assert_eq!(w.accept(c), fresh, "counter {c} top {top:?}");
            if fresh {
                seen.insert(c);
                top = Some(top.map_or(c, |t| t.max(c)));
            }
        }
    }
}
