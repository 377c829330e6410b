//! The group's pre-shared keys during a secret rotation.
//!
//! Noise IKpsk2 mixes the PSK in only at the response, so a responder
//! holding two secrets cannot find out which one the initiator used by
//! trying both. The initiator therefore names its PSK in byte 1 of the
//! initiation header (`tag`, docs/PROTOCOL.md "Secret rotation"); mac1
//! covers that byte, and a wrong tag only makes the handshake fail.
//!
//! Rules, one line each:
//! * An initiator always uses `current` (and tags it).
//! * A responder answers with the PSK whose tag the initiation carries
//!   (`current` when neither matches: the initiator may still hold it).
//! * An initiator reads a response under `current`, then under the other
//!   secret (a peer that has not rotated yet answers with the old one).
//! * A node holding a next secret adopts it as soon as a peer proves it
//!   uses it (a response under it, or a session answered with it and
//!   confirmed), or when the operator rotates: next becomes current, and
//!   the old current stays acceptable for `grace`, then is erased.

use core::time::Duration;

use blake2::{Blake2s256, Digest};

use crate::core::time::Instant;

/// Label of the PSK tag: tag = BLAKE2s-256(TAG_LABEL || psk)[0].
pub const TAG_LABEL: &[u8] = b"ipop psk tag v1";
/// How long an old secret stays acceptable after a rotation, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// The one-byte name of a PSK in the initiation header: 0 for the all-zero
/// PSK (no `group_secret`: the header stays `01 00 00 00`), otherwise the
/// first byte of BLAKE2s-256(TAG_LABEL || psk), with 0 written as 1.
pub fn tag(psk: &[u8; 32]) -> u8 {
    if *psk == [0; 32] {
        return 0;
    }
    let h = Blake2s256::new()
        .chain_update(TAG_LABEL)
        .chain_update(psk)
        .finalize();
    h.first().copied().unwrap_or(1).max(1)
}

/// What the second secret is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherRole {
    /// Not used to initiate yet; adopted when a peer uses it.
    Next,
    /// The secret before the last rotation, accepted until `until`.
    Previous { until: Instant },
}

/// The PSKs a node holds.
pub struct Psks {
    current: [u8; 32],
    other: Option<([u8; 32], OtherRole)>,
    grace: Duration,
    rotations: u64,
}

/// What `ipop status` shows about the secrets (never the secrets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PskStatus {
    pub current_tag: u8,
    pub other: Option<(u8, OtherRole)>,
    pub rotations: u64,
}

impl Psks {
    pub fn new(current: [u8; 32]) -> Psks {
        Psks {
            current,
            other: None,
            grace: DEFAULT_GRACE,
            rotations: 0,
        }
    }

    pub fn current(&self) -> &[u8; 32] {
        &self.current
    }

    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// Holds `next` for adoption (replacing an older next or previous).
    /// The same secret as `current` is ignored.
    pub fn set_next(&mut self, next: [u8; 32]) {
        if next != self.current {
            self.other = Some((next, OtherRole::Next));
        }
    }

    /// Next becomes current; the old current stays acceptable until
    /// now + grace. Returns false (nothing changes) without a next secret.
    pub fn rotate(&mut self, now: Instant) -> bool {
        let Some((next, OtherRole::Next)) = self.other else {
            return false;
        };
        let old = core::mem::replace(&mut self.current, next);
        self.other = Some((
            old,
            OtherRole::Previous {
                until: now + self.grace,
            },
        ));
        self.rotations += 1;
        true
    }

    /// Erases a previous secret whose grace ran out; true when it did.
    pub fn expire(&mut self, now: Instant) -> bool {
        match self.other {
            Some((_, OtherRole::Previous { until })) if now >= until => {
                self.other = None;
                true
            }
            _ => false,
        }
    }

    /// When `expire` has work.
    pub fn deadline(&self) -> Option<Instant> {
        match self.other {
            Some((_, OtherRole::Previous { until })) => Some(until),
            _ => None,
        }
    }

    /// The PSK a responder answers an initiation tagged `t` with, and
    /// whether it is the next secret.
    pub fn for_tag(&self, t: u8) -> (&[u8; 32], bool) {
        match &self.other {
            Some((psk, role)) if tag(&self.current) != t && tag(psk) == t => {
                (psk, *role == OtherRole::Next)
            }
            _ => (&self.current, false),
        }
    }

    /// The PSKs to try on a response, current first; the flag marks the
    /// next secret.
    pub fn candidates(&self) -> ([u8; 32], Option<([u8; 32], bool)>) {
        (
            self.current,
            self.other.map(|(p, r)| (p, r == OtherRole::Next)),
        )
    }

    pub fn status(&self) -> PskStatus {
        PskStatus {
            current_tag: tag(&self.current),
            other: self.other.map(|(p, r)| (tag(&p), r)),
            rotations: self.rotations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(tag(&[0; 32]), 0);
        for i in 1..=255u8 {
            assert_ne!(tag(&[i; 32]), 0);
        }
        // BLAKE2s-256(b"ipop psk tag v1" + bytes([1]*32))[0], from Python's hashlib.
        assert_eq!(tag(&[1; 32]), 149);
    }

    #[test]
    fn rotation_rules() {
        let t0 = Instant::ZERO;
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let mut p = Psks::new(a);
        p.set_grace(Duration::from_secs(10));
        assert!(!p.rotate(t0));
        assert_eq!(p.for_tag(tag(&b)), (&a, false));
        p.set_next(b);
        assert_eq!(p.for_tag(tag(&b)), (&b, true));
        assert_eq!(p.for_tag(tag(&a)), (&a, false));
        assert_eq!(p.for_tag(77), (&a, false));
        assert_eq!(p.candidates(), (a, Some((b, true))));
        assert!(p.rotate(t0));
        assert_eq!(p.current(), &b);
        assert_eq!(p.for_tag(tag(&a)), (&a, false));
        assert_eq!(p.candidates(), (b, Some((a, false))));
        assert_eq!(p.deadline(), Some(t0 + Duration::from_secs(10)));
        assert!(!p.expire(t0 + Duration::from_secs(9)));
        assert!(p.expire(t0 + Duration::from_secs(10)));
        assert_eq!(p.candidates(), (b, None));
        assert_eq!(p.status().rotations, 1);
        p.set_next(b);
        assert_eq!(p.status().other, None);
    }
}
