//! Revoked keys and group-secret rotation at the link layer.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::tests::{addr, deliver, links, Got, Pair};
use super::*;

/// One handshake from `a` (to its peer `ab`) answered by `b`; returns what
/// `a` made of the response (or what `b` did with the initiation).
fn try_handshake(a: &mut Links, ab: PeerId, b: &mut Links, now: Instant) -> Got {
    let mut out = [0u8; 256];
    let n = a.initiate(now, ab, &mut out).unwrap();
    match deliver(b, now, addr("192.0.2.1:4000"), &out[..n]) {
        Got::Reply(Some(_), resp) => deliver(a, now, addr("192.0.2.2:4000"), &resp),
        other => other,
    }
}

/// Sends `a`'s confirmation keepalive (after Established) to `b`.
fn confirm(a: &mut Links, b: &mut Links, now: Instant) -> Got {
    let mut out = [0u8; 256];
    let (_, n) = a.poll_transmit(now, &mut out).unwrap();
    deliver(b, now, addr("192.0.2.1:4000"), &out[..n])
}

#[test]
fn revoked_initiator_is_refused_and_counted() {
    let mut p = Pair::new();
    let a_key = p.a.public_key();
    p.b.set_refusals(vec![a_key], None);
    for i in 0..3u64 {
        p.now += core::time::Duration::from_secs(6 * (i + 1));
        let mut out = [0u8; 256];
        let n = p.a.initiate(p.now, p.ab, &mut out).unwrap();
        assert_eq!(
            deliver(&mut p.b, p.now, p.addr_a, &out[..n]),
            Got::Dropped(DropReason::Revoked)
        );
    }
    assert_eq!(p.b.drops()[DropReason::Revoked as usize], 3);
    let tried = p.b.refused_tries();
    assert_eq!(tried.len(), 1);
    assert_eq!((tried[0].key, tried[0].refusals), (a_key, 3));
    // The refused key cannot be added back either.
    let mut c = links(3, [7; 32]);
    c.set_refusals(vec![a_key], None);
    assert_eq!(c.add_peer(a_key), Err(LinkError::Refused));
    // Lifting the revocation lets it in again.
    p.b.set_refusals(vec![], None);
    p.now += core::time::Duration::from_secs(30);
    assert_eq!(
        try_handshake(&mut p.a, p.ab, &mut p.b, p.now),
        Got::Established(p.ab)
    );
}

#[test]
fn allow_list_refuses_strangers() {
    let mut p = Pair::new();
    p.b.set_refusals(vec![], Some(vec![[9; 32]]));
    assert_eq!(
        try_handshake(&mut p.a, p.ab, &mut p.b, p.now),
        Got::Dropped(DropReason::Revoked)
    );
    p.b.set_refusals(vec![], Some(vec![p.a.public_key()]));
    p.now += core::time::Duration::from_secs(6);
    assert_eq!(
        try_handshake(&mut p.a, p.ab, &mut p.b, p.now),
        Got::Established(p.ab)
    );
}

/// Two nodes with `old` as their secret; `a` also holds `new`.
fn rotation_pair(old: [u8; 32], new: [u8; 32]) -> (Links, PeerId, Links, PeerId) {
    let mut a = links(1, old);
    let mut b = links(2, old);
    let ab = a.add_peer(b.public_key()).unwrap();
    let ba = b.add_peer(a.public_key()).unwrap();
    a.set_next_psk(new);
    (a, ab, b, ba)
}

