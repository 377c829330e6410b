//! The test vectors of docs/PROTOCOL.md ("Links" / "Test vectors"): inputs
//! are read from the document, every output is recomputed here and must
//! equal the document's hex, so code and doc cannot drift apart. The Noise
//! parts are also checked against `snow` with the same fixed ephemerals.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use x25519_dalek::{PublicKey, StaticSecret};

use super::consts::*;
use super::cookie::{derive_key, CookieChecker, CookieSender};
use super::handshake::{self, InitiationInputs};
use super::noise::Symmetric;
use super::session::Session;
use super::wire::{field, put, put_header};
use crate::core::rng::Rng;
use crate::core::time::Instant;

const DOC: &str = include_str!("../../../docs/PROTOCOL.md");
const BEGIN: &str = "```text link-test-vectors";

fn doc_values() -> BTreeMap<String, String> {
    let start = DOC.find(BEGIN).expect("vector block in docs/PROTOCOL.md") + BEGIN.len();
    let block = &DOC[start..];
    let block = &block[..block.find("```").unwrap()];
    block
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn arr<const N: usize>(v: &BTreeMap<String, String>, k: &str) -> [u8; N] {
    unhex(
        v.get(k)
            .unwrap_or_else(|| panic!("input {k} missing from the doc")),
    )
    .try_into()
    .unwrap()
}

fn index(v: &BTreeMap<String, String>, k: &str) -> u32 {
    u32::from_str_radix(v[k].trim_start_matches("0x"), 16).unwrap()
}

/// Every output of the vector set, computed from the doc's inputs.
fn compute(v: &BTreeMap<String, String>) -> Vec<(&'static str, Vec<u8>)> {
    let si = StaticSecret::from(arr::<32>(v, "initiator_static_secret"));
    let sr = StaticSecret::from(arr::<32>(v, "responder_static_secret"));
    let ei: [u8; 32] = arr(v, "initiator_ephemeral_secret");
    let er: [u8; 32] = arr(v, "responder_ephemeral_secret");
    let psk: [u8; 32] = arr(v, "psk");
    let ts: [u8; 12] = arr(v, "timestamp");
    let (ii, ri) = (index(v, "initiator_index"), index(v, "responder_index"));
    let payload = unhex(&v["transport_payload"]);
    let now = Instant::ZERO;
    let (pi, pr) = (
        PublicKey::from(&si).to_bytes(),
        PublicKey::from(&sr).to_bytes(),
    );
    let mut ops = 0;
    let initial = Symmetric::initial();

    // Initiation.
    let mut init = [0u8; INITIATION_LEN];
    put_header(&mut init, TYPE_INITIATION);
    put(&mut init, field::initiation::SENDER, &ii.to_le_bytes());
    let ss = handshake::dh(&si, &pr, &mut ops).unwrap();
    let inputs = InitiationInputs {
        local_public: &pi,
        remote_public: &pr,
        static_static: &ss,
        ephemeral: StaticSecret::from(ei),
        timestamp: &ts,
    };
    let state = handshake::write_initiation(&initial, inputs, &mut init, &mut ops).unwrap();
    let mut to_responder = CookieSender::new(&pr);
    to_responder.seal(now, &mut init);

    // Response.
    let start = handshake::responder_start(&initial, &pr);
    let mut read = handshake::read_initiation_static(&start, &sr, &init, &mut ops).unwrap();
    assert_eq!(read.static_key, pi);
    assert_eq!(
        handshake::read_initiation_timestamp(&mut read, &ss, &init).unwrap(),
        ts
    );
    let mut resp = [0u8; RESPONSE_LEN];
    put_header(&mut resp, TYPE_RESPONSE);
    put(&mut resp, field::response::SENDER, &ri.to_le_bytes());
    put(&mut resp, field::response::RECEIVER, &ii.to_le_bytes());
    let rkeys = handshake::write_response(read, &StaticSecret::from(er), &psk, &mut resp, &mut ops)
        .unwrap();
    CookieSender::new(&pi).seal(now, &mut resp);
    let ikeys = handshake::read_response(&state, &si, &psk, &resp, &mut ops).unwrap();
    assert_eq!((ikeys.send, ikeys.recv), (rkeys.recv, rkeys.send));

    // Transport, both ways, counter 0.
    let mut i_sess = Session::new(ii, ri, &ikeys.send, &ikeys.recv, now, true);
    let mut r_sess = Session::new(ri, ii, &rkeys.send, &rkeys.recv, now, false);
    let mut t_i2r = vec![0u8; payload.len() + TRANSPORT_OVERHEAD];
    i_sess.seal(&payload, &mut t_i2r).unwrap();
    let mut t_r2i = vec![0u8; TRANSPORT_OVERHEAD];
    r_sess.seal(&[], &mut t_r2i).unwrap();

    // Cookie reply to the initiation, and the initiation re-sent with mac2.
    let from = v["cookie_source"].parse().unwrap();
    let mut checker = CookieChecker::with_secret(&pr, arr(v, "cookie_secret"), now);
    let cookie = checker.cookie_of(now, &mut Rng::from_seed([0; 32]), from);
    let mut reply = [0u8; COOKIE_REPLY_LEN];
    checker
        .seal_reply(cookie, &arr(v, "cookie_nonce"), &init, &mut reply)
        .unwrap();
    to_responder.consume_reply(now, &reply).unwrap();
    let mut init2 = init;
    to_responder.seal(now, &mut init2);
    assert!(checker.check_mac2(now, &mut Rng::from_seed([0; 32]), from, &init2));

    vec![
        ("initiator_public", pi.to_vec()),
        ("responder_public", pr.to_vec()),
        (
            "mac1_key_to_responder",
            derive_key(LABEL_MAC1, &pr).to_vec(),
        ),
        (
            "cookie_key_of_responder",
            derive_key(LABEL_COOKIE, &pr).to_vec(),
        ),
        ("initial_chaining_key", initial.ck.to_vec()),
        ("initial_hash", initial.h.to_vec()),
        ("initiation", init.to_vec()),
        ("response", resp.to_vec()),
        ("key_initiator_to_responder", ikeys.send.to_vec()),
        ("key_responder_to_initiator", ikeys.recv.to_vec()),
        ("transport_initiator_to_responder", t_i2r),
        ("keepalive_responder_to_initiator", t_r2i),
        ("cookie", cookie.to_vec()),
        ("cookie_reply", reply.to_vec()),
        ("initiation_with_mac2", init2.to_vec()),
    ]
}

#[test]
fn doc_vectors_match_the_code() {
    let v = doc_values();
    let outputs = compute(&v);
    let listing: String = outputs
        .iter()
        .map(|(k, b)| format!("{k} = {}\n", hex(b)))
        .collect();
    for (k, b) in &outputs {
        assert_eq!(
            v.get(*k).map(String::as_str),
            Some(hex(b).as_str()),
            "{k}; computed:\n{listing}"
        );
    }
}

#[test]
fn doc_vectors_match_snow() {
    let v = doc_values();
    let outputs: BTreeMap<_, _> = compute(&v).into_iter().collect();
    let params: snow::params::NoiseParams =
        "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".parse().unwrap();
    let si: [u8; 32] = arr(&v, "initiator_static_secret");
    let sr: [u8; 32] = arr(&v, "responder_static_secret");
    let (ei, er): ([u8; 32], [u8; 32]) = (
        arr(&v, "initiator_ephemeral_secret"),
        arr(&v, "responder_ephemeral_secret"),
    );
    let psk: [u8; 32] = arr(&v, "psk");
    let mut ini = snow::Builder::new(params.clone())
        .local_private_key(&si)
        .remote_public_key(&outputs["responder_public"])
        .prologue(IDENTIFIER)
        .psk(2, &psk)
        .fixed_ephemeral_key_for_testing_only(&ei)
        .build_initiator()
        .unwrap();
    let mut res = snow::Builder::new(params)
        .local_private_key(&sr)
        .prologue(IDENTIFIER)
        .psk(2, &psk)
        .fixed_ephemeral_key_for_testing_only(&er)
        .build_responder()
        .unwrap();
    let mut m1 = [0u8; 200];
    let n = ini
        .write_message(&arr::<12>(&v, "timestamp"), &mut m1)
        .unwrap();
    assert_eq!(
        &m1[..n],
        &outputs["initiation"][8..116],
        "initiation Noise payload"
    );
    let mut scratch = [0u8; 200];
    res.read_message(&m1[..n], &mut scratch).unwrap();
    let mut m2 = [0u8; 200];
    let n = res.write_message(&[], &mut m2).unwrap();
    assert_eq!(
        &m2[..n],
        &outputs["response"][12..60],
        "response Noise payload"
    );
    ini.read_message(&m2[..n], &mut scratch).unwrap();
    let ini = ini.into_stateless_transport_mode().unwrap();
    let payload = unhex(&v["transport_payload"]);
    let n = ini.write_message(0, &payload, &mut m1).unwrap();
    assert_eq!(&m1[..n], &outputs["transport_initiator_to_responder"][16..]);
}
