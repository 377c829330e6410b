//! Membership statements: a small, versioned list of revoked keys (and
//! optionally the only keys allowed), signed by the group's operator key
//! (Ed25519). Nodes accept one only with a valid signature and a higher
//! serial than the one they hold, then pass it on inside links (payload
//! MEMBERS) and through XMPP, so a revocation issued at any node reaches
//! them all. Layout, signature input and vectors: docs/PROTOCOL.md,
//! "Membership statements".
//!
//! Parsing is total: bad input is a `StatementError`, never a panic. The
//! signature is checked last (after every length and count), strictly
//! (core::sig::ed25519: no small-order keys, no non-canonical S, so a
//! statement has exactly one valid encoding per signature).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use core::fmt;

use crate::core::sig::ed25519;

/// First four bytes of every statement.
pub const MAGIC: [u8; 4] = *b"ipms";
/// Format number in byte 4; others are refused (`UnsupportedFormat`).
pub const FORMAT: u8 = 1;
/// Flag bit: the statement carries an allow-list.
pub const FLAG_ALLOW_LIST: u8 = 0x01;
/// magic(4) format(1) flags(1) serial(8) n_revoked(1) n_allowed(1).
pub const HEADER_LEN: usize = 16;
pub const KEY_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;
/// Most keys (revoked + allowed) one statement may name: it must fit one
/// link payload at the smallest buffers a 1280-byte TAP MTU gives.
pub const MAX_KEYS: usize = 32;
/// The largest statement: 16 + 32 * 32 + 64 = 1104 bytes.
pub const MAX_STATEMENT_LEN: usize = HEADER_LEN + MAX_KEYS * KEY_LEN + SIGNATURE_LEN;
/// Domain separation for the signature: signed = LABEL || body.
pub const SIGNATURE_LABEL: &[u8] = b"ipop membership v1\0";

/// Why a statement was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatementError {
    /// Shorter than its header, or than its counts say.
    Truncated,
    /// Longer than its counts say.
    BadLength,
    /// Over MAX_STATEMENT_LEN bytes.
    TooLarge,
    /// More than MAX_KEYS keys, or allowed keys without the allow-list flag.
    TooManyKeys,
    /// Not "ipms", or an unknown format number or flag bit.
    BadFormat,
    /// The signature does not verify under the operator key.
    BadSignature,
    /// Not newer than the statement in force (a replay or a repeat).
    Stale,
    /// This node has no `operator_key`: it cannot check any statement.
    NoOperatorKey,
}

impl StatementError {
    pub const ALL: [StatementError; 8] = [
        StatementError::Truncated,
        StatementError::BadLength,
        StatementError::TooLarge,
        StatementError::TooManyKeys,
        StatementError::BadFormat,
        StatementError::BadSignature,
        StatementError::Stale,
        StatementError::NoOperatorKey,
    ];
    pub const COUNT: usize = StatementError::ALL.len();

    /// Stable snake_case name for status output.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementError::Truncated => "truncated",
            StatementError::BadLength => "bad_length",
            StatementError::TooLarge => "too_large",
            StatementError::TooManyKeys => "too_many_keys",
            StatementError::BadFormat => "bad_format",
            StatementError::BadSignature => "bad_signature",
            StatementError::Stale => "stale",
            StatementError::NoOperatorKey => "no_operator_key",
        }
    }
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatementError::Truncated => "statement is truncated",
            StatementError::BadLength => "statement is longer than its key counts say",
            StatementError::TooLarge => "statement is over 1104 bytes",
            StatementError::TooManyKeys => "statement names more than 32 keys",
            StatementError::BadFormat => "not a membership statement of format 1",
            StatementError::BadSignature => "signature does not verify under the operator key",
            StatementError::Stale => "statement is not newer than the one in force",
            StatementError::NoOperatorKey => "no operator_key configured",
        })
    }
}

/// A parsed statement (the signature is checked by `verify`, not here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The statement's version: nodes keep the highest they have seen.
    pub serial: u64,
    pub revoked: Vec<[u8; 32]>,
    /// `Some`: only these keys (and the node itself) may link.
    pub allowed: Option<Vec<[u8; 32]>>,
}

impl Statement {
    /// Whether `key` may hold a link under this statement.
    pub fn admits(&self, key: &[u8; 32]) -> bool {
        !self.revoked.contains(key) && self.allowed.as_ref().is_none_or(|a| a.contains(key))
    }

