//! Ed25519 (RFC 8032) for membership statements: strict verification, and
//! signing for `ipop member revoke`.
//!
//! The group arithmetic is curve25519-dalek's (already in the binary for
//! X25519): point decompression, the small-order check, the basepoint
//! multiplication and the variable-time double-scalar multiplication. The
//! scalar arithmetic mod the group order l is done here with `bignum`
//! (already in the binary for RSA and ECDSA) instead of dalek's unrolled
//! 29-bit scalar code, which cost 33 kB on mipsel (with ed25519-dalek the
//! router binary grew 80 kB, over its 1.2 MB budget). Only public inputs
//! reach the verifier; the signer runs once per command on the operator's
//! key, so variable time is acceptable there too (no network peer can time
//! it).
//!
//! Verification is strict like ed25519-dalek's `verify_strict`: A and R
//! must decompress and not be of small order, S must be canonical (< l),
//! and [S]B - [k]A must encode to exactly the bytes of R.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};

use super::bignum::{self, Modulus};

/// The group order l = 2^252 + 27742317777372353535851937790883648493,
/// big-endian (RFC 8032, section 5.1).
const L_BE: [u8; 32] = [
    0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14, 0xde, 0xf9, 0xde, 0xa2, 0xf7, 0x9c,
    0xd6, 0x58, 0x12, 0x63, 0x1a, 0x5c, 0xf5, 0xd3, 0xed,
];

fn order() -> Option<Modulus> {
    Modulus::new(&L_BE)
}

/// A little-endian number of any length as 8 limbs mod l (bit by bit:
/// tiny code, and at most 512 bits per call).
fn reduce(m: &Modulus, le: &[u8]) -> bignum::Limbs {
    let mut one = vec![0u32; m.limbs()];
    if let Some(x) = one.first_mut() {
        *x = 1;
    }
    let mut acc = vec![0u32; m.limbs()];
    for byte in le.iter().rev() {
        for bit in (0..8).rev() {
            acc = m.add(&acc, &acc);
            if byte >> bit & 1 == 1 {
                acc = m.add(&acc, &one);
            }
        }
    }
    acc
}

fn to_le32(a: &[u32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(bignum::to_be(a, 32).iter().rev()) {
        *o = *b;
    }
    out
}

fn limbs_le(le: &[u8; 32]) -> Option<bignum::Limbs> {
    let be: Vec<u8> = le.iter().rev().copied().collect();
    bignum::from_be(&be, 8)
}

/// A reduced scalar (< l) for dalek's point multiplications. `from_bits`
/// only skips dalek's own reduction; its output is never used in
/// scalar-scalar arithmetic (which is what the deprecation warns about).
#[allow(deprecated)]
fn point_scalar(reduced_le: [u8; 32]) -> Scalar {
    Scalar::from_bits(reduced_le)
}

fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The public key of a 32-byte seed (RFC 8032, 5.1.5).
pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    let h = sha512(&[seed]);
    let mut a = [0u8; 32];
    a.copy_from_slice(h.get(..32).unwrap_or(&[0; 32]));
    EdwardsPoint::mul_base_clamped(a).compress().to_bytes()
}

/// Signs `msg` with a 32-byte seed (RFC 8032, 5.1.6). Deterministic.
pub fn sign(seed: &[u8; 32], msg: &[u8]) -> [u8; 64] {
    let Some(m) = order() else {
        return [0; 64];
    };
    let h = sha512(&[seed]);
    let (lo, hi) = h.split_at(32);
    let mut a = [0u8; 32];
    a.copy_from_slice(lo);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let public = EdwardsPoint::mul_base_clamped(a).compress().to_bytes();
    let r = reduce(&m, &sha512(&[hi, msg]));
    let big_r = EdwardsPoint::mul_base(&point_scalar(to_le32(&r)))
        .compress()
        .to_bytes();
    let k = reduce(&m, &sha512(&[&big_r, &public, msg]));
    let a = reduce(&m, &a);
    // S = r + k * a mod l; mul(k·R, a) = k·a in plain form.
    let s = m.add(&r, &m.mul(&m.to_mont(&k), &a));
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(&to_le32(&s));
    sig
}

/// Strict verification of `sig` on `msg` under `public`. Never panics.
pub fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Some(m) = order() else {
        return false;
    };
    let (r_bytes, s_bytes) = sig.split_at(32);
    let (Ok(r_bytes), Ok(s_bytes)) = (<[u8; 32]>::try_from(r_bytes), <[u8; 32]>::try_from(s_bytes))
    else {
        return false;
    };
    let Some(a) = CompressedEdwardsY(*public).decompress() else {
        return false;
    };
    let Some(r) = CompressedEdwardsY(r_bytes).decompress() else {
        return false;
    };
    if a.is_small_order() || r.is_small_order() {
        return false;
    }
    match limbs_le(&s_bytes) {
        Some(s) if m.contains(&s) => {}
        _ => return false,
    }
    let k = to_le32(&reduce(&m, &sha512(&[&r_bytes, public, msg])));
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(
        &point_scalar(k),
        &(-a),
        &point_scalar(s_bytes),
    );
    check.compress().to_bytes() == r_bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 section 7.1, TEST 1, 2 and 3.
    const RFC8032: [(&str, &str, &str, &str); 3] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];

    #[test]
    fn rfc8032_vectors() {
        for (sk, pk, msg, sig) in RFC8032 {
            let seed: [u8; 32] = hex(sk).try_into().unwrap();
            let public: [u8; 32] = hex(pk).try_into().unwrap();
            let sig: [u8; 64] = hex(sig).try_into().unwrap();
            let msg = hex(msg);
            assert_eq!(public_key(&seed), public);
            assert_eq!(sign(&seed, &msg), sig);
            assert!(verify(&public, &msg, &sig));
            let mut bad = sig;
            bad[63] ^= 0x01;
            assert!(!verify(&public, &msg, &bad));
            assert!(!verify(&public, b"other", &sig));
        }
    }

    #[test]
    fn strict_rules() {
        let seed = [3u8; 32];
        let public = public_key(&seed);
        let sig = sign(&seed, b"m");
        assert!(verify(&public, b"m", &sig));
        // S + l: the same point equation, a non-canonical S: refused.
        let m = order().unwrap();
        let s = limbs_le(&sig[32..].try_into().unwrap()).unwrap();
        let l = bignum::from_be(&L_BE, 8).unwrap();
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        let (s_le, l_le) = (to_le32(&s), to_le32(&l));
        for i in 0..32 {
            let v = u16::from(s_le[i]) + u16::from(l_le[i]) + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        assert!(!m.contains(&limbs_le(&sum).unwrap()));
        let mut high = sig;
        high[32..].copy_from_slice(&sum);
        assert!(!verify(&public, b"m", &high));
        // Small-order public key (the identity) and R.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(!verify(&identity, b"m", &sig));
        let mut small_r = sig;
        small_r[..32].copy_from_slice(&identity);
        assert!(!verify(&public, b"m", &small_r));
        // Not a point at all.
        assert!(!verify(&[0xff; 32], b"m", &sig));
    }

    #[test]
    fn reduce_matches_known_values() {
        let m = order().unwrap();
        // l itself reduces to 0, l + 5 to 5, 2^512 - 1 to a value below l.
        let l_le: Vec<u8> = L_BE.iter().rev().copied().collect();
        assert!(bignum::is_zero(&reduce(&m, &l_le)));
        let mut l5 = l_le.clone();
        l5[0] += 5;
        assert_eq!(reduce(&m, &l5)[0], 5);
        assert!(m.contains(&reduce(&m, &[0xff; 64])));
    }
}
