//! Link datagram layouts (docs/PROTOCOL.md, "Links") and the first,
//! cheapest validation step: type, reserved bytes and exact length.
//!
//! Every message starts with a type byte and three zero bytes, read as one
//! little-endian u32 (1..=4), as WireGuard does. That leaves bytes 4..8 free
//! of the STUN magic cookie (no ipop index takes that value), so the node
//! can tell link, STUN and TURN ChannelData traffic apart on one socket.

use core::ops::Range;

use super::consts::*;
use super::error::DropReason;

/// Byte ranges of each message's fields.
pub mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const RESERVED: Range<usize> = 1..4;

    pub mod initiation {
        use core::ops::Range;
        pub const SENDER: Range<usize> = 4..8;
        pub const EPHEMERAL: Range<usize> = 8..40;
        pub const STATIC: Range<usize> = 40..88;
        pub const TIMESTAMP: Range<usize> = 88..116;
        pub const MAC1: Range<usize> = 116..132;
        pub const MAC2: Range<usize> = 132..148;
    }

    pub mod response {
        use core::ops::Range;
        pub const SENDER: Range<usize> = 4..8;
        pub const RECEIVER: Range<usize> = 8..12;
        pub const EPHEMERAL: Range<usize> = 12..44;
        pub const EMPTY: Range<usize> = 44..60;
        pub const MAC1: Range<usize> = 60..76;
        pub const MAC2: Range<usize> = 76..92;
    }

    pub mod cookie_reply {
        use core::ops::Range;
        pub const RECEIVER: Range<usize> = 4..8;
        pub const NONCE: Range<usize> = 8..32;
        pub const COOKIE: Range<usize> = 32..64;
    }

    pub mod transport {
        use core::ops::Range;
        pub const RECEIVER: Range<usize> = 4..8;
        pub const COUNTER: Range<usize> = 8..16;
        pub const PACKET: usize = 16;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Initiation,
    Response,
    CookieReply,
    Transport,
}

/// The message type of `buf`, after checking the header and the length the
/// type requires (exact for handshake and cookie messages, a minimum for
/// transport). Never panics.
pub fn classify(buf: &[u8]) -> Result<MessageType, DropReason> {
    let header = buf.get(..HEADER_LEN).ok_or(DropReason::Truncated)?;
    // An initiation names its PSK in byte 1 (core::link::psk); the other
    // reserved bytes are zero in every message.
    let reserved = match header.first() {
        Some(&TYPE_INITIATION) => field::RESERVED.start + 1..field::RESERVED.end,
        _ => field::RESERVED,
    };
    if header
        .get(reserved)
        .is_none_or(|r| r.iter().any(|&b| b != 0))
    {
        return Err(DropReason::BadType);
    }
    let (ty, exact) = match header.get(field::TYPE).copied() {
        Some(TYPE_INITIATION) => (MessageType::Initiation, INITIATION_LEN),
        Some(TYPE_RESPONSE) => (MessageType::Response, RESPONSE_LEN),
        Some(TYPE_COOKIE_REPLY) => (MessageType::CookieReply, COOKIE_REPLY_LEN),
        Some(TYPE_TRANSPORT) => {
            if buf.len() < TRANSPORT_MIN_LEN {
                return Err(DropReason::Truncated);
            }
            if buf.len() > MAX_DATAGRAM_LEN {
                return Err(DropReason::BadLength);
            }
            return Ok(MessageType::Transport);
        }
        _ => return Err(DropReason::BadType),
    };
    match buf.len() {
        n if n < exact => Err(DropReason::Truncated),
        n if n > exact => Err(DropReason::BadLength),
        _ => Ok(ty),
    }
}

/// True when `buf` looks like a link message rather than STUN, TURN
/// ChannelData or noise: the node's demultiplexer calls this.
pub fn is_link_datagram(buf: &[u8]) -> bool {
    matches!(buf.get(..4), Some([1, _, 0, 0] | [2..=4, 0, 0, 0]))
        && buf.get(4..8) != Some(&STUN_MAGIC_COOKIE_BYTES[..])
}

