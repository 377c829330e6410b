//! RSA signature checks (RFC 8017): PKCS #1 v1.5 for certificate chains,
//! PSS with salt length = hash length for TLS 1.3 handshakes.

use super::bignum::{from_be, to_be, Modulus};
use super::{der, Digest};

/// What ring and browsers accept: 2048 to 8192-bit moduli, odd public
/// exponents from 3 up to 33 bits.
const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 8192;

/// `sig^e mod n` as k bytes, for a DER `RSAPublicKey`; `None` for a key out
/// of bounds or a signature that is not a number below n of exactly k bytes.
pub(super) fn recover(public_key: &[u8], sig: &[u8]) -> Option<(Vec<u8>, usize)> {
    let (n, e) = der::integer_pair(public_key)?;
    // Bounds first: setting up a modulus costs time quadratic in its size,
    // and a certificate in a chain being checked may be anyone's.
    if !(MIN_BITS / 8..=MAX_BITS / 8).contains(&n.len()) {
        return None;
    }
    let modulus = Modulus::new(n)?;
    let bits = modulus.bits();
    let e_ok = e.len() <= 5 && e.last()? & 1 == 1 && (e.len() > 1 || e[0] >= 3);
    let e_ok = e_ok && (e.len() < 5 || e[0] == 1);
    if !(MIN_BITS..=MAX_BITS).contains(&bits) || !e_ok {
        return None;
    }
    let k = bits.div_ceil(8);
    if sig.len() != k {
        return None;
    }
    let s = from_be(sig, modulus.limbs())?;
    if !modulus.contains(&s) {
        return None;
    }
    let m = modulus.from_mont(&modulus.pow(&modulus.to_mont(&s), e));
    Some((to_be(&m, k), bits))
}

/// RSASSA-PKCS1-v1_5: the whole encoded message is rebuilt and compared,
/// so there is no padding to parse (and no parsing to get wrong).
pub fn verify_pkcs1(public_key: &[u8], digest: Digest, message: &[u8], sig: &[u8]) -> bool {
    let Some((em, _)) = recover(public_key, sig) else {
        return false;
    };
    let hash = digest.hash(message);
    let prefix = digest.digest_info_prefix();
    let t_len = prefix.len() + hash.len();
    if em.len() < t_len + 11 {
        return false;
    }
    let mut expected = vec![0xff; em.len()];
    expected[0] = 0;
    expected[1] = 1;
    let t = em.len() - t_len;
    expected[t - 1] = 0;
    expected[t..t + prefix.len()].copy_from_slice(prefix);
    expected[t + prefix.len()..].copy_from_slice(&hash);
    em == expected
}

/// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash
/// (RFC 8446 4.2.3; webpki's PSS identifiers say the same).
pub fn verify_pss(public_key: &[u8], digest: Digest, message: &[u8], sig: &[u8]) -> bool {
    let Some((em, bits)) = recover(public_key, sig) else {
        return false;
    };
    let em_bits = bits - 1;
    let em_len = em_bits.div_ceil(8);
    // When bits - 1 is a multiple of 8 the k-byte value has a zero top byte.
    let (top, em) = em.split_at(em.len() - em_len);
    let h_len = digest.output_len();
    if top.iter().any(|&b| b != 0) || em_len < 2 * h_len + 2 || em[em_len - 1] != 0xbc {
        return false;
    }
    let (masked_db, h) = em[..em_len - 1].split_at(em_len - h_len - 1);
    let unused_bits = 8 * em_len - em_bits;
    if (masked_db[0] as u16) >> (8 - unused_bits) != 0 {
        return false;
    }
    let mut db = mgf1(digest, h, masked_db.len());
    for (d, m) in db.iter_mut().zip(masked_db) {
        *d ^= m;
    }
    db[0] &= 0xff >> unused_bits;
    let salt_at = db.len() - h_len;
    if db[..salt_at - 1].iter().any(|&b| b != 0) || db[salt_at - 1] != 1 {
        return false;
    }
    let mut m_prime = vec![0u8; 8];
    m_prime.extend(digest.hash(message));
    m_prime.extend(&db[salt_at..]);
    digest.hash(&m_prime) == h
}

fn mgf1(digest: Digest, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + digest.output_len());
    let mut counter = 0u32;
    while out.len() < len {
        let mut block = seed.to_vec();
        block.extend(counter.to_be_bytes());
        out.extend(digest.hash(&block));
        counter += 1;
    }
    out.truncate(len);
    out
}
