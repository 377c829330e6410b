//! STUN/TURN wire constants (RFC 8489 §5, §14, §18; RFC 8656 §18) and the
//! client timer defaults, with their sources.

use core::time::Duration;

/// RFC 8489 §5: fixed value at bytes 4..8 of every STUN message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// RFC 8489 §5: type, length, cookie, 96-bit transaction ID.
pub const HEADER_LEN: usize = 20;
/// RFC 8489 §14.7: FINGERPRINT is CRC-32 of the message XOR this.
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// HMAC-SHA1 output size (RFC 8489 §14.5).
pub const INTEGRITY_LEN: usize = 20;

// Methods (RFC 8489 §18.2, RFC 8656 §17).
pub const BINDING: u16 = 0x001;
pub const ALLOCATE: u16 = 0x003;
pub const REFRESH: u16 = 0x004;
pub const SEND: u16 = 0x006;
pub const DATA: u16 = 0x007;
pub const CREATE_PERMISSION: u16 = 0x008;
pub const CHANNEL_BIND: u16 = 0x009;

// Attributes (RFC 8489 §18.3, RFC 8656 §18).
pub const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
pub const ATTR_USERNAME: u16 = 0x0006;
pub const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
pub const ATTR_ERROR_CODE: u16 = 0x0009;
pub const ATTR_UNKNOWN_ATTRIBUTES: u16 = 0x000A;
pub const ATTR_CHANNEL_NUMBER: u16 = 0x000C;
pub const ATTR_LIFETIME: u16 = 0x000D;
pub const ATTR_XOR_PEER_ADDRESS: u16 = 0x0012;
pub const ATTR_DATA: u16 = 0x0013;
pub const ATTR_REALM: u16 = 0x0014;
pub const ATTR_NONCE: u16 = 0x0015;
pub const ATTR_XOR_RELAYED_ADDRESS: u16 = 0x0016;
pub const ATTR_REQUESTED_TRANSPORT: u16 = 0x0019;
pub const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const ATTR_SOFTWARE: u16 = 0x8022;
pub const ATTR_FINGERPRINT: u16 = 0x8028;

/// RFC 8656 §14.1 REQUESTED-TRANSPORT value for UDP (IANA protocol 17).
pub const TRANSPORT_UDP: u8 = 17;

// Error codes we act on (RFC 8489 §14.8, RFC 8656 §19).
pub const ERR_UNAUTHORIZED: u16 = 401;
pub const ERR_ALLOCATION_MISMATCH: u16 = 437;
pub const ERR_STALE_NONCE: u16 = 438;

/// RFC 8656 §12: channel numbers a client may bind.
pub const CHANNEL_MIN: u16 = 0x4000;
pub const CHANNEL_MAX: u16 = 0x7FFE;
/// RFC 8656 §12.4: ChannelData header (channel number, length).
pub const CHANNEL_HEADER_LEN: usize = 4;

/// RFC 8489 §6.2.1 initial retransmission timeout.
pub const RTO: Duration = Duration::from_millis(500);
/// ipop's shortened schedule: 4 sends (0, 0.5, 1.5, 3.5 s) then give up
/// 8 RTO (4 s) after the last, 7.5 s in all. RFC 8489's Rc=7, Rm=16 would
/// make a dead server (the seed's dummy inner `stun` entry) cost 39.5 s.
pub const REQUEST_COUNT: u8 = 4;
pub const LAST_WAIT_RTOS: u32 = 8;

/// How often every STUN server is asked again, to notice NAT rebinding.
pub const BINDING_REFRESH: Duration = Duration::from_secs(60);

/// RFC 8656 §3.7: permissions last 300 s; refresh well before.
pub const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// Lifetime ipop asks for in Allocate/Refresh (RFC 8656 default 600 s).
pub const ALLOCATION_LIFETIME_SECS: u32 = 600;
/// Refresh an allocation this long before it expires.
pub const ALLOCATION_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Wait before trying again after a failed allocation.
pub const ALLOCATION_RETRY: Duration = Duration::from_secs(60);
/// How often a TURN client sends a Binding request to its server while
/// allocated: keeps the NAT mapping to the server alive (UDP conntrack
/// entries expire after 30-180 s) and notices a NAT rebinding, which
/// silently orphans the allocation (it is bound to the old 5-tuple).
pub const TURN_KEEPALIVE: Duration = Duration::from_secs(10);
/// Credential rounds (401/438 answers) before an allocation gives up.
pub const MAX_AUTH_ROUNDS: u8 = 3;
