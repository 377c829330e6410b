//! The two IKpsk2 handshake messages, as pure functions over keys and
//! buffers (no peer table, no clock):
//!
//! ```text
//! <- s                       (the initiator knows the responder's static key)
//! -> e, es, s, ss            initiation, payload = 12-byte timestamp
//! <- e, ee, se, psk          response, empty payload
//! ```
//!
//! Each function counts its X25519 operations (scalar multiplications) into
//! `ops`, so tests can bound the work a flood of messages causes. MACs and
//! indices are added around these by the caller (`cookie.rs`, `mod.rs`).

use x25519_dalek::{PublicKey, StaticSecret};

use super::consts::{TAG_LEN, TIMESTAMP_LEN};
use super::error::DropReason;
use super::noise::Symmetric;
use super::wire::{field, put, take};

/// What an initiator keeps between sending an initiation and reading the response.
pub struct InitiatorState {
    pub sym: Symmetric,
    pub ephemeral: StaticSecret,
}

/// A Diffie-Hellman that refuses an all-zero result (a low-order point
/// would make the "secret" public).
pub fn dh(secret: &StaticSecret, public: &[u8; 32], ops: &mut u64) -> Result<[u8; 32], DropReason> {
    *ops += 1;
    let shared = secret.diffie_hellman(&PublicKey::from(*public));
    if shared.was_contributory() {
        Ok(shared.to_bytes())
    } else {
        Err(DropReason::BadKey)
    }
}

/// The public key of `secret` (one base-point multiplication).
pub fn public_of(secret: &StaticSecret, ops: &mut u64) -> [u8; 32] {
    *ops += 1;
    public_key(secret)
}

/// X25519(secret, 9): the public key by the Montgomery ladder that DH uses.
/// `PublicKey::from` would take the Edwards path, which without
/// curve25519-dalek's precomputed tables (left out for size) is ~40x
/// slower at opt-level "z" and adds its own code.
pub fn public_key(secret: &StaticSecret) -> [u8; 32] {
    secret
        .diffie_hellman(&PublicKey::from(x25519_dalek::X25519_BASEPOINT_BYTES))
        .to_bytes()
}

/// The hash state both sides reach after the pre-message `<- s`.
pub fn responder_start(initial: &Symmetric, responder_public: &[u8; 32]) -> Symmetric {
    let mut sym = initial.clone();
    sym.mix_hash(responder_public);
    sym
}

/// Inputs of an initiation that are not secret-derived state.
pub struct InitiationInputs<'a> {
    pub local_public: &'a [u8; 32],
    pub remote_public: &'a [u8; 32],
    /// DH(local static, remote static), computed once per peer.
    pub static_static: &'a [u8; 32],
    pub ephemeral: StaticSecret,
    pub timestamp: &'a [u8; TIMESTAMP_LEN],
}

/// Writes the Noise part of an initiation (ephemeral, sealed static, sealed
/// timestamp) into `msg` (an INITIATION_LEN buffer).
pub fn write_initiation(
    initial: &Symmetric,
    inp: InitiationInputs<'_>,
    msg: &mut [u8],
    ops: &mut u64,
) -> Result<InitiatorState, DropReason> {
    let mut sym = responder_start(initial, inp.remote_public);
    // e: with a PSK in the pattern, the ephemeral is also mixed into the key.
    let e_pub = public_of(&inp.ephemeral, ops);
    sym.mix_hash(&e_pub);
    sym.mix_key(&e_pub);
    put(msg, field::initiation::EPHEMERAL, &e_pub);
    // es
    let es = dh(&inp.ephemeral, inp.remote_public, ops)?;
    let k = sym.mix_key(&es);
    // s
    let mut s = *inp.local_public;
    let tag = sym.encrypt_and_hash(&k, &mut s);
    put(msg, field::initiation::STATIC, &join::<48>(&s, &tag));
    // ss
    let k = sym.mix_key(inp.static_static);
    // payload: the timestamp
    let mut ts = *inp.timestamp;
    let tag = sym.encrypt_and_hash(&k, &mut ts);
    put(msg, field::initiation::TIMESTAMP, &join::<28>(&ts, &tag));
    Ok(InitiatorState {
        sym,
        ephemeral: inp.ephemeral,
    })
}

/// First half of reading an initiation: up to and including the initiator's
/// static key, so the caller can look the peer up (and use its cached
/// static-static DH) before the second half.
pub struct InitiationRead {
    pub sym: Symmetric,
    pub ephemeral: [u8; 32],
    pub static_key: [u8; 32],
}

