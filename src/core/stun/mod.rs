//! STUN (RFC 8489, formerly 5389) and TURN (RFC 8656) over UDP, sans-IO.
//!
//! * [`Message`] / [`MessageWriter`]: the codec, zero-copy over caller
//!   buffers, with MESSAGE-INTEGRITY (HMAC-SHA1) and FINGERPRINT.
//! * [`BindingClient`]: asks every configured STUN server for this node's
//!   reflexive address, retransmits per RFC 8489 §6.2.1 (shortened, see
//!   [`consts`]), and re-asks periodically to notice NAT rebinding.
//! * [`TurnClient`]: one allocation on one TURN server with long-term
//!   credentials, permissions, channels, and data framing.
//! * [`NatAgent`]: both kinds behind one front for the node: demux,
//!   candidates (srflx + relay), permissions, relayed data.
//! * [`is_stun`] / [`is_channel_data`]: the demultiplexer for the overlay's
//!   one UDP socket (table in docs/PROTOCOL.md, "STUN and TURN").

pub mod agent;
pub mod attr;
pub mod binding;
pub mod channel;
pub mod consts;
mod crc32;
pub mod error;
mod md5;
pub mod message;
pub mod turn;
pub mod writer;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod rfc5769_tests;

pub use agent::{NatAgent, Relayed};
pub use binding::{BindingClient, BindingEvent};
pub use channel::ChannelData;
pub use error::{StunDrop, StunError, StunStats};
pub use message::{message_type, split_type, Class, Message, RawAttr};
pub use turn::{TurnClient, TurnEvent};
pub use writer::MessageWriter;

use consts::{CHANNEL_MAX, CHANNEL_MIN, HEADER_LEN, MAGIC_COOKIE};

/// True when `datagram` looks like a STUN message: at least a header, top
/// two bits zero, the magic cookie at bytes 4..8, a length field that is a
/// multiple of 4 and equals the rest of the datagram. Cheap; does not walk
/// attributes ([`Message::parse`] does).
pub fn is_stun(datagram: &[u8]) -> bool {
    let Some(h) = datagram.first_chunk::<HEADER_LEN>() else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    h[0] & 0xC0 == 0
        && u32::from_be_bytes([h[4], h[5], h[6], h[7]]) == MAGIC_COOKIE
        && len % 4 == 0
        && datagram.len() == HEADER_LEN + len
}

/// True when `datagram` is a TURN ChannelData message: first two bytes a
/// channel number in 0x4000..=0x7FFE (first byte 0x40..=0x7F), and a length
/// that fits the datagram (with at most 3 bytes of padding).
pub fn is_channel_data(datagram: &[u8]) -> bool {
    match datagram.first_chunk::<2>() {
        Some(c) if (CHANNEL_MIN..=CHANNEL_MAX).contains(&u16::from_be_bytes(*c)) => {
            ChannelData::parse(datagram).is_some()
        }
        _ => false,
    }
}

/// Long-term credential key (RFC 8489 §9.2.2, MD5 algorithm):
/// `MD5(username ":" realm ":" password)`. The password must already be
/// SASLprep'ed (OpaqueString); ASCII passwords, as in the seed, are.
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    md5::md5(&[
        username.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password.as_bytes(),
    ])
}
