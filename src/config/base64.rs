//! Standard base64 (RFC 4648, alphabet `A-Z a-z 0-9 + /`, `=` padding).
//! Keys are base64 everywhere (config `public_key`, `ipop genkey`/`pubkey`),
//! and a hand-written codec is smaller than a dependency.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes with padding, e.g. `encode(b"ipop") == "aXBvcA=="`.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decodes padded base64. Rejects missing or misplaced padding, characters
/// outside the alphabet, whitespace and non-zero trailing bits, so every
/// byte string has exactly one accepted spelling.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let s = text.as_bytes();
    if s.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let quads = s.len() / 4;
    for (qi, quad) in s.chunks_exact(4).enumerate() {
        let last = qi + 1 == quads;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pad;
        // Bits below the last kept byte must be zero (canonical form).
        if bytes[keep..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, text) in cases {
            assert_eq!(encode(raw), text);
            assert_eq!(decode(text).as_deref(), Some(raw));
        }
    }

    #[test]
    fn all_bytes_round_trip() {
        let data: Vec<u8> = (0..=255u8).collect();
        let text = encode(&data);
        assert_eq!(text.len(), 344);
        assert!(text.starts_with("AAECAwQFBgcICQoL"));
        assert!(text.ends_with("+fr7/P3+/w=="));
        assert_eq!(decode(&text), Some(data));
    }

    #[test]
    fn key_sized() {
        let key = [0xffu8; 32];
        let text = encode(&key);
        assert_eq!(text, "//////////////////////////////////////////8=");
        assert_eq!(decode(&text).map(|v| v.len()), Some(32));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "Zg", "Zg=", "Z===", "Zm9v\n", "Zm 9", "Zm9-", "Zh==", "Zm9=", "Zg==Zg==", "=Zg=",
            "Zm_v",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
