//! The core's only source of randomness: a ChaCha20 keystream seeded by the
//! shell (from the OS) or by the simulator (from a test seed), so a failing
//! simulation replays exactly while real nodes get cryptographic randomness.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;

pub struct Rng {
    stream: ChaCha20,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Rng {
            stream: ChaCha20::new(&seed.into(), &[0u8; 12].into()),
        }
    }

    /// Fills `buf` with the next bytes of the keystream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(0);
        self.stream.apply_keystream(buf);
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.fill(&mut b);
        b
    }

    pub fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }

    pub fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }

    /// A uniform value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Rejection sampling keeps the result unbiased.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// A generator for a sub-component, independent of this one's later output.
    pub fn fork(&mut self) -> Rng {
        Rng::from_seed(self.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::from_seed([7; 32]);
        let mut b = Rng::from_seed([7; 32]);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(a.next_u64(), Rng::from_seed([8; 32]).next_u64());
        for _ in 0..1000 {
            assert!(a.below(10) < 10);
        }
        assert_eq!(a.below(0), 0);
    }
}
