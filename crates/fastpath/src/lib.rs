//! ipop's per-packet crypto: ChaCha20-Poly1305 (RFC 8439) sealing and
//! opening in place, and XChaCha20-Poly1305 for cookie replies. No heap, no
//! `unsafe`, no I/O.
//!
//! Why a crate of its own: Cargo sets the opt-level per crate, and generic
//! code is compiled in the crate that instantiates it. The `chacha20`
//! crate's rounds (its AVX2, SSE2, NEON and portable backends) are generic
//! over the round count, so with `chacha20poly1305` called from ipop they
//! were compiled at ipop's size-first opt-level "z" even though
//! `chacha20` itself had opt-level 3: 75,000 instructions per 1280-byte
//! frame sealed and opened instead of 10,000 (docs/BENCHMARKS.md,
//! Instructions per frame). Every instantiation now happens here, and
//! Cargo.toml gives this crate opt-level 3 in the router build.
//!
//! Poly1305 on 64-bit CPUs is computed here with 64-bit limbs (below): the
//! `poly1305` crate's run-time AVX2 dispatch calls its vector helpers as
//! out-of-line functions and costs twice the instructions of this scalar
//! code, and it has no NEON path for aarch64. 32-bit CPUs keep the crate's
//! 26-bit-limb code.
//!
//! Tested from ipop (src/core/link/noise.rs): RFC 8439's vectors, and the
//! chacha20poly1305 and poly1305 crates' results for many lengths, keys
//! and the reduction's edge cases.
#![no_std]
#![forbid(unsafe_code)]

use chacha20::cipher::consts::U10;
use chacha20::cipher::generic_array::GenericArray;
use chacha20::cipher::{KeyIvInit, StreamCipherCore};
use chacha20::ChaChaCore;

/// ChaCha20: 10 double rounds.
type Core = ChaChaCore<U10>;
/// Keystream blocks made per call: what the AVX2 backend does at once.
const PAR: usize = 4;
/// The longest message the 32-bit block counter covers after block 0.
const MAX_LEN: u64 = (u32::MAX as u64) * 64;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const XNONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;

/// The message is longer than ChaCha20's 32-bit block counter can cover
/// (256 GiB): never a network packet.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLong;

/// A ChaCha20-Poly1305 key (RFC 8439 section 2.8).
#[derive(Clone)]
pub struct ChaChaPoly {
    key: [u8; KEY_LEN],
}

impl ChaChaPoly {
    pub fn new(key: &[u8; KEY_LEN]) -> ChaChaPoly {
        ChaChaPoly { key: *key }
    }

    /// Encrypts `buf` in place with associated data `aad`; returns the tag.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], TooLong> {
        if buf.len() as u64 > MAX_LEN {
            return Err(TooLong);
        }
        let (mut core, mac_key) = start(&self.key, nonce);
        xor_keystream(&mut core, buf);
        Ok(tag(&mac_key, aad, buf))
    }

    /// Checks `tag` over the ciphertext `buf` and `aad`, then decrypts `buf`
    /// in place. False (and `buf` untouched) when the tag is wrong.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag_in: &[u8; TAG_LEN],
    ) -> bool {
        if buf.len() as u64 > MAX_LEN {
            return false;
        }
        let (mut core, mac_key) = start(&self.key, nonce);
        if !ct_eq(&tag(&mac_key, aad, buf), tag_in) {
            return false;
        }
        xor_keystream(&mut core, buf);
        true
    }
}

/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): HChaCha20 derives a subkey
/// from the key and the first 16 nonce bytes; the last 8 make the nonce.
pub fn xseal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], TooLong> {
    let (sub, n) = xsubkey(key, nonce);
    sub.seal(&n, aad, buf)
}

/// Opens an XChaCha20-Poly1305 message in place (see [`xseal`]).
pub fn xopen(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag_in: &[u8; TAG_LEN],
) -> bool {
    let (sub, n) = xsubkey(key, nonce);
    sub.open(&n, aad, buf, tag_in)
}

