//! The timer rules of `timers.rs`, each driven on the virtual clock.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::tests::{deliver, Got, Pair};
use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

#[test]
fn keepalive_after_data_received() {
    let mut p = Pair::new();
    p.handshake();
    let t = p.now;
    assert_eq!(p.a_to_b(b"one"), Got::Data(p.ba, b"one".to_vec()));
    assert_eq!(p.b.poll_timeout(), Some(t + KEEPALIVE_TIMEOUT));
    let mut out = [0u8; 256];
    p.advance(KEEPALIVE_TIMEOUT - ms(1));
    assert_eq!(p.b.poll_transmit(p.now, &mut out), None);
    p.advance(ms(1));
    let (peer, n) = p.b.poll_transmit(p.now, &mut out).unwrap();
    assert_eq!((peer, n), (p.ba, TRANSPORT_MIN_LEN));
    assert_eq!(p.b.poll_transmit(p.now, &mut out), None);
    // The keepalive also tells A that B is alive: A's NewHandshake timer stops.
    assert!(
        p.a.poll_timeout().unwrap()
            < t + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX
    );
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &out[..n]),
        Got::Keepalive(p.ab)
    );
    assert_eq!(p.a.poll_timeout(), Some(t + REJECT_AFTER_TIME));
    // A keepalive is not data: it does not make A send a keepalive back.
    p.advance(secs(30));
    assert_eq!(p.a.poll_transmit(p.now, &mut out), None);
}

#[test]
fn sending_data_cancels_the_keepalive() {
    let mut p = Pair::new();
    p.handshake();
    assert!(matches!(p.a_to_b(b"ping"), Got::Data(..)));
    p.advance(secs(3));
    assert!(matches!(p.b_to_a(b"pong"), Got::Data(..)));
    // Past B's keepalive deadline (ping + 10 s), before its own NewHandshake (pong + 15 s).
    p.advance(secs(9));
    let mut out = [0u8; 256];
    assert_eq!(p.b.poll_transmit(p.now, &mut out), None);
}

