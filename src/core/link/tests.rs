//! Two (or more) `Links` on a virtual clock, exchanging datagrams by hand.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use core::time::Duration;

pub(super) fn links(seed: u8, psk: [u8; 32]) -> Links {
    let cfg = LinkConfig {
        static_secret: [seed; 32],
        psk,
        max_peers: 8,
    };
    Links::new(cfg, Rng::from_seed([seed.wrapping_add(100); 32]))
}

/// An owned copy of `Received`, so tests can hold it across calls.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Got {
    Data(PeerId, Vec<u8>),
    Keepalive(PeerId),
    Reply(Option<PeerId>, Vec<u8>),
    Established(PeerId),
    Cookie(PeerId),
    Dropped(DropReason),
}

pub(super) fn deliver(to: &mut Links, now: Instant, from: SocketAddr, datagram: &[u8]) -> Got {
    let mut buf = datagram.to_vec();
    let mut out = [0u8; 256];
    match to.receive(now, from, &mut buf, &mut out) {
        Received::Data { peer, payload } => Got::Data(peer, payload.to_vec()),
        Received::Keepalive { peer } => Got::Keepalive(peer),
        Received::Reply { peer, len } => Got::Reply(peer, out[..len].to_vec()),
        Received::Established { peer } => Got::Established(peer),
        Received::CookieStored { peer } => Got::Cookie(peer),
        Received::Dropped(r) => Got::Dropped(r),
    }
}

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Node A (initiator) and node B, each knowing the other.
pub(super) struct Pair {
    pub a: Links,
    pub b: Links,
    /// B as A's peer, and A as B's peer.
    pub ab: PeerId,
    pub ba: PeerId,
    pub now: Instant,
    pub addr_a: SocketAddr,
    pub addr_b: SocketAddr,
}

impl Pair {
    pub fn new() -> Pair {
        let mut a = links(1, [7; 32]);
        let mut b = links(2, [7; 32]);
        let ab = a.add_peer(b.public_key()).unwrap();
        let ba = b.add_peer(a.public_key()).unwrap();
        Pair {
            a,
            b,
            ab,
            ba,
            now: Instant::from_secs(1000),
            addr_a: addr("192.0.2.1:4000"),
            addr_b: addr("192.0.2.2:4000"),
        }
    }

    /// A initiates, B answers, A completes; B is confirmed by A's keepalive.
    pub fn handshake(&mut self) {
        let mut out = [0u8; 256];
        let n = self.a.initiate(self.now, self.ab, &mut out).unwrap();
        let Got::Reply(Some(p), resp) = deliver(&mut self.b, self.now, self.addr_a, &out[..n])
        else {
            panic!("no response")
        };
        assert_eq!(p, self.ba);
        assert_eq!(
            deliver(&mut self.a, self.now, self.addr_b, &resp),
            Got::Established(self.ab)
        );
        let (p, n) = self.a.poll_transmit(self.now, &mut out).unwrap();
        assert_eq!(
            (p, n),
            (self.ab, TRANSPORT_MIN_LEN),
            "confirmation keepalive"
        );
        assert_eq!(
            deliver(&mut self.b, self.now, self.addr_a, &out[..n]),
            Got::Keepalive(self.ba)
        );
        assert!(self.a.is_established(self.ab) && self.b.is_established(self.ba));
        assert_eq!(self.a.poll_transmit(self.now, &mut out), None);
        assert_eq!(self.b.poll_transmit(self.now, &mut out), None);
    }

    pub fn a_to_b(&mut self, payload: &[u8]) -> Got {
        let mut out = [0u8; 256];
        let n = self
            .a
            .encapsulate(self.now, self.ab, payload, &mut out)
            .unwrap();
        deliver(&mut self.b, self.now, self.addr_a, &out[..n])
    }

    pub fn b_to_a(&mut self, payload: &[u8]) -> Got {
        let mut out = [0u8; 256];
        let n = self
            .b
            .encapsulate(self.now, self.ba, payload, &mut out)
            .unwrap();
        deliver(&mut self.a, self.now, self.addr_b, &out[..n])
    }