fn xsubkey(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN]) -> (ChaChaPoly, [u8; NONCE_LEN]) {
    let mut head = [0u8; 16];
    head.copy_from_slice(&nonce[..16]);
    let sub = chacha20::hchacha::<U10>(&(*key).into(), &head.into());
    let mut n = [0u8; NONCE_LEN];
    n[4..].copy_from_slice(&nonce[16..]);
    (ChaChaPoly { key: sub.into() }, n)
}

/// The cipher positioned at block 1, and the one-time Poly1305 key (the
/// first 32 bytes of block 0).
fn start(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN]) -> (Core, [u8; 32]) {
    let mut core = Core::new(&(*key).into(), &(*nonce).into());
    let mut block0 = [GenericArray::default()];
    core.write_keystream_blocks(&mut block0);
    let mut mac_key = [0u8; 32];
    mac_key.copy_from_slice(&block0[0][..32]);
    (core, mac_key)
}

/// XORs the keystream into `buf`, 8 bytes at a time. The `cipher` crate's
/// own XOR goes byte by byte and relies on the vectoriser, which the
/// router build's link-time pass (opt-level "z" for the whole program)
/// does not run: that loop cost more than the ChaCha20 rounds.
fn xor_keystream(core: &mut Core, buf: &mut [u8]) {
    let mut ks = [GenericArray::default(); PAR];
    for chunk in buf.chunks_mut(64 * PAR) {
        let blocks = chunk.len().div_ceil(64);
        if let Some(ks) = ks.get_mut(..blocks) {
            core.write_keystream_blocks(ks);
        }
        for (data, block) in chunk.chunks_mut(64).zip(&ks) {
            xor_into(data, block.as_ref());
        }
    }
}

fn xor_into(data: &mut [u8], ks: &[u8; 64]) {
    fn xor_word(d: &mut [u8], k: &[u8]) {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(d);
        b.copy_from_slice(k);
        d.copy_from_slice(&(u64::from_ne_bytes(a) ^ u64::from_ne_bytes(b)).to_ne_bytes());
    }
    if let Ok(block) = <&mut [u8; 64]>::try_from(&mut *data) {
        // A fixed trip count: unrolled (and paired into SIMD registers at
        // opt-level 3) before link time.
        for j in 0..8 {
            xor_word(&mut block[8 * j..8 * j + 8], &ks[8 * j..8 * j + 8]);
        }
        return;
    }
    // The last block of a message: whole words, then the bytes left.
    let words = data.len() / 8 * 8;
    let (head, tail) = data.split_at_mut(words);
    for (d, k) in head.chunks_exact_mut(8).zip(ks.chunks_exact(8)) {
        xor_word(d, k);
    }
    for (d, k) in tail.iter_mut().zip(ks.get(words..).unwrap_or(&[])) {
        *d ^= k;
    }
}

/// Poly1305 of `parts`, each zero-padded to 16 bytes: the AEAD's MAC
/// (public for ipop's tests, which check it against the poly1305 crate).
pub fn poly1305_padded(key: &[u8; 32], parts: &[&[u8]]) -> [u8; TAG_LEN] {
    poly::mac(key, parts)
}

/// Poly1305 over aad | pad16 | ciphertext | pad16 | le64(aad) | le64(ct).
fn tag(mac_key: &[u8; 32], aad: &[u8], ct: &[u8]) -> [u8; TAG_LEN] {
    let mut lens = [0u8; 16];
    lens[..8].copy_from_slice(&(aad.len() as u64).to_le_bytes());
    lens[8..].copy_from_slice(&(ct.len() as u64).to_le_bytes());
    poly::mac(mac_key, &[aad, ct, &lens])
}

/// Constant-time equality of two tags.
fn ct_eq(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}