/// A fixed-size copy of `buf[range]`; zeros when out of range, which the
/// callers rule out with `classify` (kept total so no input can panic).
pub fn take<const N: usize>(buf: &[u8], range: Range<usize>) -> [u8; N] {
    buf.get(range)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

/// A little-endian u32 field.
pub fn u32_at(buf: &[u8], range: Range<usize>) -> u32 {
    u32::from_le_bytes(take(buf, range))
}

/// A little-endian u64 field.
pub fn u64_at(buf: &[u8], range: Range<usize>) -> u64 {
    u64::from_le_bytes(take(buf, range))
}

/// Copies `src` into `buf[range]` when the lengths agree (emitters own
/// their buffers' sizes, so a mismatch is a bug, never input).
pub fn put(buf: &mut [u8], range: Range<usize>, src: &[u8]) {
    if let Some(dst) = buf.get_mut(range) {
        if dst.len() == src.len() {
            dst.copy_from_slice(src);
        }
    }
}

/// Writes the 4-byte header for `ty`.
pub fn put_header(buf: &mut [u8], ty: u8) {
    put(buf, 0..HEADER_LEN, &[ty, 0, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        if let Some(b) = v.first_mut() {
            *b = ty;
        }
        v
    }

    #[test]
    fn classify_exact_sizes() {
        assert_eq!(INITIATION_LEN, 148);
        assert_eq!(RESPONSE_LEN, 92);
        assert_eq!(COOKIE_REPLY_LEN, 64);
        assert_eq!(TRANSPORT_OVERHEAD, 32);
        assert_eq!(classify(&msg(1, 148)), Ok(MessageType::Initiation));
        assert_eq!(classify(&msg(1, 147)), Err(DropReason::Truncated));
        assert_eq!(classify(&msg(1, 149)), Err(DropReason::BadLength));
        assert_eq!(classify(&msg(2, 92)), Ok(MessageType::Response));
        assert_eq!(classify(&msg(2, 93)), Err(DropReason::BadLength));
        assert_eq!(classify(&msg(3, 64)), Ok(MessageType::CookieReply));
        assert_eq!(classify(&msg(3, 63)), Err(DropReason::Truncated));
        assert_eq!(classify(&msg(4, 32)), Ok(MessageType::Transport));
        assert_eq!(classify(&msg(4, 1500)), Ok(MessageType::Transport));
        assert_eq!(classify(&msg(4, 31)), Err(DropReason::Truncated));
    }

    #[test]
    fn classify_rejects_bad_headers() {
        assert_eq!(classify(&[]), Err(DropReason::Truncated));
        assert_eq!(classify(&[1, 0, 0]), Err(DropReason::Truncated));
        assert_eq!(classify(&msg(0, 148)), Err(DropReason::BadType));
        assert_eq!(classify(&msg(5, 148)), Err(DropReason::BadType));
        let mut m = msg(1, 148);
        m[2] = 1;
        assert_eq!(classify(&m), Err(DropReason::BadType));
        // Byte 1 of an initiation is its PSK tag; of other types, reserved.
        let mut m = msg(1, 148);
        m[1] = 0x95;
        assert_eq!(classify(&m), Ok(MessageType::Initiation));
        assert!(is_link_datagram(&m));
        let mut m = msg(2, 92);
        m[1] = 0x95;
        assert_eq!(classify(&m), Err(DropReason::BadType));
        assert!(!is_link_datagram(&m));
    }

    #[test]
    fn demux_against_stun() {
        // RFC 5769 sample request header: type 0x0001, length 0x0058, magic cookie.
        let stun = [0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7];
        assert!(!is_link_datagram(&stun));
        // A STUN-like header with a link type byte is still STUN by its cookie.
        assert!(!is_link_datagram(&[0x01, 0, 0, 0, 0x21, 0x12, 0xa4, 0x42]));
        assert!(is_link_datagram(&[0x04, 0, 0, 0, 1, 2, 3, 4]));
        assert!(!is_link_datagram(&[0x40, 0x00, 0x00, 0x10]));
        assert!(!is_link_datagram(&[4, 0, 0]));
    }

    #[test]
    fn field_readers_are_total() {
        assert_eq!(u32_at(&[1, 2], 0..4), 0);
        assert_eq!(u32_at(&[1, 0, 0, 0], 0..4), 1);
        assert_eq!(u64_at(&[0; 16], 8..16), 0);
        let mut b = [0u8; 4];
        put(&mut b, 2..6, &[1, 2, 3, 4]);
        assert_eq!(b, [0; 4]);
        put_header(&mut b, 3);
        assert_eq!(b, [3, 0, 0, 0]);
    }
}
