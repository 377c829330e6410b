//! Reconnect delays: exponential from about 1 s up to 60 s, with jitter so a
//! group of nodes that lost the same server do not return in lock-step.
//! (IPOP 16.01 retried every 15-30 s with no back-off.)

use core::time::Duration;

use crate::core::rng::Rng;

/// Cap of the un-jittered delay.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Un-jittered delay of the first retry.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt: `base = min(1 s * 2^failures, 60 s)`,
    /// drawn uniformly from `[base/2, base]`.
    pub fn next_delay(&mut self, rng: &mut Rng) -> Duration {
        let base_ms = (FIRST_DELAY.as_millis() as u64)
            .saturating_mul(1u64 << self.failures.min(16))
            .min(MAX_DELAY.as_millis() as u64);
        self.failures = self.failures.saturating_add(1);
        let half = base_ms / 2;
        Duration::from_millis(half + rng.below(base_ms - half + 1))
    }

    /// After a session that came fully online.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_cap_with_jitter_and_resets() {
        let mut rng = Rng::from_seed([3; 32]);
        let mut b = Backoff::default();
        let bases = [1000u64, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000];
        let mut delays = Vec::new();
        for base in bases {
            let d = b.next_delay(&mut rng).as_millis() as u64;
            assert!(d >= base / 2 && d <= base, "{d} vs {base}");
            delays.push(d);
        }
        // Jitter: not every delay sits on its base.
        assert!(delays.iter().zip(bases).any(|(&d, b)| d != b));
        assert_eq!(b.failures(), 9);
        b.reset();
        let d = b.next_delay(&mut rng).as_millis();
        assert!((500..=1000).contains(&d));
    }

    #[test]
    fn same_seed_same_schedule() {
        let run = || {
            let mut rng = Rng::from_seed([9; 32]);
            let mut b = Backoff::default();
            (0..5).map(|_| b.next_delay(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
