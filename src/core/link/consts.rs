//! Every wire fact and protocol limit of the link layer, in one place.
//!
//! Timer values follow the WireGuard paper (section 6, "Timers & Stateless
//! UX"); sizes follow its section 5.4 message layouts, which ipop keeps byte
//! for byte (only the identifier and the MAC labels differ, see below).

use core::time::Duration;

/// The Noise protocol name. It is also the first input of the hash chain, so
/// it must be exactly this string for the `snow` crate (and any other Noise
/// library) to agree with us.
pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

/// The Noise prologue: mixed into the handshake hash right after the
/// protocol name. It is ipop's own, so an ipop handshake never verifies as a
/// WireGuard one (and the reverse), even with equal keys.
pub const IDENTIFIER: &[u8] = b"ipop link v1 (IKpsk2, BLAKE2s, ChaChaPoly)";

/// Label hashed with a static public key to form the mac1 key.
pub const LABEL_MAC1: &[u8] = b"ipop-mac1-v1";

/// Label hashed with a static public key to form the cookie-reply key.
pub const LABEL_COOKIE: &[u8] = b"ipop-cookie-v1";

/// Message type bytes (first byte of every link datagram; bytes 1..4 are zero).
pub const TYPE_INITIATION: u8 = 1;
pub const TYPE_RESPONSE: u8 = 2;
pub const TYPE_COOKIE_REPLY: u8 = 3;
pub const TYPE_TRANSPORT: u8 = 4;

/// The STUN magic cookie (RFC 5389) as it appears at bytes 4..8 of a STUN
/// datagram. No ipop index ever takes this value (read as little-endian), so
/// a link datagram never carries it at that offset.
pub const STUN_MAGIC_COOKIE_BYTES: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

pub const KEY_LEN: usize = 32;
pub const TAG_LEN: usize = 16;
pub const MAC_LEN: usize = 16;
pub const TIMESTAMP_LEN: usize = 12;
pub const COOKIE_LEN: usize = 16;
pub const COOKIE_NONCE_LEN: usize = 24;

/// Type byte plus three reserved zero bytes.
pub const HEADER_LEN: usize = 4;

/// type+reserved, sender, ephemeral, static (sealed), timestamp (sealed), mac1, mac2.
pub const INITIATION_LEN: usize =
    HEADER_LEN + 4 + KEY_LEN + (KEY_LEN + TAG_LEN) + (TIMESTAMP_LEN + TAG_LEN) + 2 * MAC_LEN;
/// type+reserved, sender, receiver, ephemeral, empty (sealed), mac1, mac2.
pub const RESPONSE_LEN: usize = HEADER_LEN + 4 + 4 + KEY_LEN + TAG_LEN + 2 * MAC_LEN;
/// type+reserved, receiver, nonce, cookie (sealed).
pub const COOKIE_REPLY_LEN: usize = HEADER_LEN + 4 + COOKIE_NONCE_LEN + COOKIE_LEN + TAG_LEN;
/// type+reserved, receiver, counter.
pub const TRANSPORT_HEADER_LEN: usize = HEADER_LEN + 4 + 8;
/// Smallest transport message: a keepalive (empty payload, tag only).
pub const TRANSPORT_MIN_LEN: usize = TRANSPORT_HEADER_LEN + TAG_LEN;

/// Bytes a transport message adds to a payload (header + tag).
pub const TRANSPORT_OVERHEAD: usize = TRANSPORT_HEADER_LEN + TAG_LEN;

/// Largest datagram the link layer emits or accepts (UDP payload limit).
pub const MAX_DATAGRAM_LEN: usize = 65_507;

/// Send a new initiation once a session we initiated is this old (paper §6.2).
pub const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);
/// A session older than this is never used to send or receive (paper §6.2).
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);
/// Give up retrying a handshake after this long (paper §6.4).
pub const REKEY_ATTEMPT_TIME: Duration = Duration::from_secs(90);
/// Retransmit an unanswered initiation after this long (plus jitter) (§6.4).
pub const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound of the random jitter added to each retransmit (§6.4).
pub const REKEY_TIMEOUT_JITTER_MAX: Duration = Duration::from_millis(333);
/// Send a keepalive after this long without sending, when data was received (§6.5).
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Start a new session after sending this many messages on one (§6.2).
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// Never send or accept counter values at or beyond this (§6.2).
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// Erase all session keys when no new session was made for this long (§6.3).
pub const ZERO_KEYS_AFTER: Duration = Duration::from_secs(3 * 180);
/// A responder rotates its cookie secret this often (§5.4.7).
pub const COOKIE_SECRET_MAX_AGE: Duration = Duration::from_secs(120);
/// An initiator stops using a received cookie this long after it arrived:
/// the secret behind it is at most COOKIE_SECRET_MAX_AGE old, less a margin
/// for the packet's flight.
pub const COOKIE_MAX_AGE: Duration = Duration::from_secs(120 - 5);
/// A responder that sees timestamps go backwards still accepts an
/// initiation once the peer has been silent this long (a restarted peer
/// whose shell gave no wall clock). A replayed initiation then costs one
/// response and an unconfirmed session, never a usable one.
pub const STALE_TIMESTAMP_GRACE: Duration = REJECT_AFTER_TIME;

/// Replay window width in packets (RFC 6479): the bitmap holds one more word
/// than the window so a whole word can be cleared when the window slides.
pub const REPLAY_WINDOW: u64 = 2048;
pub const REPLAY_WORDS: usize = (REPLAY_WINDOW as usize) / 64 + 1;

/// Mac1-valid handshake messages per second above which the node is "under
/// load" and demands a cookie (mac2) before any Diffie-Hellman work.
pub const UNDER_LOAD_PER_SECOND: u32 = 32;
/// Under load: handshakes accepted per second from one IP (with a valid cookie).
pub const PER_IP_PER_SECOND: u32 = 20;
/// Under load: burst allowance of one IP.
pub const PER_IP_BURST: u32 = 5;
/// Hard cap on handshake messages that reach Diffie-Hellman, per second, for
/// all sources together, cookie or not.
pub const GLOBAL_DH_PER_SECOND: u32 = 100;
/// Number of per-IP buckets (a fixed table; colliding sources share one).
pub const RATE_BUCKETS: usize = 256;

/// Answered initiations remembered (by mac1) so that extra copies sent to
/// other candidate addresses are dropped without Diffie-Hellman work.
pub const RECENT_INITIATIONS: usize = 16;

/// Index slots per peer: a pending initiation plus current, previous and
/// next sessions always fit.
pub const SLOTS_PER_PEER: usize = 4;
/// Largest `max_peers` the index layout can address (see `index.rs`).
pub const MAX_PEERS_LIMIT: usize = 1 << 16;
