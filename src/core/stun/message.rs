//! A checked, zero-copy view of one STUN message (RFC 8489 §5, §14) and its
//! attributes. [`Message::parse`] validates the header and walks every
//! attribute once, so the getters afterwards cannot fail or panic.

use super::consts::*;
use super::crc32::Crc32;
use super::error::StunError;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Message class, the C1/C0 bits of the type (RFC 8489 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

/// The 14-bit message type for `method` and `class` (RFC 8489 §5, figure 3).
pub const fn message_type(method: u16, class: Class) -> u16 {
    let c = match class {
        Class::Request => 0x000,
        Class::Indication => 0x010,
        Class::Success => 0x100,
        Class::Error => 0x110,
    };
    (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | c
}

/// Splits a message type into method and class.
pub const fn split_type(t: u16) -> (u16, Class) {
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    let class = match t & 0x110 {
        0x000 => Class::Request,
        0x010 => Class::Indication,
        0x100 => Class::Success,
        _ => Class::Error,
    };
    (method, class)
}

/// One attribute: its type, value (without padding) and the offset of its
/// 4-byte header within the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawAttr<'a> {
    pub typ: u16,
    pub value: &'a [u8],
    pub offset: usize,
}

/// A validated STUN message borrowed from a datagram.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    buf: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Attribute value length rounded up to a 4-byte boundary.
const fn padded(len: usize) -> usize {
    (len + 3) & !3
}

impl<'a> Message<'a> {
    /// Checks the header (top bits zero, magic cookie, length a multiple of 4
    /// and equal to the datagram's) and that attributes tile the body
    /// exactly. A datagram must hold exactly one message (UDP framing).
    pub fn parse(datagram: &'a [u8]) -> Result<Message<'a>, StunError> {
        let (t, cookie) = match (be16(datagram, 0), be32(datagram, 4)) {
            (Some(t), Some(c)) if datagram.len() >= HEADER_LEN => (t, c),
            _ => return Err(StunError::Truncated),
        };
        if t & 0xC000 != 0 || cookie != MAGIC_COOKIE {
            return Err(StunError::NotStun);
        }
        let len = usize::from(be16(datagram, 2).unwrap_or(0));
        if len % 4 != 0 {
            return Err(StunError::BadLength);
        }
        if datagram.len() < HEADER_LEN + len {
            return Err(StunError::Truncated);
        }
        if datagram.len() > HEADER_LEN + len {
            return Err(StunError::BadLength);
        }
        let msg = Message { buf: datagram };
        let mut at = HEADER_LEN;
        while at < datagram.len() {
            let vlen = usize::from(be16(datagram, at + 2).ok_or(StunError::BadAttribute)?);
            at += 4 + padded(vlen);
            if at > datagram.len() {
                return Err(StunError::BadAttribute);
            }
        }
        Ok(msg)
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    pub fn msg_type(&self) -> u16 {
        be16(self.buf, 0).unwrap_or(0)
    }

    pub fn method(&self) -> u16 {
        split_type(self.msg_type()).0
    }

    pub fn class(&self) -> Class {
        split_type(self.msg_type()).1
    }

    pub fn transaction_id(&self) -> [u8; 12] {
        let mut id = [0u8; 12];
        if let Some(src) = self.buf.get(8..HEADER_LEN) {
            id.copy_from_slice(src);
        }
        id
    }

    /// Every attribute in wire order, including those after
    /// MESSAGE-INTEGRITY (see [`Message::attr`] for the filtered lookup).
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            buf: self.buf,
            at: HEADER_LEN,
        }
    }

    /// The first attribute of type `typ`. Attributes after
    /// MESSAGE-INTEGRITY are ignored, except FINGERPRINT (RFC 8489 §14.5).
    pub fn attr(&self, typ: u16) -> Option<&'a [u8]> {
        let mut after_integrity = false;
        for a in self.attributes() {
            if a.typ == typ && (!after_integrity || typ == ATTR_FINGERPRINT) {
                return Some(a.value);
            }
            after_integrity |= a.typ == ATTR_MESSAGE_INTEGRITY;
        }
        None
    }

    fn find(&self, typ: u16) -> Option<RawAttr<'a>> {
        self.attributes().find(|a| a.typ == typ)
    }

    /// Checks FINGERPRINT (RFC 8489 §14.7). `Ok(true)`: present and right;
    /// `Ok(false)`: absent; `Err(BadFingerprint)`: wrong or not last.
    pub fn check_fingerprint(&self) -> Result<bool, StunError> {
        let Some(fp) = self.find(ATTR_FINGERPRINT) else {
            return Ok(false);
        };
        let expected = be32(fp.value, 0).filter(|_| fp.value.len() == 4);
        if fp.offset + 8 != self.buf.len() {
            return Err(StunError::BadFingerprint);
        }
        let mut crc = Crc32::new();
        crc.update(self.buf.get(..fp.offset).unwrap_or(&[]));
        if expected == Some(crc.finalize() ^ FINGERPRINT_XOR) {
            Ok(true)
        } else {
            Err(StunError::BadFingerprint)
        }
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) with `key`: the
    /// password for short-term credentials, [`super::long_term_key`] for
    /// long-term ones. The comparison is constant-time.
    pub fn check_integrity(&self, key: &[u8]) -> Result<(), StunError> {
        let mi = self
            .find(ATTR_MESSAGE_INTEGRITY)
            .ok_or(StunError::MissingIntegrity)?;
        if mi.value.len() != INTEGRITY_LEN {
            return Err(StunError::BadIntegrity);
        }
        let mac = integrity_mac(key, self.buf, mi.offset).ok_or(StunError::BadIntegrity)?;
        mac.verify_slice(mi.value)
            .map_err(|_| StunError::BadIntegrity)
    }
}

