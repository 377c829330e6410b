//! Certificate signature checks (core::sig): RSA PKCS #1 v1.5 and PSS,
//! ECDSA P-256/P-384, on any key, message and signature (a chain's
//! certificates may be anyone's). Never a panic, never a slow input.
#![no_main]

use ipop::core::sig::{ecdsa, rsa, Digest};
use ipop_fuzz::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let op = input.u8();
    let digest = match op >> 4 & 3 {
        0 => Digest::Sha256,
        1 => Digest::Sha384,
        _ => Digest::Sha512,
    };
    let key = input.chunk();
    let message = input.chunk();
    let sig = input.rest();
    let ok = match op % 4 {
        0 => rsa::verify_pkcs1(key, digest, message, sig),
        1 => rsa::verify_pss(key, digest, message, sig),
        2 => ecdsa::verify(&ecdsa::P256, key, digest, message, sig),
        _ => ecdsa::verify(&ecdsa::P384, key, digest, message, sig),
    };
    // A signature that verifies stops verifying for another message.
    if ok {
        let mut other = message.to_vec();
        other.push(0);
        let again = match op % 4 {
            0 => rsa::verify_pkcs1(key, digest, &other, sig),
            1 => rsa::verify_pss(key, digest, &other, sig),
            2 => ecdsa::verify(&ecdsa::P256, key, digest, &other, sig),
            _ => ecdsa::verify(&ecdsa::P384, key, digest, &other, sig),
        };
        assert!(!again);
    }
});