    /// Drains both sides' poll_transmit, delivering each datagram; returns
    /// what the receivers saw, as (receiver is B, what).
    pub fn pump(&mut self) -> Vec<(bool, Got)> {
        let mut seen = Vec::new();
        let mut out = [0u8; 256];
        for _ in 0..100 {
            if let Some((_, n)) = self.a.poll_transmit(self.now, &mut out) {
                let got = deliver(&mut self.b, self.now, self.addr_a, &out[..n]);
                if let Got::Reply(_, r) = &got {
                    let back = deliver(&mut self.a, self.now, self.addr_b, r);
                    seen.push((false, back));
                }
                seen.push((true, got));
            } else if let Some((_, n)) = self.b.poll_transmit(self.now, &mut out) {
                let got = deliver(&mut self.a, self.now, self.addr_b, &out[..n]);
                if let Got::Reply(_, r) = &got {
                    let back = deliver(&mut self.b, self.now, self.addr_a, r);
                    seen.push((true, back));
                }
                seen.push((false, got));
            } else {
                return seen;
            }
        }
        panic!("pump never went idle: {seen:?}")
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }
}

#[test]
fn handshake_and_transport_both_ways() {
    let mut p = Pair::new();
    assert!(!p.a.is_established(p.ab));
    p.handshake();
    assert_eq!(p.a_to_b(b"hello b"), Got::Data(p.ba, b"hello b".to_vec()));
    assert_eq!(p.b_to_a(b"hello a"), Got::Data(p.ab, b"hello a".to_vec()));
    assert_eq!(p.a_to_b(b""), Got::Keepalive(p.ba));
    let sa = p.a.stats(p.ab).unwrap();
    // Sent: initiation 148, keepalive 32, "hello b" 39, keepalive 32; got: response 92, 39.
    assert_eq!((sa.tx_packets, sa.tx_bytes), (4, 148 + 32 + 39 + 32));
    assert_eq!((sa.rx_packets, sa.rx_bytes), (2, 92 + 39));
    assert!(sa.established);
    assert_eq!(sa.last_handshake, Some(p.now));
    assert_eq!(p.a.drops().iter().sum::<u64>(), 0);
    assert_eq!(p.b.drops().iter().sum::<u64>(), 0);
}

#[test]
fn responder_waits_for_confirmation_before_sending() {
    let mut p = Pair::new();
    let mut out = [0u8; 256];
    let n = p.a.initiate(p.now, p.ab, &mut out).unwrap();
    let Got::Reply(_, resp) = deliver(&mut p.b, p.now, p.addr_a, &out[..n]) else {
        panic!()
    };
    assert_eq!(
        p.b.encapsulate(p.now, p.ba, b"x", &mut out),
        Err(LinkError::NoSession)
    );
    assert_eq!(p.b.drops()[DropReason::NoSession as usize], 1);
    // B's own initiate is refused: A's handshake is already in flight.
    assert_eq!(
        p.b.initiate(p.now, p.ba, &mut out),
        Err(LinkError::HandshakeInProgress)
    );
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &resp),
        Got::Established(p.ab)
    );
    // Data from A confirms the session instead of the keepalive.
    assert_eq!(p.a_to_b(b"data"), Got::Data(p.ba, b"data".to_vec()));
    assert_eq!(
        p.a.poll_transmit(p.now, &mut out),
        None,
        "no keepalive needed"
    );
    assert_eq!(p.b_to_a(b"back"), Got::Data(p.ab, b"back".to_vec()));
}

#[test]
fn replayed_and_forged_transport_dropped() {
    let mut p = Pair::new();
    p.handshake();
    let mut out = [0u8; 256];
    let n = p.a.encapsulate(p.now, p.ab, b"once", &mut out).unwrap();
    let pkt = out[..n].to_vec();
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &pkt),
        Got::Data(p.ba, b"once".to_vec())
    );
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &pkt),
        Got::Dropped(DropReason::Replay)
    );
    let mut forged = pkt.clone();
    forged[20] ^= 0x80;
    forged[8] = 9; // unseen counter, so the tag is what fails
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &forged),
        Got::Dropped(DropReason::AeadFail)
    );
    let mut bad_index = pkt.clone();
    bad_index[7] ^= 0x40;
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &bad_index),
        Got::Dropped(DropReason::UnknownIndex)
    );
    let d = p.b.drops();
    assert_eq!(
        (
            d[DropReason::Replay as usize],
            d[DropReason::AeadFail as usize],
            d[DropReason::UnknownIndex as usize]
        ),
        (1, 1, 1)
    );
}