pub fn read_initiation_static(
    start: &Symmetric,
    local: &StaticSecret,
    msg: &[u8],
    ops: &mut u64,
) -> Result<InitiationRead, DropReason> {
    let mut sym = start.clone();
    let e: [u8; 32] = take(msg, field::initiation::EPHEMERAL);
    sym.mix_hash(&e);
    sym.mix_key(&e);
    let es = dh(local, &e, ops)?;
    let k = sym.mix_key(&es);
    let sealed: [u8; 48] = take(msg, field::initiation::STATIC);
    let (mut s, tag) = split::<32>(&sealed);
    if !sym.decrypt_and_hash(&k, &mut s, &tag) {
        return Err(DropReason::AeadFail);
    }
    Ok(InitiationRead {
        sym,
        ephemeral: e,
        static_key: s,
    })
}

/// Second half: the `ss` token and the timestamp payload.
pub fn read_initiation_timestamp(
    read: &mut InitiationRead,
    static_static: &[u8; 32],
    msg: &[u8],
) -> Result<[u8; TIMESTAMP_LEN], DropReason> {
    let k = read.sym.mix_key(static_static);
    let sealed: [u8; 28] = take(msg, field::initiation::TIMESTAMP);
    let (mut ts, tag) = split::<12>(&sealed);
    if !read.sym.decrypt_and_hash(&k, &mut ts, &tag) {
        return Err(DropReason::AeadFail);
    }
    Ok(ts)
}

/// Session keys from a finished handshake, named from our side.
pub struct SessionKeys {
    pub send: [u8; 32],
    pub recv: [u8; 32],
}

/// Writes the Noise part of a response (ephemeral, sealed empty payload)
/// into `msg` (a RESPONSE_LEN buffer) and returns the responder's keys.
pub fn write_response(
    read: InitiationRead,
    ephemeral: &StaticSecret,
    psk: &[u8; 32],
    msg: &mut [u8],
    ops: &mut u64,
) -> Result<SessionKeys, DropReason> {
    let mut sym = read.sym;
    let e_pub = public_of(ephemeral, ops);
    sym.mix_hash(&e_pub);
    sym.mix_key(&e_pub);
    put(msg, field::response::EPHEMERAL, &e_pub);
    let ee = dh(ephemeral, &read.ephemeral, ops)?;
    sym.mix_key(&ee);
    let se = dh(ephemeral, &read.static_key, ops)?;
    sym.mix_key(&se);
    let k = sym.mix_key_and_hash(psk);
    let tag = sym.encrypt_and_hash(&k, &mut []);
    put(msg, field::response::EMPTY, &tag);
    let (i2r, r2i) = sym.split();
    Ok(SessionKeys {
        send: r2i,
        recv: i2r,
    })
}

/// Reads a response to our initiation and returns the initiator's keys.
pub fn read_response(
    state: &InitiatorState,
    local: &StaticSecret,
    psk: &[u8; 32],
    msg: &[u8],
    ops: &mut u64,
) -> Result<SessionKeys, DropReason> {
    read_response_any(state, local, &[Some((*psk, false))], msg, ops).map(|(k, _)| k)
}

/// Reads a response under the first of `psks` that opens it (the DH work
/// is done once; each further PSK costs two BLAKE2s chains and one AEAD
/// check). Returns the keys and the flag that PSK carries.
pub fn read_response_any(
    state: &InitiatorState,
    local: &StaticSecret,
    psks: &[Option<([u8; 32], bool)>],
    msg: &[u8],
    ops: &mut u64,
) -> Result<(SessionKeys, bool), DropReason> {
    let mut sym = state.sym.clone();
    let e: [u8; 32] = take(msg, field::response::EPHEMERAL);
    sym.mix_hash(&e);
    sym.mix_key(&e);
    let ee = dh(&state.ephemeral, &e, ops)?;
    sym.mix_key(&ee);
    let se = dh(local, &e, ops)?;
    sym.mix_key(&se);
    let tag: [u8; TAG_LEN] = take(msg, field::response::EMPTY);
    for (psk, flag) in psks.iter().flatten() {
        let mut s = sym.clone();
        let k = s.mix_key_and_hash(psk);
        if s.decrypt_and_hash(&k, &mut [], &tag) {
            let (i2r, r2i) = s.split();
            return Ok((
                SessionKeys {
                    send: i2r,
                    recv: r2i,
                },
                *flag,
            ));
        }
    }
    Err(DropReason::AeadFail)
}

fn join<const N: usize>(a: &[u8], b: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    put(&mut out, 0..a.len(), a);
    put(&mut out, a.len()..a.len() + b.len(), b);
    out
}

fn split<const N: usize>(sealed: &[u8]) -> ([u8; N], [u8; TAG_LEN]) {
    (take(sealed, 0..N), take(sealed, N..N + TAG_LEN))
}

