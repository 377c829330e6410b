//! The Noise primitives for `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s`: BLAKE2s
//! hashing, HMAC-BLAKE2s, the HKDF chain, ChaCha20-Poly1305 with the Noise
//! nonce layout, keyed BLAKE2s-128 for mac1/mac2/cookies, and a constant-time
//! compare. Everything works on fixed arrays; nothing allocates.

use blake2::digest::typenum::U16;
use blake2::digest::{Digest, Mac as _};
use blake2::{Blake2s256, Blake2sMac};
use ipop_fastpath::ChaChaPoly;

use super::consts::{CONSTRUCTION, IDENTIFIER, KEY_LEN, MAC_LEN, TAG_LEN};

/// BLAKE2s block size, for HMAC.
const BLOCK_LEN: usize = 64;

/// BLAKE2s-256 of the concatenation of `parts`.
pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-BLAKE2s (RFC 2104) of the concatenation of `parts`. Noise's HKDF uses
/// HMAC, not BLAKE2s's native keying, so snow and we agree.
pub fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut ipad = [0x36u8; BLOCK_LEN];
    let mut opad = [0x5cu8; BLOCK_LEN];
    for (i, k) in key.iter().enumerate() {
        if let (Some(a), Some(b)) = (ipad.get_mut(i), opad.get_mut(i)) {
            *a ^= k;
            *b ^= k;
        }
    }
    let mut inner = Blake2s256::new();
    inner.update(ipad);
    for p in parts {
        inner.update(p);
    }
    let inner: [u8; 32] = inner.finalize().into();
    let mut outer = Blake2s256::new();
    outer.update(opad);
    outer.update(inner);
    outer.finalize().into()
}

/// Noise HKDF with two outputs.
pub fn kdf2(ck: &[u8; 32], ikm: &[u8]) -> ([u8; 32], [u8; 32]) {
    let prk = hmac(ck, &[ikm]);
    let t1 = hmac(&prk, &[&[1]]);
    let t2 = hmac(&prk, &[&t1, &[2]]);
    (t1, t2)
}

/// Noise HKDF with three outputs.
pub fn kdf3(ck: &[u8; 32], ikm: &[u8]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let prk = hmac(ck, &[ikm]);
    let t1 = hmac(&prk, &[&[1]]);
    let t2 = hmac(&prk, &[&t1, &[2]]);
    let t3 = hmac(&prk, &[&t2, &[3]]);
    (t1, t2, t3)
}

/// Keyed BLAKE2s with a 16-byte output (RFC 7693 keyed mode): mac1, mac2 and
/// cookies. `key` is 16 (cookie) or 32 bytes.
pub fn mac(key: &[u8], msg: &[u8]) -> [u8; MAC_LEN] {
    match <Blake2sMac<U16> as blake2::digest::KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.finalize().into_bytes().into()
        }
        // Key lengths are fixed by the callers (16 or 32), never input.
        Err(_) => [0; MAC_LEN],
    }
}

/// Constant-time equality: the time taken does not depend on where the
/// first difference lies, so a forger learns nothing byte by byte.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}

/// The 96-bit Noise nonce for counter `n`: four zero bytes then `n` little-endian.
pub fn nonce(n: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[4..].copy_from_slice(&n.to_le_bytes());
    out
}

/// Seals `buf` in place under `key` with nonce `n` and associated data `ad`.
pub fn seal(key: &ChaChaPoly, n: u64, ad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    // Only fails for inputs over 256 GiB.
    key.seal(&nonce(n), ad, buf).unwrap_or([0; TAG_LEN])
}

/// Opens `buf` in place; false (and `buf` unchanged) when the tag is wrong.
pub fn open(key: &ChaChaPoly, n: u64, ad: &[u8], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
    key.open(&nonce(n), ad, buf, tag)
}

pub fn cipher(key: &[u8; KEY_LEN]) -> ChaChaPoly {
    ChaChaPoly::new(key)
}

/// XChaCha20-Poly1305 seal for the cookie reply (random 24-byte nonce).
pub fn xseal(key: &[u8; 32], nonce: &[u8; 24], ad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    ipop_fastpath::xseal(key, nonce, ad, buf).unwrap_or([0; TAG_LEN])
}