#[cfg(target_pointer_width = "64")]
mod poly {
    //! Poly1305 (RFC 8439 section 2.5) with the accumulator in three 64-bit
    //! limbs, h = h0 + h1·2^64 + h2·2^128, and r in two. Each part of `parts`
    //! is taken as 16-byte blocks with the last one zero-padded (all the
    //! AEAD needs), so every block carries the 2^128 bit.
    //!
    //! Product mod p = 2^130 - 5: r1 is a multiple of 4 (clamping), so
    //! h1·r1·2^128 = h1·(r1/4)·2^130 ≡ h1·s1 with s1 = 5·(r1/4) = r1 + r1/4,
    //! and h2·r1·2^192 ≡ h2·s1·2^64. Bounds: r0, r1 < 2^60, s1 < 2^61 and
    //! h2 <= 6 before a multiplication, so no product or sum overflows.

    fn le64(b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        u64::from_le_bytes(a)
    }

    pub fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 16] {
        let r0 = le64(&key[0..]) & 0x0fff_fffc_0fff_ffff;
        let r1 = le64(&key[8..]) & 0x0fff_fffc_0fff_fffc;
        let s1 = r1 + (r1 >> 2);
        let (mut h0, mut h1, mut h2) = (0u64, 0u64, 0u64);
        let mut block = |m: &[u8]| {
            // h += m + 2^128
            let t = h0 as u128 + le64(m) as u128;
            let a0 = t as u64;
            let t = h1 as u128 + le64(&m[8..]) as u128 + (t >> 64);
            let a1 = t as u64;
            let a2 = h2 + (t >> 64) as u64 + 1;
            // h *= r, partially reduced
            let d0 = a0 as u128 * r0 as u128 + a1 as u128 * s1 as u128;
            let d1 = a0 as u128 * r1 as u128 + a1 as u128 * r0 as u128 + (a2 * s1) as u128;
            let d2 = a2 * r0;
            let d1 = d1 + (d0 >> 64);
            let top = d2 + (d1 >> 64) as u64;
            // top·2^128 = (top & 3)·2^128 + (top >> 2)·2^130 ≡ ... + 5·(top >> 2)
            let t = (d0 as u64) as u128 + ((top >> 2) * 5) as u128;
            h0 = t as u64;
            let t = (d1 as u64) as u128 + (t >> 64);
            h1 = t as u64;
            h2 = (top & 3) + (t >> 64) as u64;
        };
        for part in parts {
            let mut blocks = part.chunks_exact(16);
            for m in &mut blocks {
                block(m);
            }
            let rest = blocks.remainder();
            if !rest.is_empty() {
                let mut m = [0u8; 16];
                m[..rest.len()].copy_from_slice(rest);
                block(&m);
            }
        }
        // h < 5·2^128 < 2p: one conditional subtraction of p reduces it.
        // g = h + 5; h >= p exactly when g >= 2^130, and then h - p is g's
        // low 130 bits. Selected with a mask, not a branch.
        let t = h0 as u128 + 5;
        let g0 = t as u64;
        let t = h1 as u128 + (t >> 64);
        let g1 = t as u64;
        let g2 = h2 + (t >> 64) as u64;
        let take_g = 0u64.wrapping_sub(g2 >> 2);
        let f0 = (h0 & !take_g) | (g0 & take_g);
        let f1 = (h1 & !take_g) | (g1 & take_g);
        // tag = (h + s) mod 2^128
        let t = f0 as u128 + le64(&key[16..]) as u128;
        let t1 = f1 as u128 + le64(&key[24..]) as u128 + (t >> 64);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&(t as u64).to_le_bytes());
        out[8..].copy_from_slice(&(t1 as u64).to_le_bytes());
        out
    }
}

#[cfg(not(target_pointer_width = "64"))]
mod poly {
    use poly1305::universal_hash::{KeyInit, UniversalHash};

    pub fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 16] {
        let mut p = poly1305::Poly1305::new(key.into());
        for part in parts {
            p.update_padded(part);
        }
        p.finalize().into()
    }
}