/// TAI64N label of `unix_nanos` (12 bytes, big-endian seconds + 2^62 + 10
/// TAI offset, then big-endian nanoseconds), as WireGuard's timestamp.
pub fn tai64n(unix_nanos: u64) -> [u8; TIMESTAMP_LEN] {
    let secs = (1u64 << 62) + 10 + unix_nanos / 1_000_000_000;
    let nanos = (unix_nanos % 1_000_000_000) as u32;
    let mut out = [0u8; TIMESTAMP_LEN];
    out[..8].copy_from_slice(&secs.to_be_bytes());
    out[8..].copy_from_slice(&nanos.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::link::consts::{INITIATION_LEN, RESPONSE_LEN};

    #[test]
    fn tai64n_layout() {
        assert_eq!(
            tai64n(1_500_000_000_123_456_789),
            [0x40, 0, 0, 0, 0x59, 0x68, 0x2f, 0x0a, 0x07, 0x5b, 0xcd, 0x15]
        );
        // Big-endian byte order makes byte-wise comparison follow time.
        assert!(tai64n(5_000_000_001) > tai64n(4_999_999_999));
    }

    #[test]
    fn public_key_is_rfc7748_and_matches_dalek() {
        // RFC 7748 section 6.1, Alice.
        let alice: [u8; 32] = [
            0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2,
            0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5,
            0x1d, 0xb9, 0x2c, 0x2a,
        ];
        let alice_pub: [u8; 32] = [
            0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e,
            0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e,
            0xaa, 0x9b, 0x4e, 0x6a,
        ];
        assert_eq!(public_key(&StaticSecret::from(alice)), alice_pub);
        for i in 0..8u8 {
            let s = StaticSecret::from([i.wrapping_mul(37); 32]);
            assert_eq!(public_key(&s), PublicKey::from(&s).to_bytes());
        }
    }

    #[test]
    fn full_handshake_agrees_on_keys() {
        let init = Symmetric::initial();
        let si = StaticSecret::from([1u8; 32]);
        let sr = StaticSecret::from([2u8; 32]);
        let (pi, pr) = (
            PublicKey::from(&si).to_bytes(),
            PublicKey::from(&sr).to_bytes(),
        );
        let mut ops = 0;
        let ss = dh(&si, &pr, &mut ops).unwrap();
        let mut m1 = [0u8; INITIATION_LEN];
        let st = write_initiation(
            &init,
            InitiationInputs {
                local_public: &pi,
                remote_public: &pr,
                static_static: &ss,
                ephemeral: StaticSecret::from([3u8; 32]),
                timestamp: &tai64n(7),
            },
            &mut m1,
            &mut ops,
        )
        .unwrap();
        assert_eq!(ops, 3);
        let start = responder_start(&init, &pr);
        let mut r = read_initiation_static(&start, &sr, &m1, &mut ops).unwrap();
        assert_eq!(r.static_key, pi);
        let ss_r = dh(&sr, &pi, &mut ops).unwrap();
        assert_eq!(
            read_initiation_timestamp(&mut r, &ss_r, &m1).unwrap(),
            tai64n(7)
        );
        let mut m2 = [0u8; RESPONSE_LEN];
        let rk = write_response(
            r,
            &StaticSecret::from([4u8; 32]),
            &[9; 32],
            &mut m2,
            &mut ops,
        )
        .unwrap();
        let ik = read_response(&st, &si, &[9; 32], &m2, &mut ops).unwrap();
        assert_eq!(ik.send, rk.recv);
        assert_eq!(ik.recv, rk.send);
        assert_ne!(ik.send, ik.recv);
        // A wrong PSK fails at the response's empty payload.
        assert_eq!(
            read_response(&st, &si, &[8; 32], &m2, &mut ops).err(),
            Some(DropReason::AeadFail)
        );
        // A flipped bit in the sealed static fails the first half.
        m1[50] ^= 1;
        assert_eq!(
            read_initiation_static(&start, &sr, &m1, &mut ops).err(),
            Some(DropReason::AeadFail)
        );
    }

    #[test]
    fn low_order_ephemeral_is_refused() {
        let sr = StaticSecret::from([2u8; 32]);
        let start = responder_start(&Symmetric::initial(), &[0; 32]);
        let m1 = [0u8; INITIATION_LEN]; // ephemeral = the all-zero point
        let mut ops = 0;
        assert_eq!(
            read_initiation_static(&start, &sr, &m1, &mut ops).err(),
            Some(DropReason::BadKey)
        );
        assert_eq!(ops, 1);
    }
}