pub fn xopen(
    key: &[u8; 32],
    nonce: &[u8; 24],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> bool {
    ipop_fastpath::xopen(key, nonce, ad, buf, tag)
}

/// The Noise symmetric state: chaining key and handshake hash.
#[derive(Clone)]
pub struct Symmetric {
    pub ck: [u8; 32],
    pub h: [u8; 32],
}

impl Symmetric {
    /// InitializeSymmetric(CONSTRUCTION) then MixHash(IDENTIFIER): the state
    /// every handshake starts from (the same for all peers).
    pub fn initial() -> Symmetric {
        // The name is longer than 32 bytes, so Noise hashes it.
        let ck = hash(&[CONSTRUCTION]);
        let h = hash(&[&ck, IDENTIFIER]);
        Symmetric { ck, h }
    }

    pub fn mix_hash(&mut self, data: &[u8]) {
        self.h = hash(&[&self.h, data]);
    }

    /// MixKey: returns the new cipher key.
    pub fn mix_key(&mut self, ikm: &[u8]) -> [u8; 32] {
        let (ck, k) = kdf2(&self.ck, ikm);
        self.ck = ck;
        k
    }

    /// MixKeyAndHash (the `psk` token): returns the new cipher key.
    pub fn mix_key_and_hash(&mut self, ikm: &[u8]) -> [u8; 32] {
        let (ck, th, k) = kdf3(&self.ck, ikm);
        self.ck = ck;
        self.mix_hash(&th);
        k
    }

    /// EncryptAndHash with a fresh key (nonce 0): `buf` holds the plaintext
    /// and gets the ciphertext; the tag is returned.
    pub fn encrypt_and_hash(&mut self, key: &[u8; 32], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = seal(&cipher(key), 0, &self.h, buf);
        self.h = hash(&[&self.h, buf, &tag]);
        tag
    }

    /// DecryptAndHash with a fresh key (nonce 0), in place.
    pub fn decrypt_and_hash(
        &mut self,
        key: &[u8; 32],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool {
        let next_h = hash(&[&self.h, buf, tag]);
        if !open(&cipher(key), 0, &self.h, buf, tag) {
            return false;
        }
        self.h = next_h;
        true
    }

    /// Split: (initiator-to-responder key, responder-to-initiator key).
    pub fn split(&self) -> ([u8; 32], [u8; 32]) {
        kdf2(&self.ck, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn blake2s_known_answer() {
        // RFC 7693 appendix B: BLAKE2s-256("abc").
        assert_eq!(
            hex(&hash(&[b"a", b"bc"])),
            "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
        );
    }

    #[test]
    fn keyed_mac_matches_python_hashlib() {
        // hashlib.blake2s(b"abc", key=b"k", digest_size=16).hexdigest()
        assert_eq!(hex(&mac(b"k", b"abc")), "f335237426ff5582d0c607ef240684b5");
    }

    #[test]
    fn hmac_matches_python_hmac_module() {
        // hmac.new(bytes(range(32)), b"hello", hashlib.blake2s).hexdigest()
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            hex(&hmac(&key, &[b"hel", b"lo"])),
            "ca3386d2021b8c299b42476827e7e729b48255da7aee060261072790ea0fc3fa"
        );
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abcd", b"abcd"));
        assert!(!ct_eq(b"abcd", b"abce"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// Bytes from a fixed xorshift stream: test inputs that differ per call.
    fn filler(seed: &mut u64, out: &mut [u8]) {
        for b in out {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *b = (*seed >> 24) as u8;
        }
    }

    #[test]
    fn aead_rfc8439_2_8_2() {
        let key: [u8; 32] = core::array::from_fn(|i| 0x80 + i as u8);
        let nonce: [u8; 12] = unhex("070000004041424344454647").try_into().unwrap();
        let aad = unhex("50515253c0c1c2c3c4c5c6c7");
        let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let c = ChaChaPoly::new(&key);
        let mut buf = plain.to_vec();
        let tag = c.seal(&nonce, &aad, &mut buf).unwrap();
        assert_eq!(hex(&tag), "1ae10b594f09e26a7e902ecbd0600691");
        assert_eq!(hex(&buf[..16]), "d31a8d34648e60db7b86afbc53ef7ec2");
        assert!(c.open(&nonce, &aad, &mut buf, &tag));
        assert_eq!(&buf[..], &plain[..]);
    }

    #[test]
    fn aead_matches_chacha20poly1305_crate() {
        use chacha20poly1305::aead::{AeadInPlace, KeyInit as _};
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let mut lens: Vec<usize> = (0..=300).collect();
        lens.extend([511, 512, 513, 1279, 1280, 1281, 1500, 4096, 9001]);
        for (i, &len) in lens.iter().enumerate() {
            let mut key = [0u8; 32];
            let mut nonce = [0u8; 12];
            let mut aad = vec![0u8; [0, 1, 13, 16, 17, 32][i % 6]];
            let mut plain = vec![0u8; len];
            for b in [&mut key[..], &mut nonce, &mut aad, &mut plain] {
                filler(&mut seed, b);
            }
            let reference = chacha20poly1305::ChaCha20Poly1305::new(&key.into());
            let mut want = plain.clone();
            let want_tag = reference
                .encrypt_in_place_detached(&nonce.into(), &aad, &mut want)
                .unwrap();
            let ours = ChaChaPoly::new(&key);
            let mut got = plain.clone();
            let tag = ours.seal(&nonce, &aad, &mut got).unwrap();
            assert_eq!(got, want, "ciphertext, length {len}");
            assert_eq!(&tag[..], &want_tag[..], "tag, length {len}");
            let mut bad = tag;
            bad[i % 16] ^= 1 << (i % 8);
            let mut copy = got.clone();
            assert!(
                !ours.open(&nonce, &aad, &mut copy, &bad),
                "forged tag, length {len}"
            );
            assert_eq!(copy, got, "a refused message is left as it was");
            assert!(ours.open(&nonce, &aad, &mut copy, &tag));
            assert_eq!(copy, plain, "length {len}");
        }
    }

    #[test]
    fn xchacha_matches_crate() {
        use chacha20poly1305::aead::{AeadInPlace, KeyInit as _};
        let mut seed = 7;
        let (mut key, mut nonce, mut plain) = ([0u8; 32], [0u8; 24], [0u8; 40]);
        filler(&mut seed, &mut key);
        filler(&mut seed, &mut nonce);
        filler(&mut seed, &mut plain);
        let reference = chacha20poly1305::XChaCha20Poly1305::new(&key.into());
        let mut want = plain;
        let want_tag = reference
            .encrypt_in_place_detached(&nonce.into(), b"ad", &mut want)
            .unwrap();
        let mut got = plain;
        let tag = xseal(&key, &nonce, b"ad", &mut got);
        assert_eq!((got, &tag[..]), (want, &want_tag[..]));
        assert!(xopen(&key, &nonce, b"ad", &mut got, &tag));
        assert_eq!(got, plain);
    }

    #[test]
    fn poly1305_reduction_edges() {
        // r = 2, s = 0 (RFC 8439 A.3 #5 and #9 and, with s = 2^128 - 1, #6).
        let mut key = [0u8; 32];
        key[0] = 2;
        // (2^129 - 1)·2 = 2^130 - 2 >= p: reduced to 3.
        let t = ipop_fastpath::poly1305_padded(&key, &[&[0xff; 16]]);
        assert_eq!(hex(&t), "03000000000000000000000000000000");
        // (2^129 - 3)·2 = 2^130 - 6 < p: left alone, 2^128 - 6 mod 2^128.
        let mut m = [0xff; 16];
        m[0] = 0xfd;
        let t = ipop_fastpath::poly1305_padded(&key, &[&m]);
        assert_eq!(hex(&t), "faffffffffffffffffffffffffffffff");
        // (2^128 + 2)·2 + (2^128 - 1) mod 2^128 = 3.
        key[16..].fill(0xff);
        let mut m = [0u8; 16];
        m[0] = 2;
        let t = ipop_fastpath::poly1305_padded(&key, &[&m]);
        assert_eq!(hex(&t), "03000000000000000000000000000000");
    }

    #[test]
    fn poly1305_matches_crate() {
        use poly1305::universal_hash::KeyInit as _;
        let mut seed = 99;
        for i in 0..200 {
            let mut key = [0u8; 32];
            filler(&mut seed, &mut key);
            // Largest clamped r and all-ones messages: the accumulator's
            // limbs at their bounds.
            if i % 4 == 0 {
                key[..16].fill(0xff);
            }
            let mut msg = vec![0u8; 16 * (i % 70)];
            if i % 3 == 0 {
                msg.fill(0xff);
            } else {
                filler(&mut seed, &mut msg);
            }
            let want = poly1305::Poly1305::new(&key.into()).compute_unpadded(&msg);
            let got = ipop_fastpath::poly1305_padded(&key, &[&msg]);
            assert_eq!(&got[..], &want[..], "case {i}");
        }
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let c = cipher(&[9; 32]);
        let mut buf = *b"hello world";
        let tag = seal(&c, 7, b"ad", &mut buf);
        assert_ne!(&buf, b"hello world");
        let mut copy = buf;
        assert!(open(&c, 7, b"ad", &mut copy, &tag));
        assert_eq!(&copy, b"hello world");
        let mut copy = buf;
        assert!(!open(&c, 8, b"ad", &mut copy, &tag));
        let mut copy = buf;
        assert!(!open(&c, 7, b"ax", &mut copy, &tag));
    }
}
