//! Keys this node refuses to link with: the revoked keys (config and the
//! operator's statement) and, under an allow-list, every key not on it.
//! A refused initiator is counted per key (the last MAX_TRIED keys), so
//! `ipop status` can name revoked peers that still try.

use crate::core::time::Instant;

/// Refused keys remembered with their counts; the oldest makes room.
pub const MAX_TRIED: usize = 16;

/// A refused key that tried to link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tried {
    pub key: [u8; 32],
    pub refusals: u64,
    pub last: Instant,
}

#[derive(Default)]
pub struct Refusals {
    revoked: Vec<[u8; 32]>,
    allowed: Option<Vec<[u8; 32]>>,
    tried: Vec<Tried>,
}

impl Refusals {
    /// Replaces the rules (allocates once per membership change, never on
    /// the packet path). Counts of keys still refused are kept.
    pub fn set(&mut self, revoked: Vec<[u8; 32]>, allowed: Option<Vec<[u8; 32]>>) {
        self.revoked = revoked;
        self.allowed = allowed;
        let mut tried = core::mem::take(&mut self.tried);
        tried.retain(|t| self.refuses(&t.key));
        self.tried = tried;
    }

    pub fn refuses(&self, key: &[u8; 32]) -> bool {
        self.revoked.contains(key) || self.allowed.as_ref().is_some_and(|a| !a.contains(key))
    }

    /// Counts one refusal of `key`.
    pub fn note(&mut self, now: Instant, key: &[u8; 32]) {
        if let Some(t) = self.tried.iter_mut().find(|t| t.key == *key) {
            t.refusals += 1;
            t.last = now;
            return;
        }
        let entry = Tried {
            key: *key,
            refusals: 1,
            last: now,
        };
        if self.tried.len() < MAX_TRIED {
            self.tried.push(entry);
        } else if let Some(oldest) = self.tried.iter_mut().min_by_key(|t| t.last) {
            *oldest = entry;
        }
    }

    pub fn tried(&self) -> &[Tried] {
        &self.tried
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn revoked_and_allow_list() {
        let mut r = Refusals::default();
        assert!(!r.refuses(&[1; 32]));
        r.set(vec![[1; 32]], None);
        assert!(r.refuses(&[1; 32]));
        assert!(!r.refuses(&[2; 32]));
        r.set(vec![], Some(vec![[2; 32]]));
        assert!(r.refuses(&[1; 32]));
        assert!(!r.refuses(&[2; 32]));
    }

    #[test]
    fn tries_are_counted_and_bounded() {
        let mut r = Refusals::default();
        r.set((0..40u8).map(|i| [i; 32]).collect(), None);
        let t = |s| Instant::ZERO + Duration::from_secs(s);
        r.note(t(1), &[0; 32]);
        r.note(t(2), &[0; 32]);
        assert_eq!(r.tried()[0].refusals, 2);
        for i in 1..40u8 {
            r.note(t(2 + u64::from(i)), &[i; 32]);
        }
        assert_eq!(r.tried().len(), MAX_TRIED);
        assert!(r.tried().iter().any(|x| x.key == [39; 32]));
        assert!(!r.tried().iter().any(|x| x.key == [0; 32]));
        // Un-revoking forgets the counts of that key.
        r.set(vec![[39; 32]], None);
        assert_eq!(r.tried().len(), 1);
    }
}
