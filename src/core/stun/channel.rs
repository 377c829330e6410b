//! TURN ChannelData framing (RFC 8656 §12.4): a 2-byte channel number
//! (0x4000..=0x7FFE), a 2-byte payload length, then the payload. Over UDP
//! the padding to 4 bytes is optional; ipop sends none and accepts any.

use super::consts::{CHANNEL_HEADER_LEN, CHANNEL_MAX, CHANNEL_MIN};

/// A ChannelData message borrowed from a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelData<'a> {
    pub channel: u16,
    pub payload: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Parses a datagram; `None` if the channel number is outside the
    /// client range or the length field claims more than the datagram
    /// holds, or leaves more than 3 bytes of padding.
    pub fn parse(datagram: &'a [u8]) -> Option<ChannelData<'a>> {
        let (head, rest) = datagram.split_first_chunk::<CHANNEL_HEADER_LEN>()?;
        let channel = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        if !(CHANNEL_MIN..=CHANNEL_MAX).contains(&channel) || rest.len() - len.min(rest.len()) > 3 {
            return None;
        }
        Some(ChannelData {
            channel,
            payload: rest.get(..len)?,
        })
    }

    /// Writes a ChannelData message into `out`; the length, or `None` when
    /// `out` is too small or the payload exceeds 65535 bytes.
    pub fn emit(channel: u16, payload: &[u8], out: &mut [u8]) -> Option<usize> {
        let len = u16::try_from(payload.len()).ok()?;
        let total = CHANNEL_HEADER_LEN + payload.len();
        let slot = out.get_mut(..total)?;
        slot[..2].copy_from_slice(&channel.to_be_bytes());
        slot[2..4].copy_from_slice(&len.to_be_bytes());
        slot[4..].copy_from_slice(payload);
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_emit() {
        let mut out = [0u8; 16];
        let n = ChannelData::emit(0x4001, b"hello", &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[0x40, 0x01, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o']
        );
        let cd = ChannelData::parse(&out[..n]).unwrap();
        assert_eq!(
            cd,
            ChannelData {
                channel: 0x4001,
                payload: b"hello"
            }
        );
        // Padded to 12 bytes is accepted; 4 bytes of padding is not.
        assert_eq!(ChannelData::parse(&out[..12]).unwrap().payload, b"hello");
        assert_eq!(ChannelData::parse(&out[..13]), None);
        assert_eq!(ChannelData::parse(&out[..8]), None);
        assert_eq!(ChannelData::parse(&[0x7F, 0xFF, 0, 0]), None);
        assert_eq!(ChannelData::parse(&[0x3F, 0xFF, 0, 0]), None);
        assert_eq!(ChannelData::parse(&[0x40, 0x00, 0]), None);
        assert_eq!(ChannelData::emit(0x4000, b"hello", &mut out[..8]), None);
    }
}