    /// The encoding without the signature (what the signature covers after
    /// SIGNATURE_LABEL). Refuses more than MAX_KEYS keys.
    pub fn body(&self) -> Result<Vec<u8>, StatementError> {
        let n_allowed = self.allowed.as_ref().map_or(0, Vec::len);
        if self.revoked.len() + n_allowed > MAX_KEYS {
            return Err(StatementError::TooManyKeys);
        }
        let mut out = Vec::with_capacity(MAX_STATEMENT_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT);
        out.push(if self.allowed.is_some() {
            FLAG_ALLOW_LIST
        } else {
            0
        });
        out.extend_from_slice(&self.serial.to_be_bytes());
        out.push(self.revoked.len() as u8);
        out.push(n_allowed as u8);
        for k in &self.revoked {
            out.extend_from_slice(k);
        }
        for k in self.allowed.iter().flatten() {
            out.extend_from_slice(k);
        }
        Ok(out)
    }

    /// The signed encoding, with `operator` (an Ed25519 seed) as signer.
    pub fn sign(&self, operator: &[u8; 32]) -> Result<Vec<u8>, StatementError> {
        let mut out = self.body()?;
        let sig = ed25519::sign(operator, &signed_message(&out));
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// The Ed25519 public key of an operator seed (what `operator_key` holds).
pub fn operator_public(seed: &[u8; 32]) -> [u8; 32] {
    ed25519::public_key(seed)
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_LABEL.len() + body.len());
    m.extend_from_slice(SIGNATURE_LABEL);
    m.extend_from_slice(body);
    m
}

/// Checks the layout of `bytes` (sizes, counts, format) and reads it; the
/// signature is not checked (see `verify`). Cheap: no curve arithmetic.
pub fn parse(bytes: &[u8]) -> Result<Statement, StatementError> {
    if bytes.len() > MAX_STATEMENT_LEN {
        return Err(StatementError::TooLarge);
    }
    let header = bytes.get(..HEADER_LEN).ok_or(StatementError::Truncated)?;
    let byte = |i: usize| header.get(i).copied().unwrap_or(0);
    if header.get(..4) != Some(&MAGIC[..]) || byte(4) != FORMAT || byte(5) & !FLAG_ALLOW_LIST != 0 {
        return Err(StatementError::BadFormat);
    }
    let has_allow = byte(5) & FLAG_ALLOW_LIST != 0;
    let mut serial = [0u8; 8];
    serial.copy_from_slice(header.get(6..14).ok_or(StatementError::Truncated)?);
    let (n_revoked, n_allowed) = (usize::from(byte(14)), usize::from(byte(15)));
    if n_revoked + n_allowed > MAX_KEYS || (!has_allow && n_allowed > 0) {
        return Err(StatementError::TooManyKeys);
    }
    let want = HEADER_LEN + (n_revoked + n_allowed) * KEY_LEN + SIGNATURE_LEN;
    if bytes.len() < want {
        return Err(StatementError::Truncated);
    }
    if bytes.len() > want {
        return Err(StatementError::BadLength);
    }
    let keys = bytes
        .get(HEADER_LEN..want - SIGNATURE_LEN)
        .ok_or(StatementError::Truncated)?;
    let mut all = keys.chunks_exact(KEY_LEN).filter_map(|c| c.try_into().ok());
    let revoked: Vec<[u8; 32]> = all.by_ref().take(n_revoked).collect();
    let allowed: Vec<[u8; 32]> = all.collect();
    Ok(Statement {
        serial: u64::from_be_bytes(serial),
        revoked,
        allowed: has_allow.then_some(allowed),
    })
}

/// Parses `bytes` and checks its signature under `operator` (an Ed25519
/// public key). Never panics.
pub fn verify(bytes: &[u8], operator: &[u8; 32]) -> Result<Statement, StatementError> {
    let st = parse(bytes)?;
    let split = bytes
        .len()
        .checked_sub(SIGNATURE_LEN)
        .ok_or(StatementError::Truncated)?;
    let (body, sig) = bytes
        .split_at_checked(split)
        .ok_or(StatementError::Truncated)?;
    let sig: [u8; SIGNATURE_LEN] = sig.try_into().map_err(|_| StatementError::Truncated)?;
    if !ed25519::verify(operator, &signed_message(body), &sig) {
        return Err(StatementError::BadSignature);
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operator seed of the docs/PROTOCOL.md vectors: bytes 0x01..=0x20.
    fn seed() -> [u8; 32] {
        core::array::from_fn(|i| i as u8 + 1)
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn vector_statement() -> Statement {
        Statement {
            serial: 7,
            revoked: vec![[0xaa; 32]],
            allowed: None,
        }
    }

    /// The vectors printed in docs/PROTOCOL.md; the same test reads them
    /// from the document so the two cannot drift apart.
    #[test]
    fn protocol_md_vectors() {
        let public = operator_public(&seed());
        let signed = vector_statement().sign(&seed()).unwrap();
        let doc = include_str!("../../docs/PROTOCOL.md");
        let field = |name: &str| -> String {
            let at = doc
                .find(name)
                .unwrap_or_else(|| panic!("{name} not in PROTOCOL.md"));
            let rest = &doc[at + name.len()..];
            rest.split_whitespace().next().unwrap().to_string()
        };
        assert_eq!(field("statement-vector-operator-public:"), hex(&public));
        assert_eq!(field("statement-vector-signed:"), hex(&signed));
        assert_eq!(signed.len(), 16 + 32 + 64);
        // Ed25519 is deterministic (RFC 8032): the same input, the same bytes.
        assert_eq!(vector_statement().sign(&seed()).unwrap(), signed);
        assert_eq!(verify(&signed, &public), Ok(vector_statement()));
    }

    #[test]
    fn rfc8032_test_1_public_key() {
        // RFC 8032 section 7.1, TEST 1.
        let sk: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        assert_eq!(
            hex(&operator_public(&sk)),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
    }

    #[test]
    fn round_trip_with_allow_list() {
        let st = Statement {
            serial: u64::MAX,
            revoked: vec![[1; 32], [2; 32]],
            allowed: Some(vec![[3; 32]]),
        };
        let signed = st.sign(&seed()).unwrap();
        assert_eq!(signed.len(), 16 + 3 * 32 + 64);
        assert_eq!(signed[5], FLAG_ALLOW_LIST);
        let back = verify(&signed, &operator_public(&seed())).unwrap();
        assert_eq!(back, st);
        assert!(!back.admits(&[1; 32]));
        assert!(back.admits(&[3; 32]));
        assert!(!back.admits(&[4; 32]));
        assert!(vector_statement().admits(&[4; 32]));
    }

    #[test]
    fn forged_statements_are_refused() {
        let public = operator_public(&seed());
        let signed = vector_statement().sign(&seed()).unwrap();
        // Signed by another key.
        let other = vector_statement().sign(&[9; 32]).unwrap();
        assert_eq!(verify(&other, &public), Err(StatementError::BadSignature));
        // Any flipped bit in body or signature.
        for i in [0, 6, 13, 20, signed.len() - 1] {
            let mut m = signed.clone();
            m[i] ^= 0x01;
            let e = verify(&m, &public).unwrap_err();
            let want = if i == 0 {
                StatementError::BadFormat
            } else {
                StatementError::BadSignature
            };
            assert_eq!(e, want, "bit flip at {i}");
        }
        // Truncated anywhere.
        for n in [0, 3, 15, 16, 47, signed.len() - 1] {
            assert_eq!(
                verify(&signed[..n], &public),
                Err(StatementError::Truncated),
                "{n}"
            );
        }
        let mut long = signed.clone();
        long.push(0);
        assert_eq!(verify(&long, &public), Err(StatementError::BadLength));
        // An unusable operator key (not a curve point) verifies nothing.
        let mut bad_key = [0xffu8; 32];
        bad_key[31] = 0x7f;
        assert!(verify(&signed, &bad_key).is_err());
    }

    #[test]
    fn limits_are_enforced() {
        let full = Statement {
            serial: 1,
            revoked: vec![[5; 32]; MAX_KEYS],
            allowed: None,
        };
        let signed = full.sign(&seed()).unwrap();
        assert_eq!(signed.len(), MAX_STATEMENT_LEN);
        assert_eq!(MAX_STATEMENT_LEN, 1104);
        assert!(verify(&signed, &operator_public(&seed())).is_ok());
        let over = Statement {
            serial: 1,
            revoked: vec![[5; 32]; MAX_KEYS + 1],
            allowed: None,
        };
        assert_eq!(over.sign(&seed()), Err(StatementError::TooManyKeys));
        // A header that claims 33 keys, and one over the size limit.
        let mut m = signed.clone();
        m[14] = 33;
        assert_eq!(parse(&m), Err(StatementError::TooManyKeys));
        let mut big = signed.clone();
        big.push(0);
        assert_eq!(parse(&big), Err(StatementError::TooLarge));
        // Allowed keys without the flag, unknown flags and formats.
        let mut m = signed.clone();
        m[15] = 1;
        m[14] = 31;
        assert_eq!(parse(&m), Err(StatementError::TooManyKeys));
        let mut m = signed.clone();
        m[5] = 0x02;
        assert_eq!(parse(&m), Err(StatementError::BadFormat));
        let mut m = signed;
        m[4] = 2;
        assert_eq!(parse(&m), Err(StatementError::BadFormat));
    }

    #[test]
    fn garbage_never_panics() {
        let public = operator_public(&seed());
        let mut x: u32 = 0x1234_5678;
        for len in 0..1200 {
            let mut m = vec![0u8; len % 1200];
            for b in m.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            if len % 3 == 0 && m.len() >= 16 {
                m[..4].copy_from_slice(&MAGIC);
                m[4] = FORMAT;
                m[5] = 0;
                m[14] = ((m.len().saturating_sub(80)) / 32).min(40) as u8;
                m[15] = 0;
            }
            let _ = verify(&m, &public);
        }
    }
}