#[test]
fn reordered_transport_within_window() {
    let mut p = Pair::new();
    p.handshake();
    let mut pkts = Vec::new();
    for i in 0..3000u32 {
        let mut out = [0u8; 64];
        let n =
            p.a.encapsulate(p.now, p.ab, &i.to_le_bytes(), &mut out)
                .unwrap();
        pkts.push(out[..n].to_vec());
    }
    // Newest first: the top arrives, then 2047 older ones still fit the window.
    let mut ok = 0;
    let mut old = 0;
    for pkt in pkts.iter().rev() {
        match deliver(&mut p.b, p.now, p.addr_a, pkt) {
            Got::Data(..) => ok += 1,
            Got::Dropped(DropReason::Replay) => old += 1,
            other => panic!("{other:?}"),
        }
    }
    // Counter 0 was A's confirmation keepalive, so data counters are 1..=3000.
    assert_eq!(ok, REPLAY_WINDOW as usize);
    assert_eq!(old, 3000 - REPLAY_WINDOW as usize);
}

#[test]
fn wrong_psk_never_admits() {
    let mut a = links(1, [7; 32]);
    let mut b = links(2, [8; 32]);
    let ab = a.add_peer(b.public_key()).unwrap();
    b.add_peer(a.public_key()).unwrap();
    let now = Instant::from_secs(5);
    let mut out = [0u8; 256];
    let n = a.initiate(now, ab, &mut out).unwrap();
    let Got::Reply(_, resp) = deliver(&mut b, now, addr("10.0.0.1:1"), &out[..n]) else {
        panic!()
    };
    assert_eq!(
        deliver(&mut a, now, addr("10.0.0.2:1"), &resp),
        Got::Dropped(DropReason::AeadFail)
    );
    assert!(!a.is_established(ab));
    assert_eq!(
        a.encapsulate(now, ab, b"x", &mut out),
        Err(LinkError::NoSession)
    );
}

#[test]
fn unknown_initiator_dropped_unless_accepted() {
    let mut a = links(1, [0; 32]);
    let mut b = links(2, [0; 32]);
    let ab = a.add_peer(b.public_key()).unwrap();
    let now = Instant::from_secs(5);
    let mut out = [0u8; 256];
    let n = a.initiate(now, ab, &mut out).unwrap();
    let init = out[..n].to_vec();
    assert_eq!(
        deliver(&mut b, now, addr("10.0.0.1:1"), &init),
        Got::Dropped(DropReason::UnknownPeer)
    );
    assert_eq!(b.find_peer(&a.public_key()), None);
    b.set_accept_unknown(true);
    let Got::Reply(Some(new), resp) = deliver(&mut b, now, addr("10.0.0.1:1"), &init) else {
        panic!()
    };
    assert_eq!(b.peer_public_key(new), Some(a.public_key()));
    assert_eq!(
        deliver(&mut a, now, addr("10.0.0.2:1"), &resp),
        Got::Established(ab)
    );
}

#[test]
fn replayed_initiation_is_stale() {
    let mut p = Pair::new();
    let mut out = [0u8; 256];
    let n = p.a.initiate(p.now, p.ab, &mut out).unwrap();
    let init = out[..n].to_vec();
    assert!(matches!(
        deliver(&mut p.b, p.now, p.addr_a, &init),
        Got::Reply(..)
    ));
    // A copy (the node sends one to each candidate address) costs no DH.
    let dh = p.b.dh_operations();
    p.advance(Duration::from_secs(1));
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &init),
        Got::Dropped(DropReason::StaleTimestamp)
    );
    assert_eq!(p.b.dh_operations(), dh);
    // A restarted A (same key, no wall clock: its timestamps start low) is
    // refused while B still hears the old A ...
    let mut a2 = links(1, [7; 32]);
    let a2b = a2.add_peer(p.b.public_key()).unwrap();
    let n = a2.initiate(Instant::from_secs(1), a2b, &mut out).unwrap();
    let restarted = out[..n].to_vec();
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &restarted),
        Got::Dropped(DropReason::StaleTimestamp)
    );
    // ... and accepted once A has been silent for the grace period.
    p.advance(STALE_TIMESTAMP_GRACE);
    let Got::Reply(Some(_), resp) = deliver(&mut p.b, p.now, p.addr_a, &restarted) else {
        panic!()
    };
    assert_eq!(
        deliver(&mut a2, p.now, p.addr_b, &resp),
        Got::Established(a2b)
    );
}