#[test]
fn new_handshake_when_peer_goes_silent() {
    let mut p = Pair::new();
    p.handshake();
    let t = p.now;
    let mut out = [0u8; 256];
    p.a.encapsulate(p.now, p.ab, b"anyone there?", &mut out)
        .unwrap(); // lost
    let due = p.a.poll_timeout().unwrap();
    assert!(due >= t + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
    assert!(due <= t + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    p.now = due - ms(1);
    assert_eq!(p.a.poll_transmit(p.now, &mut out), None);
    p.now = due;
    assert_eq!(
        p.a.poll_transmit(p.now, &mut out),
        Some((p.ab, INITIATION_LEN))
    );
}

#[test]
fn persistent_keepalive_holds_the_link_indefinitely() {
    let mut p = Pair::new();
    p.a.set_persistent_keepalive(p.ab, Some(secs(25)));
    p.handshake();
    let start = p.now;
    let mut keepalives_at_b = 0;
    let mut handshakes = 0;
    // Ten minutes of silence except for the keepalives.
    while p.now < start + secs(600) {
        let next =
            p.a.poll_timeout()
                .into_iter()
                .chain(p.b.poll_timeout())
                .min()
                .unwrap();
        assert!(next > p.now - ms(1), "no busy loop");
        p.now = next;
        for (to_b, got) in p.pump() {
            match got {
                Got::Keepalive(_) if to_b => keepalives_at_b += 1,
                Got::Established(_) => handshakes += 1,
                Got::Reply(..) | Got::Keepalive(_) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(p.a.is_established(p.ab), "link lost at {:?}", p.now - start);
    }
    // A keepalive every 25 s, plus one confirmation per rekey.
    assert!((24..=30).contains(&keepalives_at_b), "{keepalives_at_b}");
    // Rekeyed on time: every REKEY_AFTER_TIME (120 s) or a keepalive period later.
    assert_eq!(handshakes, 4);
    assert_eq!(
        p.a.drops().iter().sum::<u64>() + p.b.drops().iter().sum::<u64>(),
        0
    );
}

#[test]
fn rekey_after_time_by_the_initiator_only() {
    let mut p = Pair::new();
    p.handshake();
    let first = p.a.stats(p.ab).unwrap().last_handshake;
    p.advance(REKEY_AFTER_TIME);
    let mut out = [0u8; 256];
    // The responder sending on an old session does not rekey.
    assert!(matches!(p.b_to_a(b"from b"), Got::Data(..)));
    assert_eq!(p.b.poll_transmit(p.now, &mut out), None);
    // The initiator does, on its next send.
    let old_packet = {
        let n = p.a.encapsulate(p.now, p.ab, b"old keys", &mut out).unwrap();
        out[..n].to_vec()
    };
    let seen = p.pump();
    assert_eq!(
        seen,
        vec![
            (false, Got::Established(p.ab)),
            (true, Got::Reply(Some(p.ba), seen_reply(&seen))),
            (true, Got::Keepalive(p.ba))
        ]
    );
    assert_ne!(p.a.stats(p.ab).unwrap().last_handshake, first);
    // A packet sealed on the previous session still opens.
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &old_packet),
        Got::Data(p.ba, b"old keys".to_vec())
    );
    assert!(matches!(p.a_to_b(b"new keys"), Got::Data(..)));
    assert!(matches!(p.b_to_a(b"new keys"), Got::Data(..)));
}

fn seen_reply(seen: &[(bool, Got)]) -> Vec<u8> {
    seen.iter()
        .find_map(|(_, g)| match g {
            Got::Reply(_, r) => Some(r.clone()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn reject_after_time() {
    let mut p = Pair::new();
    p.handshake();
    let mut out = [0u8; 256];
    p.advance(REJECT_AFTER_TIME - ms(1));
    let n =
        p.b.encapsulate(p.now, p.ba, b"last call", &mut out)
            .unwrap();
    p.advance(ms(1));
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &out[..n]),
        Got::Dropped(DropReason::Expired)
    );
    assert_eq!(
        p.a.encapsulate(p.now, p.ab, b"x", &mut out),
        Err(LinkError::NoSession)
    );
    assert_eq!(
        p.b.encapsulate(p.now, p.ba, b"x", &mut out),
        Err(LinkError::NoSession)
    );
    assert!(!p.a.can_send(p.now, p.ab));
    // The next timer pass forgets the dead sessions.
    assert!(p.a.is_established(p.ab));
    assert_eq!(p.a.poll_transmit(p.now, &mut out), None);
    assert!(!p.a.is_established(p.ab) && !p.a.stats(p.ab).unwrap().established);
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &out[..n]),
        Got::Dropped(DropReason::UnknownIndex)
    );
    // A new handshake brings the link back.
    p.handshake();
    assert!(matches!(p.b_to_a(b"again"), Got::Data(..)));
}

#[test]
fn rekey_and_reject_after_messages() {
    let mut p = Pair::new();
    p.handshake();
    let mut out = [0u8; 256];
    let set_counter = |p: &mut Pair, n: u64| {
        let peer = p.a.peers[usize::from(p.ab.0)].as_mut().unwrap();
        let cur = peer.current;
        peer.session_mut(cur).unwrap().set_send_counter(n);
    };
    set_counter(&mut p, REKEY_AFTER_MESSAGES - 2);
    p.a.encapsulate(p.now, p.ab, b"a", &mut out).unwrap();
    assert_eq!(p.a.poll_transmit(p.now, &mut out), None);
    p.a.encapsulate(p.now, p.ab, b"b", &mut out).unwrap();
    assert_eq!(
        p.a.poll_transmit(p.now, &mut out),
        Some((p.ab, INITIATION_LEN))
    );
    set_counter(&mut p, REJECT_AFTER_MESSAGES - 1);
    assert!(p.a.encapsulate(p.now, p.ab, b"c", &mut out).is_ok());
    assert_eq!(
        p.a.encapsulate(p.now, p.ab, b"d", &mut out),
        Err(LinkError::NoSession)
    );
}

#[test]
fn retransmits_with_jitter_then_gives_up() {
    let mut p = Pair::new();
    let mut out = [0u8; 256];
    let start = p.now;
    p.a.initiate(p.now, p.ab, &mut out).unwrap();
    let mut sent_at = vec![start];
    let mut indices = vec![u32::from_le_bytes(out[4..8].try_into().unwrap())];
    while let Some(t) = p.a.poll_timeout() {
        if t >= start + ZERO_KEYS_AFTER {
            break;
        }
        p.now = t;
        while let Some((_, n)) = p.a.poll_transmit(p.now, &mut out) {
            assert_eq!(n, INITIATION_LEN);
            sent_at.push(p.now);
            indices.push(u32::from_le_bytes(out[4..8].try_into().unwrap()));
        }
    }
    let gaps: Vec<Duration> = sent_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps
        .iter()
        .all(|g| *g >= REKEY_TIMEOUT && *g <= REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX));
    assert!(gaps.iter().any(|g| *g != gaps[0]), "jittered");
    // Retransmits stop once REKEY_ATTEMPT_TIME has passed since the first.
    assert!(*sent_at.last().unwrap() - start < REKEY_ATTEMPT_TIME);
    assert!(
        *sent_at.last().unwrap() - start + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX
            >= REKEY_ATTEMPT_TIME
    );
    assert!((17..=19).contains(&sent_at.len()), "{}", sent_at.len());
    // Every attempt uses a fresh index.
    let mut uniq = indices.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), indices.len());
    assert_eq!(p.a.poll_timeout(), None, "idle after giving up");
    // A response to an abandoned attempt finds nothing.
    assert!(!p.a.is_established(p.ab));
}

