//! The little DER that signature checks read: RSA public keys
//! (SEQUENCE of two INTEGERs) and ECDSA signatures (the same shape).

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;

/// One tag-length-value: (value, rest). Definite, minimal lengths only.
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if t != tag {
        return None;
    }
    let (len, rest) = match first {
        0..=0x7f => (first as usize, rest),
        0x81 => {
            let (&l, rest) = rest.split_first()?;
            (l >= 0x80).then_some((l as usize, rest))?
        }
        0x82 => {
            let l = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
            (l >= 0x100).then_some((l, &rest[2..]))?
        }
        _ => return None,
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// A non-negative INTEGER's magnitude, big-endian, without sign padding.
fn unsigned(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (v, rest) = tlv(input, INTEGER)?;
    match v {
        [] => None,
        [b, ..] if b & 0x80 != 0 => None,          // negative
        [0, next, ..] if next & 0x80 == 0 => None, // not minimal
        [0, magnitude @ ..] if !magnitude.is_empty() => Some((magnitude, rest)),
        _ => Some((v, rest)),
    }
}

/// `SEQUENCE { INTEGER, INTEGER }` with nothing after it: (first, second).
pub fn integer_pair(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (body, rest) = tlv(input, SEQUENCE)?;
    let (a, body) = unsigned(body)?;
    let (b, body) = unsigned(body)?;
    (body.is_empty() && rest.is_empty()).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_integer_pairs() {
        assert_eq!(
            integer_pair(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x05]),
            Some((&[0x80][..], &[0x05][..]))
        );
        // Long-form length.
        let mut long = vec![0x30, 0x81, 0x86, 0x02, 0x81, 0x80];
        long.extend([0x11; 0x80]);
        long.extend([0x02, 0x01, 0x03]);
        let (a, b) = integer_pair(&long).unwrap();
        assert_eq!((a.len(), b), (0x80, &[3u8][..]));
    }

    #[test]
    fn rejects_malformed_der() {
        for bad in [
            &[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x05][..], // negative
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x05, 0x02, 0x01, 0x05], // padded
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05, 0x00], // trailing
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x02, 0x01],           // short
            &[0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05], // long form < 128
            &[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05],     // SET
            &[0x30, 0x04, 0x02, 0x00, 0x02, 0x00],                 // empty integers
            &[],
        ] {
            assert_eq!(integer_pair(bad), None, "{bad:02x?}");
        }
    }
}