#[test]
fn garbage_is_counted_by_reason() {
    let mut b = links(2, [0; 32]);
    let now = Instant::ZERO;
    let from = addr("10.0.0.1:1");
    let cases: [(&[u8], DropReason); 7] = [
        (&[], DropReason::Truncated),
        (&[1, 0, 0], DropReason::Truncated),
        (&[9, 0, 0, 0, 1], DropReason::BadType),
        (&[1, 0, 1, 0], DropReason::BadType),
        (&[1, 0, 0, 0, 0, 0, 0, 0], DropReason::Truncated),
        (&[2; 92], DropReason::BadType),
        (
            &[
                4, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0,
            ],
            DropReason::UnknownIndex,
        ),
    ];
    for (bytes, reason) in cases {
        assert_eq!(
            deliver(&mut b, now, from, bytes),
            Got::Dropped(reason),
            "{bytes:?}"
        );
    }
    let mut init = vec![0u8; INITIATION_LEN];
    init[0] = 1;
    assert_eq!(
        deliver(&mut b, now, from, &init),
        Got::Dropped(DropReason::BadMac)
    );
    init.push(0);
    assert_eq!(
        deliver(&mut b, now, from, &init),
        Got::Dropped(DropReason::BadLength)
    );
    assert_eq!(
        b.dh_operations(),
        1,
        "only the public key derivation at start-up"
    );
    let total: u64 = b.drops().iter().sum();
    assert_eq!(total, 9);
}