#[test]
fn keys_erased_after_long_silence() {
    let mut p = Pair::new();
    p.handshake();
    let t = p.now;
    let mut out = [0u8; 256];
    // Sessions expire first (REJECT_AFTER_TIME), all keys go later.
    assert_eq!(p.a.poll_timeout(), Some(t + REJECT_AFTER_TIME));
    p.now = t + REJECT_AFTER_TIME;
    assert_eq!(p.a.poll_transmit(p.now, &mut out), None);
    assert!(!p.a.is_established(p.ab));
    assert_eq!(p.a.poll_timeout(), Some(t + ZERO_KEYS_AFTER));
    p.now = t + ZERO_KEYS_AFTER;
    assert_eq!(p.a.poll_transmit(p.now, &mut out), None);
    let peer = p.a.peers[usize::from(p.ab.0)].as_ref().unwrap();
    assert!(peer.slots.iter().all(|s| matches!(s, peer::Slot::Free)));
    assert_eq!(p.a.poll_timeout(), None);
}

#[test]
fn crossing_handshakes_converge() {
    let mut p = Pair::new();
    let (mut oa, mut ob) = ([0u8; 256], [0u8; 256]);
    let na = p.a.initiate(p.now, p.ab, &mut oa).unwrap();
    let nb = p.b.initiate(p.now, p.ba, &mut ob).unwrap();
    let Got::Reply(_, ra) = deliver(&mut p.b, p.now, p.addr_a, &oa[..na]) else {
        panic!()
    };
    let Got::Reply(_, rb) = deliver(&mut p.a, p.now, p.addr_b, &ob[..nb]) else {
        panic!()
    };
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &ra),
        Got::Established(p.ab)
    );
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &rb),
        Got::Established(p.ba)
    );
    p.pump();
    for i in 0..3u8 {
        assert_eq!(p.a_to_b(&[i]), Got::Data(p.ba, vec![i]));
        assert_eq!(p.b_to_a(&[i]), Got::Data(p.ab, vec![i]));
    }
    assert_eq!(
        p.a.drops().iter().sum::<u64>() + p.b.drops().iter().sum::<u64>(),
        0
    );
}
