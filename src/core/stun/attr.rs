//! Decoders for attribute values (RFC 8489 §14, RFC 8656 §14). Each takes a
//! value as [`super::Message::attr`] returns it and never panics.

use super::consts::MAGIC_COOKIE;
use super::error::StunError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const FAMILY_V4: u8 = 0x01;
const FAMILY_V6: u8 = 0x02;

/// MAPPED-ADDRESS-style value: 0, family, port, address (RFC 8489 §14.1).
pub fn address(value: &[u8]) -> Result<SocketAddr, StunError> {
    decode_address(value, None)
}

/// XOR-MAPPED-ADDRESS, XOR-RELAYED-ADDRESS, XOR-PEER-ADDRESS (RFC 8489
/// §14.2): port XOR the cookie's top half, address XOR cookie ‖ txid.
pub fn xor_address(value: &[u8], txid: &[u8; 12]) -> Result<SocketAddr, StunError> {
    decode_address(value, Some(txid))
}

/// The 16 bytes an address is XORed with: cookie then transaction ID.
pub(crate) fn xor_pad(txid: &[u8; 12]) -> [u8; 16] {
    let mut pad = [0u8; 16];
    let (c, t) = pad.split_at_mut(4);
    c.copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    t.copy_from_slice(txid);
    pad
}

fn decode_address(value: &[u8], txid: Option<&[u8; 12]>) -> Result<SocketAddr, StunError> {
    let (head, rest) = value
        .split_first_chunk::<4>()
        .ok_or(StunError::BadAttribute)?;
    let [_, family, p0, p1] = *head;
    let pad = txid.map(xor_pad).unwrap_or([0; 16]);
    let port = u16::from_be_bytes([p0, p1]) ^ u16::from_be_bytes([pad[0], pad[1]]);
    let ip = match family {
        FAMILY_V4 => {
            let raw: [u8; 4] = rest.try_into().map_err(|_| StunError::BadAttribute)?;
            let mut b = [0u8; 4];
            for ((o, r), p) in b.iter_mut().zip(raw).zip(pad) {
                *o = r ^ p;
            }
            IpAddr::V4(Ipv4Addr::from(b))
        }
        FAMILY_V6 => {
            let raw: [u8; 16] = rest.try_into().map_err(|_| StunError::BadAttribute)?;
            let mut b = [0u8; 16];
            for ((o, r), p) in b.iter_mut().zip(raw).zip(pad) {
                *o = r ^ p;
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return Err(StunError::BadFamily),
    };
    Ok(SocketAddr::new(ip, port))
}

/// ERROR-CODE (RFC 8489 §14.8): class * 100 + number, and the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    pub code: u16,
    pub reason: &'a str,
}

pub fn error_code(value: &[u8]) -> Result<ErrorCode<'_>, StunError> {
    let (head, reason) = value
        .split_first_chunk::<4>()
        .ok_or(StunError::BadAttribute)?;
    let [_, _, class, number] = *head;
    let class = u16::from(class & 0x07);
    let number = u16::from(number);
    if !(3..=6).contains(&class) || number > 99 {
        return Err(StunError::BadAttribute);
    }
    let reason = core::str::from_utf8(reason).map_err(|_| StunError::BadAttribute)?;
    Ok(ErrorCode {
        code: class * 100 + number,
        reason,
    })
}

/// A 32-bit attribute such as LIFETIME (RFC 8656 §14.2), in seconds.
pub fn u32_value(value: &[u8]) -> Result<u32, StunError> {
    let b: [u8; 4] = value.try_into().map_err(|_| StunError::BadAttribute)?;
    Ok(u32::from_be_bytes(b))
}

/// CHANNEL-NUMBER (RFC 8656 §14.1): number then two RFFU bytes.
pub fn channel_number(value: &[u8]) -> Result<u16, StunError> {
    match value {
        [a, b, _, _] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(StunError::BadAttribute),
    }
}

/// REQUESTED-TRANSPORT (RFC 8656 §14.7): protocol number then RFFU.
pub fn requested_transport(value: &[u8]) -> Result<u8, StunError> {
    match value {
        [p, _, _, _] => Ok(*p),
        _ => Err(StunError::BadAttribute),
    }
}

/// USERNAME, REALM, NONCE, SOFTWARE: UTF-8 text.
pub fn text(value: &[u8]) -> Result<&str, StunError> {
    core::str::from_utf8(value).map_err(|_| StunError::BadAttribute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_bounds() {
        let e = error_code(&[0, 0, 4, 1, b'U', b'n']).unwrap();
        assert_eq!(
            e,
            ErrorCode {
                code: 401,
                reason: "Un"
            }
        );
        assert_eq!(error_code(&[0, 0, 4, 38]).unwrap().code, 438);
        assert_eq!(error_code(&[0, 0, 2, 1]), Err(StunError::BadAttribute));
        assert_eq!(error_code(&[0, 0, 4, 100]), Err(StunError::BadAttribute));
        assert_eq!(error_code(&[0, 0, 4]), Err(StunError::BadAttribute));
        assert_eq!(
            error_code(&[0, 0, 4, 1, 0xFF]),
            Err(StunError::BadAttribute)
        );
    }

    #[test]
    fn address_families_and_sizes() {
        assert_eq!(
            address(&[0, 1, 0x12, 0x34, 10, 0, 0, 1]).unwrap(),
            "10.0.0.1:4660".parse().unwrap()
        );
        assert_eq!(
            address(&[0, 3, 0, 0, 1, 2, 3, 4]),
            Err(StunError::BadFamily)
        );
        assert_eq!(
            address(&[0, 1, 0, 0, 1, 2, 3]),
            Err(StunError::BadAttribute)
        );
        assert_eq!(
            address(&[0, 2, 0, 0, 1, 2, 3, 4]),
            Err(StunError::BadAttribute)
        );
        assert_eq!(address(&[0, 1]), Err(StunError::BadAttribute));
        assert_eq!(u32_value(&[0, 0, 2, 0x58]).unwrap(), 600);
        assert_eq!(channel_number(&[0x40, 0x01, 0, 0]).unwrap(), 0x4001);
        assert_eq!(requested_transport(&[17, 0, 0, 0]).unwrap(), 17);
    }
}
