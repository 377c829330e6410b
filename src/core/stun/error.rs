//! Errors of the STUN codec and the drop reasons the clients count.

use core::fmt;

/// Why a STUN message could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StunError {
    /// Shorter than the header or than the length field says.
    Truncated,
    /// Top two bits not zero or wrong magic cookie: not a STUN message.
    NotStun,
    /// Length field not a multiple of 4, or bytes after the message.
    BadLength,
    /// An attribute runs past the end or has a value of the wrong size.
    BadAttribute,
    /// An address attribute with an unknown family.
    BadFamily,
    /// A required attribute is missing.
    MissingAttribute,
    /// FINGERPRINT present but wrong, or not the last attribute.
    BadFingerprint,
    /// MESSAGE-INTEGRITY absent where required.
    MissingIntegrity,
    /// MESSAGE-INTEGRITY does not match the key.
    BadIntegrity,
    /// The caller's buffer is too small for the message being written.
    BufferTooSmall,
    /// A value longer than an attribute can hold (65535 bytes).
    ValueTooLong,
}

impl fmt::Display for StunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StunError::Truncated => "STUN message truncated",
            StunError::NotStun => "not a STUN message (top bits or magic cookie)",
            StunError::BadLength => "STUN length not a multiple of 4 or not the datagram size",
            StunError::BadAttribute => "malformed STUN attribute",
            StunError::BadFamily => "unknown address family in STUN attribute",
            StunError::MissingAttribute => "required STUN attribute missing",
            StunError::BadFingerprint => "STUN FINGERPRINT mismatch",
            StunError::MissingIntegrity => "STUN MESSAGE-INTEGRITY missing",
            StunError::BadIntegrity => "STUN MESSAGE-INTEGRITY mismatch",
            StunError::BufferTooSmall => "buffer too small for STUN message",
            StunError::ValueTooLong => "STUN attribute value too long",
        })
    }
}

/// Why a STUN/TURN client dropped a datagram. Indexes [`StunStats::drops`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StunDrop {
    /// Shorter than its header or length field.
    Truncated,
    /// Bad header, bad length or a malformed attribute.
    Malformed,
    /// FINGERPRINT present and wrong.
    BadFingerprint,
    /// MESSAGE-INTEGRITY missing or wrong where the client needs it.
    Unauthenticated,
    /// No outstanding transaction has this ID (late duplicate or forged).
    UnexpectedTransaction,
    /// Valid STUN, but not a message this client handles here.
    UnexpectedMessage,
    /// ChannelData for a channel that is not bound, or bad length.
    BadChannelData,
}

impl StunDrop {
    pub const ALL: [StunDrop; 7] = [
        StunDrop::Truncated,
        StunDrop::Malformed,
        StunDrop::BadFingerprint,
        StunDrop::Unauthenticated,
        StunDrop::UnexpectedTransaction,
        StunDrop::UnexpectedMessage,
        StunDrop::BadChannelData,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub const fn as_str(self) -> &'static str {
        match self {
            StunDrop::Truncated => "truncated",
            StunDrop::Malformed => "malformed",
            StunDrop::BadFingerprint => "bad_fingerprint",
            StunDrop::Unauthenticated => "unauthenticated",
            StunDrop::UnexpectedTransaction => "unexpected_transaction",
            StunDrop::UnexpectedMessage => "unexpected_message",
            StunDrop::BadChannelData => "bad_channel_data",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for StunDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<StunError> for StunDrop {
    fn from(e: StunError) -> Self {
        match e {
            StunError::Truncated => StunDrop::Truncated,
            StunError::BadFingerprint => StunDrop::BadFingerprint,
            StunError::MissingIntegrity | StunError::BadIntegrity => StunDrop::Unauthenticated,
            _ => StunDrop::Malformed,
        }
    }
}

/// Counters of a STUN/TURN client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StunStats {
    pub drops: [u64; StunDrop::COUNT],
    pub requests_sent: u64,
    pub responses_accepted: u64,
}

impl StunStats {
    pub fn drop(&mut self, reason: StunDrop) {
        if let Some(c) = self.drops.get_mut(reason.index()) {
            *c += 1;
        }
    }

    pub fn drops_for(&self, reason: StunDrop) -> u64 {
        self.drops.get(reason.index()).copied().unwrap_or(0)
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_names_are_unique_and_indexed_in_order() {
        for (i, r) in StunDrop::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(
                StunDrop::ALL
                    .iter()
                    .filter(|o| o.as_str() == r.as_str())
                    .count(),
                1
            );
        }
        let mut s = StunStats::default();
        s.drop(StunDrop::BadChannelData);
        s.drop(StunDrop::BadChannelData);
        assert_eq!(s.drops_for(StunDrop::BadChannelData), 2);
        assert_eq!(s.total_drops(), 2);
        assert_eq!(
            StunDrop::from(StunError::BadIntegrity),
            StunDrop::Unauthenticated
        );
    }
}