/// HMAC-SHA1 over `msg[..mi_offset]` with the header length rewritten to
/// end just after a MESSAGE-INTEGRITY attribute at `mi_offset`.
pub(crate) fn integrity_mac(key: &[u8], msg: &[u8], mi_offset: usize) -> Option<Hmac<Sha1>> {
    let body = msg.get(4..mi_offset)?;
    let len = u16::try_from(mi_offset + 4 + INTEGRITY_LEN - HEADER_LEN).ok()?;
    let mut mac = Hmac::<Sha1>::new_from_slice(key).ok()?;
    mac.update(msg.get(..2)?);
    mac.update(&len.to_be_bytes());
    mac.update(body);
    Some(mac)
}

/// Iterator over the attributes of a checked [`Message`].
pub struct Attributes<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = RawAttr<'a>;

    fn next(&mut self) -> Option<RawAttr<'a>> {
        let typ = be16(self.buf, self.at)?;
        let len = usize::from(be16(self.buf, self.at + 2)?);
        let value = self.buf.get(self.at + 4..self.at + 4 + len)?;
        let offset = self.at;
        self.at += 4 + padded(len);
        Some(RawAttr { typ, value, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_encoding_round_trips() {
        assert_eq!(message_type(BINDING, Class::Request), 0x0001);
        assert_eq!(message_type(BINDING, Class::Success), 0x0101);
        assert_eq!(message_type(BINDING, Class::Error), 0x0111);
        assert_eq!(message_type(ALLOCATE, Class::Request), 0x0003);
        assert_eq!(message_type(ALLOCATE, Class::Error), 0x0113);
        assert_eq!(message_type(REFRESH, Class::Success), 0x0104);
        assert_eq!(message_type(SEND, Class::Indication), 0x0016);
        assert_eq!(message_type(DATA, Class::Indication), 0x0017);
        assert_eq!(message_type(CHANNEL_BIND, Class::Success), 0x0109);
        for t in 0..0x4000u16 {
            let (m, c) = split_type(t);
            assert_eq!(message_type(m, c), t);
        }
    }

    #[test]
    fn header_checks() {
        let mut m = [0u8; 20];
        m[1] = 1;
        m[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        assert!(Message::parse(&m).is_ok());
        assert_eq!(Message::parse(&m[..19]).unwrap_err(), StunError::Truncated);
        let mut bad = m;
        bad[0] = 0x40;
        assert_eq!(Message::parse(&bad).unwrap_err(), StunError::NotStun);
        let mut bad = m;
        bad[7] = 0x43;
        assert_eq!(Message::parse(&bad).unwrap_err(), StunError::NotStun);
        let mut bad = m;
        bad[3] = 2;
        assert_eq!(Message::parse(&bad).unwrap_err(), StunError::BadLength);
        let mut bad = m;
        bad[3] = 4;
        assert_eq!(Message::parse(&bad).unwrap_err(), StunError::Truncated);
        let mut long = [0u8; 24];
        long[..20].copy_from_slice(&m);
        assert_eq!(Message::parse(&long).unwrap_err(), StunError::BadLength);
        // An attribute claiming 8 bytes inside a 4-byte body.
        long[3] = 4;
        long[20..24].copy_from_slice(&[0x80, 0x22, 0x00, 0x08]);
        assert_eq!(Message::parse(&long).unwrap_err(), StunError::BadAttribute);
    }
}
