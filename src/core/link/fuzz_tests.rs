//! A large randomized test of the datagram parser and handlers: random
//! bytes and mutations of real messages must never panic, never decrypt,
//! and every rejection must be counted.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::tests::{deliver, Got, Pair};
use super::*;

/// Real messages of every type, captured from a live pair.
fn corpus(p: &mut Pair) -> Vec<Vec<u8>> {
    let mut out = [0u8; 256];
    let mut c = Vec::new();
    let n = p.a.initiate(p.now, p.ab, &mut out).unwrap();
    c.push(out[..n].to_vec());
    let Got::Reply(_, resp) = deliver(&mut p.b, p.now, p.addr_a, &out[..n]) else {
        panic!()
    };
    c.push(resp.clone());
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &resp),
        Got::Established(p.ab)
    );
    for payload in [&b""[..], b"x", &[0xaa; 200]] {
        let n = p.a.encapsulate(p.now, p.ab, payload, &mut out).unwrap();
        c.push(out[..n].to_vec());
    }
    let mut cookie = vec![3, 0, 0, 0];
    cookie.extend_from_slice(&c[0][4..8]);
    cookie.extend_from_slice(&[0x11; 56]);
    c.push(cookie);
    c
}

#[test]
fn random_and_mutated_datagrams_never_get_through() {
    let mut p = Pair::new();
    let corpus = corpus(&mut p);
    // Deliver the real transport messages once so every later copy is a replay
    // (and the responder's session is confirmed).
    for m in &corpus[2..5] {
        assert!(matches!(
            deliver(&mut p.b, p.now, p.addr_a, m),
            Got::Data(..) | Got::Keepalive(_)
        ));
    }
    let drops_before: u64 = p.b.drops().iter().sum();
    let mut rng = Rng::from_seed([42; 32]);
    let mut dropped = 0u64;
    // Debug-build crypto is slow; release runs (scripts/test) do ten times more.
    let iterations = if cfg!(debug_assertions) {
        25_000
    } else {
        250_000
    };
    for i in 0..iterations {
        let mut d = if i % 4 == 0 {
            // Pure noise, often with a valid-looking header.
            let len = rng.below(300) as usize;
            let mut v = vec![0u8; len];
            rng.fill(&mut v);
            if len >= 4 && rng.below(2) == 0 {
                v[..4].copy_from_slice(&[1 + rng.below(4) as u8, 0, 0, 0]);
            }
            v
        } else {
            corpus[rng.below(corpus.len() as u64) as usize].clone()
        };
        // 1-4 mutations: bit flips, truncation, extension.
        for _ in 0..1 + rng.below(4) {
            match rng.below(3) {
                0 if !d.is_empty() => {
                    let at = rng.below(d.len() as u64) as usize;
                    d[at] ^= 1 << rng.below(8);
                }
                1 => d.truncate(rng.below(d.len() as u64 + 1) as usize),
                _ => d.push(rng.next_u32() as u8),
            }
        }
        p.now += Duration::from_micros(100);
        match deliver(&mut p.b, p.now, p.addr_a, &d) {
            Got::Dropped(_) => dropped += 1,
            // Under load, mac1-valid initiations get a cookie reply (no DH).
            Got::Reply(None, r) => assert_eq!(r.len(), COOKIE_REPLY_LEN),
            other => panic!("mutated datagram {d:?} accepted: {other:?}"),
        }
    }
    let drops_after: u64 = p.b.drops().iter().sum();
    assert_eq!(drops_after - drops_before, dropped);
    assert!(dropped > iterations * 9 / 10);
    // The real link still works afterwards.
    assert!(matches!(p.a_to_b(b"still here"), Got::Data(..)));
}

#[test]
fn every_length_of_every_type() {
    let mut p = Pair::new();
    p.handshake();
    for ty in 0..=5u8 {
        for len in 0..=200usize {
            let mut d = vec![0u8; len];
            if let Some(b) = d.first_mut() {
                *b = ty;
            }
            assert!(
                matches!(deliver(&mut p.b, p.now, p.addr_a, &d), Got::Dropped(_)),
                "type {ty} len {len}"
            );
        }
    }
}
