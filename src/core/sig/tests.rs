//! Signatures made by OpenSSL 3 (testdata/, see testdata/README) checked
//! here, and the same signatures broken in each way a check must notice.

use super::ecdsa::{self, P256, P384};
use super::rsa::{verify_pkcs1, verify_pss};
use super::Digest::{self, Sha256, Sha384, Sha512};

const MSG: &[u8] = include_bytes!("testdata/msg");
const RSA2048: &[u8] = include_bytes!("testdata/rsa2048.pub");
const RSA2056: &[u8] = include_bytes!("testdata/rsa2056.pub");
const P256_KEY: &[u8] = include_bytes!("testdata/p256.pub");
const P384_KEY: &[u8] = include_bytes!("testdata/p384.pub");

type Check = fn(&[u8], Digest, &[u8], &[u8]) -> bool;
/// (name, check, public key, digest, signature of MSG)
type Case = (&'static str, Check, &'static [u8], Digest, &'static [u8]);

fn p256(k: &[u8], d: Digest, m: &[u8], s: &[u8]) -> bool {
    ecdsa::verify(&P256, k, d, m, s)
}

fn p384(k: &[u8], d: Digest, m: &[u8], s: &[u8]) -> bool {
    ecdsa::verify(&P384, k, d, m, s)
}

fn cases() -> Vec<Case> {
    vec![
        (
            "rsa2048 pkcs1 sha256",
            verify_pkcs1,
            RSA2048,
            Sha256,
            include_bytes!("testdata/rsa2048-pkcs1-sha256.sig"),
        ),
        (
            "rsa2048 pss sha256",
            verify_pss,
            RSA2048,
            Sha256,
            include_bytes!("testdata/rsa2048-pss-sha256.sig"),
        ),
        (
            "rsa2048 pss sha384",
            verify_pss,
            RSA2048,
            Sha384,
            include_bytes!("testdata/rsa2048-pss-sha384.sig"),
        ),
        (
            "rsa2056 pkcs1 sha512",
            verify_pkcs1,
            RSA2056,
            Sha512,
            include_bytes!("testdata/rsa2056-pkcs1-sha512.sig"),
        ),
        (
            "rsa2056 pss sha512",
            verify_pss,
            RSA2056,
            Sha512,
            include_bytes!("testdata/rsa2056-pss-sha512.sig"),
        ),
        (
            "p256 sha256",
            p256,
            P256_KEY,
            Sha256,
            include_bytes!("testdata/p256-sha256.sig"),
        ),
        (
            "p256 sha384",
            p256,
            P256_KEY,
            Sha384,
            include_bytes!("testdata/p256-sha384.sig"),
        ),
        (
            "p384 sha256",
            p384,
            P384_KEY,
            Sha256,
            include_bytes!("testdata/p384-sha256.sig"),
        ),
        (
            "p384 sha384",
            p384,
            P384_KEY,
            Sha384,
            include_bytes!("testdata/p384-sha384.sig"),
        ),
    ]
}

#[test]
fn openssl_signatures_verify() {
    for (name, check, key, digest, sig) in cases() {
        assert!(check(key, digest, MSG, sig), "{name}");
    }
}

#[test]
fn any_changed_bit_fails() {
    for (name, check, key, digest, sig) in cases() {
        let mut msg = MSG.to_vec();
        msg[3] ^= 1;
        assert!(!check(key, digest, &msg, sig), "{name}: message");
        let wrong = if digest == Sha256 { Sha384 } else { Sha256 };
        assert!(!check(key, wrong, MSG, sig), "{name}: digest");
        for at in [0, sig.len() / 2, sig.len() - 1] {
            let mut s = sig.to_vec();
            s[at] ^= 0x10;
            assert!(!check(key, digest, MSG, &s), "{name}: signature byte {at}");
        }
        let mut k = key.to_vec();
        let last = k.len() - 1;
        k[last] ^= 0x02;
        assert!(!check(&k, digest, MSG, sig), "{name}: key");
        assert!(
            !check(key, digest, MSG, &sig[..sig.len() - 1]),
            "{name}: short"
        );
        assert!(!check(key, digest, MSG, &[]), "{name}: empty");
    }
}

#[test]
fn pss_wants_salt_as_long_as_the_hash() {
    let salt20 = include_bytes!("testdata/rsa2048-pss-sha256-salt20.sig");
    assert!(!verify_pss(RSA2048, Sha256, MSG, salt20));
    // and PKCS #1 and PSS signatures are not each other.
    let pkcs1 = include_bytes!("testdata/rsa2048-pkcs1-sha256.sig");
    assert!(!verify_pss(RSA2048, Sha256, MSG, pkcs1));
    let pss = include_bytes!("testdata/rsa2048-pss-sha256.sig");
    assert!(!verify_pkcs1(RSA2048, Sha256, MSG, pss));
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from raw big-endian magnitudes.
fn ecdsa_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
    let int = |v: &[u8]| {
        let mut v = super::bignum::strip_zeros(v).to_vec();
        if v.is_empty() || v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn ecdsa_rejects_out_of_range_scalars_and_off_curve_keys() {
    let order = ecdsa::hex(P256.n);
    let one = [1u8];
    for (r, s) in [
        (&[0u8][..], &one[..]),
        (&one[..], &[0u8][..]),
        (&order[..], &one[..]),
        (&one[..], &order[..]),
    ] {
        assert!(!p256(P256_KEY, Sha256, MSG, &ecdsa_sig(r, s)));
    }
    // The key with its y changed is not on the curve.
    let mut off = P256_KEY.to_vec();
    off[64] ^= 1;
    let sig = include_bytes!("testdata/p256-sha256.sig");
    assert!(!p256(&off, Sha256, MSG, sig));
    // Compressed points are not accepted.
    let mut compressed = vec![2 + (P256_KEY[64] & 1)];
    compressed.extend(&P256_KEY[1..33]);
    assert!(!p256(&compressed, Sha256, MSG, sig));
    // A P-256 key is not a P-384 key.
    assert!(!p384(P256_KEY, Sha256, MSG, sig));
}

/// DER `RSAPublicKey` for a modulus of `bytes` bytes (all 0xff: odd) and e = 65537.
fn rsa_key_of(bytes: usize) -> Vec<u8> {
    let len = |l: usize| -> Vec<u8> {
        match l {
            0..=0x7f => vec![l as u8],
            0x80..=0xff => vec![0x81, l as u8],
            _ => vec![0x82, (l >> 8) as u8, l as u8],
        }
    };
    let mut n = vec![0x02];
    n.extend(len(bytes + 1));
    n.push(0);
    n.extend(vec![0xff; bytes]);
    n.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
    let mut out = vec![0x30];
    out.extend(len(n.len()));
    out.extend(n);
    out
}

#[test]
fn rsa_keys_out_of_bounds_are_refused() {
    use super::rsa::recover;
    // Too big (8200 bits) and too small (2040 bits): refused before any
    // arithmetic, though the signature length matches the modulus.
    for bytes in [1025, 255] {
        assert_eq!(
            recover(&rsa_key_of(bytes), &vec![1u8; bytes]),
            None,
            "{bytes}"
        );
    }
    // At 2048 bits the same encoding gets through: 1^e mod n = 1.
    let mut one = vec![0u8; 256];
    one[255] = 1;
    assert_eq!(recover(&rsa_key_of(256), &one), Some((one.clone(), 2048)));
    // A 1024-bit key from OpenSSL signs fine but is below the floor.
    let small = include_bytes!("testdata/rsa1024.pub");
    let sig = include_bytes!("testdata/rsa1024-pkcs1-sha256.sig");
    assert!(!verify_pkcs1(small, Sha256, MSG, sig));
}
