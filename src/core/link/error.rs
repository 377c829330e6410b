//! The link layer's two vocabularies of failure: `LinkError` for calls the
//! node makes, `DropReason` for datagrams (and packets) that were discarded.

use core::fmt;

/// Why a call on `Links` did not produce output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// No session can carry data to this peer now; start a handshake.
    NoSession,
    /// The `PeerId` does not name a peer in the table.
    UnknownPeer,
    /// The peer table is full (`max_peers`).
    TooManyPeers,
    /// The key is our own, or a low-order point that would give an all-zero secret.
    BadKey,
    /// The output buffer cannot hold the message.
    BufferTooSmall,
    /// An initiation to this peer was sent less than REKEY_TIMEOUT ago (or a
    /// handshake the peer started is waiting for our first packet); the
    /// retransmit timer takes care of it.
    HandshakeInProgress,
    /// The key is revoked (or not on the allow-list).
    Refused,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkError::NoSession => "no usable session with this peer",
            LinkError::UnknownPeer => "no such peer",
            LinkError::TooManyPeers => "peer table is full",
            LinkError::BadKey => "unusable public key (own key or low-order point)",
            LinkError::BufferTooSmall => "output buffer too small",
            LinkError::HandshakeInProgress => "a handshake with this peer is already in progress",
            LinkError::Refused => "the key is revoked or not on the allow-list",
        })
    }
}

impl std::error::Error for LinkError {}

/// Why a datagram or packet was discarded. Indexes `Links::drops()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than its header or than its message type's size.
    Truncated,
    /// Handshake or cookie message whose length is not the exact size of its type.
    BadLength,
    /// Unknown message type, or non-zero reserved bytes.
    BadType,
    /// mac1 (or, under load, mac2 after a cookie was demanded) did not verify.
    BadMac,
    /// Over the handshake rate limit (per source IP or global).
    RateLimited,
    /// Receiver index names no live session or pending handshake.
    UnknownIndex,
    /// Transport counter already seen, too old, or past the reject limit.
    Replay,
    /// AEAD tag did not verify (handshake, cookie or transport).
    AeadFail,
    /// Initiation from a static key that is not in the peer table.
    UnknownPeer,
    /// Initiation timestamp not newer than the last one from that peer.
    StaleTimestamp,
    /// Diffie-Hellman gave an all-zero secret (low-order ephemeral).
    BadKey,
    /// Session too old for use (REJECT_AFTER_TIME).
    Expired,
    /// Outgoing packet with no usable session (counted by `encapsulate`).
    NoSession,
    /// A caller buffer was too small for the message.
    BufferTooSmall,
    /// Peer table full while accepting an unknown initiator.
    TooManyPeers,
    /// Initiation from a revoked key (or one not on the allow-list).
    Revoked,
}

impl DropReason {
    pub const ALL: [DropReason; 16] = [
        DropReason::Truncated,
        DropReason::BadLength,
        DropReason::BadType,
        DropReason::BadMac,
        DropReason::RateLimited,
        DropReason::UnknownIndex,
        DropReason::Replay,
        DropReason::AeadFail,
        DropReason::UnknownPeer,
        DropReason::StaleTimestamp,
        DropReason::BadKey,
        DropReason::Expired,
        DropReason::NoSession,
        DropReason::BufferTooSmall,
        DropReason::TooManyPeers,
        DropReason::Revoked,
    ];
    pub const COUNT: usize = DropReason::ALL.len();

    /// Stable snake_case name for status output.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::BadLength => "bad_length",
            DropReason::BadType => "bad_type",
            DropReason::BadMac => "bad_mac",
            DropReason::RateLimited => "rate_limited",
            DropReason::UnknownIndex => "unknown_index",
            DropReason::Replay => "replay",
            DropReason::AeadFail => "aead_fail",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::StaleTimestamp => "stale_timestamp",
            DropReason::BadKey => "bad_key",
            DropReason::Expired => "expired",
            DropReason::NoSession => "no_session",
            DropReason::BufferTooSmall => "buffer_too_small",
            DropReason::TooManyPeers => "too_many_peers",
            DropReason::Revoked => "revoked",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_discriminant_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        assert_eq!(DropReason::COUNT, 16);
        assert_eq!(DropReason::RateLimited.as_str(), "rate_limited");
        assert_eq!(
            LinkError::NoSession.to_string(),
            "no usable session with this peer"
        );
    }
}