#[test]
fn every_mix_of_old_and_new_secret_handshakes() {
    let (old, new) = ([1u8; 32], [2u8; 32]);
    let step = core::time::Duration::from_secs(6);
    // a rotated (current new, previous old), b not yet: both directions work.
    let (mut a, ab, mut b, ba) = rotation_pair(old, new);
    let mut now = Instant::from_secs(100);
    assert!(a.rotate_psk(now));
    assert_eq!(a.psk_status().current_tag, psk::tag(&new));
    assert_eq!(try_handshake(&mut a, ab, &mut b, now), Got::Established(ab));
    now += step;
    assert_eq!(try_handshake(&mut b, ba, &mut a, now), Got::Established(ba));
    // b rotates too: new secret in both directions.
    b.set_next_psk(new);
    assert!(b.rotate_psk(now));
    now += step;
    assert_eq!(try_handshake(&mut a, ab, &mut b, now), Got::Established(ab));
    now += step;
    assert_eq!(try_handshake(&mut b, ba, &mut a, now), Got::Established(ba));
    // After the grace both hold only the new secret and still link.
    let later = now + psk::DEFAULT_GRACE;
    assert!(a.expire_psk(later) && b.expire_psk(later));
    assert_eq!(a.psk_status().other, None);
    assert_eq!(
        try_handshake(&mut a, ab, &mut b, later),
        Got::Established(ab)
    );
    // A node left on the old secret alone is out.
    let mut c = links(3, old);
    let ca = c.add_peer(a.public_key()).unwrap();
    a.add_peer(c.public_key()).unwrap();
    assert_eq!(
        try_handshake(&mut c, ca, &mut a, later),
        Got::Dropped(DropReason::AeadFail)
    );
}

#[test]
fn next_secret_is_adopted_when_a_peer_uses_it() {
    let (old, new) = ([1u8; 32], [2u8; 32]);
    let now = Instant::from_secs(100);
    // b holds next; a rotated: a's initiation is tagged new, b answers
    // with new and adopts once a confirms the session.
    let (mut a, ab, mut b, _ba) = rotation_pair(old, new);
    b.set_next_psk(new);
    assert!(a.rotate_psk(now));
    assert_eq!(try_handshake(&mut a, ab, &mut b, now), Got::Established(ab));
    assert_eq!(b.psk_status().current_tag, psk::tag(&old));
    assert!(matches!(confirm(&mut a, &mut b, now), Got::Keepalive(_)));
    assert_eq!(b.psk_status().current_tag, psk::tag(&new));
    assert!(matches!(
        b.psk_status().other,
        Some((t, psk::OtherRole::Previous { .. })) if t == psk::tag(&old)
    ));
    // The initiator side: c holds next, a (rotated) answers c's old-tagged
    // initiation with old... c stays on old; a's own initiation to c uses new.
    let mut c = links(3, old);
    c.set_next_psk(new);
    let ca = c.add_peer(a.public_key()).unwrap();
    let ac = a.add_peer(c.public_key()).unwrap();
    assert_eq!(try_handshake(&mut c, ca, &mut a, now), Got::Established(ca));
    assert_eq!(c.psk_status().current_tag, psk::tag(&old));
    let later = now + core::time::Duration::from_secs(6);
    assert_eq!(
        try_handshake(&mut a, ac, &mut c, later),
        Got::Established(ac)
    );
    assert!(matches!(confirm(&mut a, &mut c, later), Got::Keepalive(_)));
    assert_eq!(c.psk_status().current_tag, psk::tag(&new));
}

#[test]
fn rotation_rekeys_established_sessions() {
    let mut p = Pair::new();
    p.handshake();
    assert!(!p.a.rotate_psk(p.now), "no next secret held");
    p.a.set_next_psk([8; 32]);
    assert!(p.a.rotate_psk(p.now));
    let mut out = [0u8; 256];
    let (peer, n) = p.a.poll_transmit(p.now, &mut out).unwrap();
    assert_eq!(
        (peer, n, out[0]),
        (p.ab, INITIATION_LEN, consts::TYPE_INITIATION)
    );
    assert_eq!(out[1], psk::tag(&[8; 32]));
    // b (still on [7; 32]) answers with the old secret; a accepts it.
    let Got::Reply(Some(_), resp) = deliver(&mut p.b, p.now, p.addr_a, &out[..n]) else {
        panic!("no response")
    };
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &resp),
        Got::Established(p.ab)
    );
    // The old session kept working meanwhile, and the new one works.
    assert!(matches!(p.a_to_b(b"after"), Got::Data(_, d) if d == b"after"));
}