#[test]
fn peer_table_limits_and_ids() {
    let mut a = links(1, [0; 32]);
    assert_eq!(a.add_peer(a.public_key()), Err(LinkError::BadKey));
    assert_eq!(
        a.add_peer([0; 32]),
        Err(LinkError::BadKey),
        "low-order point"
    );
    let ids: Vec<_> = (10..18u8)
        .map(|s| a.add_peer(links(s, [0; 32]).public_key()).unwrap())
        .collect();
    assert_eq!(
        ids.iter().map(|p| p.0).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    assert_eq!(
        a.add_peer(links(30, [0; 32]).public_key()),
        Err(LinkError::TooManyPeers)
    );
    let k = links(12, [0; 32]).public_key();
    assert_eq!(a.add_peer(k), Ok(PeerId(2)), "idempotent");
    a.remove_peer(PeerId(2));
    assert_eq!(a.find_peer(&k), None);
    assert_eq!(a.peer_public_key(PeerId(2)), None);
    assert_eq!(
        a.add_peer(links(31, [0; 32]).public_key()),
        Ok(PeerId(2)),
        "reused"
    );
    let mut out = [0u8; 256];
    assert_eq!(
        a.initiate(Instant::ZERO, PeerId(99), &mut out),
        Err(LinkError::UnknownPeer)
    );
    assert_eq!(
        a.encapsulate(Instant::ZERO, PeerId(99), b"", &mut out),
        Err(LinkError::UnknownPeer)
    );
    assert_eq!(
        a.initiate(Instant::ZERO, PeerId(0), &mut out[..100]),
        Err(LinkError::BufferTooSmall)
    );
    assert_eq!(a.stats(PeerId(99)), None);
    a.remove_peer(PeerId(99));
}

#[test]
fn removed_peer_indices_die() {
    let mut p = Pair::new();
    p.handshake();
    let mut out = [0u8; 256];
    let n = p.a.encapsulate(p.now, p.ab, b"late", &mut out).unwrap();
    p.b.remove_peer(p.ba);
    assert_eq!(
        deliver(&mut p.b, p.now, p.addr_a, &out[..n]),
        Got::Dropped(DropReason::UnknownIndex)
    );
}

#[test]
fn encapsulate_needs_room() {
    let mut p = Pair::new();
    p.handshake();
    let mut out = [0u8; 40];
    assert_eq!(
        p.a.encapsulate(p.now, p.ab, &[1; 9], &mut out),
        Err(LinkError::BufferTooSmall)
    );
    assert_eq!(p.a.encapsulate(p.now, p.ab, &[1; 8], &mut out), Ok(40));
    assert_eq!(p.a.drops()[DropReason::BufferTooSmall as usize], 1);
}

#[test]
fn strangers_without_the_psk_cannot_crowd_out_peers() {
    let cfg = LinkConfig {
        static_secret: [2; 32],
        psk: [7; 32],
        max_peers: 2,
    };
    let mut b = Links::new(cfg, Rng::from_seed([1; 32]));
    b.set_accept_unknown(true);
    let mut now = Instant::from_secs(5);
    let mut out = [0u8; 256];
    // A real member (right PSK) joins and confirms its session.
    let mut a = links(1, [7; 32]);
    let ab = a.add_peer(b.public_key()).unwrap();
    let n = a.initiate(now, ab, &mut out).unwrap();
    let Got::Reply(Some(ba), resp) = deliver(&mut b, now, addr("10.0.0.1:1"), &out[..n]) else {
        panic!()
    };
    assert_eq!(
        deliver(&mut a, now, addr("10.0.0.2:1"), &resp),
        Got::Established(ab)
    );
    let (_, n) = a.poll_transmit(now, &mut out).unwrap();
    assert_eq!(
        deliver(&mut b, now, addr("10.0.0.1:1"), &out[..n]),
        Got::Keepalive(ba)
    );
    // Strangers with the wrong PSK: each gets a response it cannot read.
    let mut stranger = |seed: u8, now: Instant, b: &mut Links| {
        let mut s = links(seed, [0; 32]);
        let sb = s.add_peer(b.public_key()).unwrap();
        let n = s.initiate(now, sb, &mut out).unwrap();
        deliver(b, now, addr("10.0.0.9:1"), &out[..n])
    };
    assert!(matches!(stranger(20, now, &mut b), Got::Reply(Some(_), _)));
    // Table full; the first stranger has not had REKEY_TIMEOUT yet.
    assert_eq!(
        stranger(21, now, &mut b),
        Got::Dropped(DropReason::TooManyPeers)
    );
    now += REKEY_TIMEOUT;
    // Now it is evicted for the next stranger; the member never is.
    assert!(matches!(stranger(22, now, &mut b), Got::Reply(Some(_), _)));
    assert_eq!(b.find_peer(&links(20, [0; 32]).public_key()), None);
    assert_eq!(b.find_peer(&a.public_key()), Some(ba));
    now += REKEY_TIMEOUT;
    assert!(matches!(stranger(23, now, &mut b), Got::Reply(Some(_), _)));
    assert_eq!(b.find_peer(&a.public_key()), Some(ba));
    assert!(b.is_established(ba));
}

#[test]
fn only_the_latest_initiation_can_complete() {
    let mut p = Pair::new();
    let mut out = [0u8; 256];
    let n = p.a.initiate(p.now, p.ab, &mut out).unwrap();
    let first = out[..n].to_vec();
    p.advance(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    let (_, n) = p.a.poll_transmit(p.now, &mut out).unwrap();
    let second = out[..n].to_vec();
    assert_ne!(first[4..8], second[4..8], "fresh index");
    let Got::Reply(_, late) = deliver(&mut p.b, p.now, p.addr_a, &first) else {
        panic!()
    };
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &late),
        Got::Dropped(DropReason::UnknownIndex)
    );
    let Got::Reply(_, resp) = deliver(&mut p.b, p.now, p.addr_a, &second) else {
        panic!()
    };
    assert_eq!(
        deliver(&mut p.a, p.now, p.addr_b, &resp),
        Got::Established(p.ab)
    );
    let peer = p.a.peers[usize::from(p.ab.0)].as_ref().unwrap();
    let used = peer
        .slots
        .iter()
        .filter(|s| !matches!(s, peer::Slot::Free))
        .count();
    assert_eq!(used, 1, "no orphaned handshake slots");
}
