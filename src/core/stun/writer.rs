//! Writes STUN messages into a caller's buffer (RFC 8489 §5, §14). The
//! header length is kept current after every attribute, so
//! MESSAGE-INTEGRITY and FINGERPRINT can be computed in place.

use super::attr::xor_pad;
use super::consts::*;
use super::crc32::Crc32;
use super::error::StunError;
use super::message::integrity_mac;
use hmac::Mac;
use std::net::{IpAddr, SocketAddr};

pub struct MessageWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    txid: [u8; 12],
    pad_byte: u8,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message of type `msg_type` (see [`super::message_type`]).
    pub fn new(buf: &'b mut [u8], msg_type: u16, txid: &[u8; 12]) -> Result<Self, StunError> {
        let hdr = buf.get_mut(..HEADER_LEN).ok_or(StunError::BufferTooSmall)?;
        hdr[..2].copy_from_slice(&(msg_type & 0x3FFF).to_be_bytes());
        hdr[2..4].copy_from_slice(&[0, 0]);
        hdr[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        hdr[8..].copy_from_slice(txid);
        Ok(MessageWriter {
            buf,
            len: HEADER_LEN,
            txid: *txid,
            pad_byte: 0,
        })
    }

    /// Padding bytes to write after values (RFC 8489 says zero; RFC 5769's
    /// samples use spaces, which any receiver must accept).
    pub fn set_pad_byte(&mut self, b: u8) {
        self.pad_byte = b;
    }

    /// Appends an attribute with `value`, padded to 4 bytes.
    pub fn attr(&mut self, typ: u16, value: &[u8]) -> Result<(), StunError> {
        self.attr_with(typ, value.len(), |v| v.copy_from_slice(value))
    }

    fn attr_with(
        &mut self,
        typ: u16,
        vlen: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), StunError> {
        let vlen16 = u16::try_from(vlen).map_err(|_| StunError::ValueTooLong)?;
        let total = 4 + ((vlen + 3) & !3);
        let end = self.len + total;
        let body_len = u16::try_from(end - HEADER_LEN).map_err(|_| StunError::ValueTooLong)?;
        let slot = self
            .buf
            .get_mut(self.len..end)
            .ok_or(StunError::BufferTooSmall)?;
        slot[..2].copy_from_slice(&typ.to_be_bytes());
        slot[2..4].copy_from_slice(&vlen16.to_be_bytes());
        fill(&mut slot[4..4 + vlen]);
        slot[4 + vlen..].fill(self.pad_byte);
        self.len = end;
        self.buf[2..4].copy_from_slice(&body_len.to_be_bytes());
        Ok(())
    }

    pub fn u32_attr(&mut self, typ: u16, v: u32) -> Result<(), StunError> {
        self.attr(typ, &v.to_be_bytes())
    }

    /// MAPPED-ADDRESS-style attribute.
    pub fn address(&mut self, typ: u16, addr: SocketAddr) -> Result<(), StunError> {
        self.address_xored(typ, addr, [0; 16])
    }

    /// XOR-MAPPED/RELAYED/PEER-ADDRESS-style attribute.
    pub fn xor_address(&mut self, typ: u16, addr: SocketAddr) -> Result<(), StunError> {
        let pad = xor_pad(&self.txid);
        self.address_xored(typ, addr, pad)
    }

    fn address_xored(
        &mut self,
        typ: u16,
        addr: SocketAddr,
        pad: [u8; 16],
    ) -> Result<(), StunError> {
        let mut v = [0u8; 20];
        let port = addr.port() ^ u16::from_be_bytes([pad[0], pad[1]]);
        v[2..4].copy_from_slice(&port.to_be_bytes());
        let n = match addr.ip() {
            IpAddr::V4(ip) => {
                v[1] = 0x01;
                v[4..8].copy_from_slice(&ip.octets());
                8
            }
            IpAddr::V6(ip) => {
                v[1] = 0x02;
                v[4..20].copy_from_slice(&ip.octets());
                20
            }
        };
        for (b, p) in v[4..n].iter_mut().zip(pad) {
            *b ^= p;
        }
        self.attr(typ, &v[..n])
    }

    /// ERROR-CODE with `code` (300..=699) and a reason phrase.
    pub fn error_code(&mut self, code: u16, reason: &str) -> Result<(), StunError> {
        let r = reason.as_bytes();
        self.attr_with(ATTR_ERROR_CODE, 4 + r.len(), |v| {
            v[..2].fill(0);
            v[2] = ((code / 100) & 0x07) as u8;
            v[3] = (code % 100) as u8;
            v[4..].copy_from_slice(r);
        })
    }

    pub fn channel_number(&mut self, channel: u16) -> Result<(), StunError> {
        let c = channel.to_be_bytes();
        self.attr(ATTR_CHANNEL_NUMBER, &[c[0], c[1], 0, 0])
    }

    pub fn requested_transport(&mut self, protocol: u8) -> Result<(), StunError> {
        self.attr(ATTR_REQUESTED_TRANSPORT, &[protocol, 0, 0, 0])
    }

    /// Appends MESSAGE-INTEGRITY keyed with `key` over everything so far.
    pub fn message_integrity(&mut self, key: &[u8]) -> Result<(), StunError> {
        let at = self.len;
        if self.buf.len() < at + 4 + INTEGRITY_LEN {
            return Err(StunError::BufferTooSmall);
        }
        let mac = integrity_mac(key, &self.buf[..at], at).ok_or(StunError::ValueTooLong)?;
        let tag = mac.finalize().into_bytes();
        self.attr(ATTR_MESSAGE_INTEGRITY, &tag)
    }

    /// Appends FINGERPRINT; must be the last attribute.
    pub fn fingerprint(&mut self) -> Result<(), StunError> {
        let at = self.len;
        if self.buf.len() < at + 8 {
            return Err(StunError::BufferTooSmall);
        }
        let body_len = u16::try_from(at + 8 - HEADER_LEN).map_err(|_| StunError::ValueTooLong)?;
        self.buf[2..4].copy_from_slice(&body_len.to_be_bytes());
        let mut crc = Crc32::new();
        crc.update(&self.buf[..at]);
        self.u32_attr(ATTR_FINGERPRINT, crc.finalize() ^ FINGERPRINT_XOR)
    }

    /// The message length written so far (header included).
    pub fn finish(self) -> usize {
        self.len
    }
}
