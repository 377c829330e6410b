//! Handshake floods: the work done (counted X25519 operations, not time)
//! stays bounded however many initiations arrive.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::tests::{addr, deliver, links, Got};
use super::*;
use std::net::{IpAddr, Ipv4Addr};

/// A fresh initiation from `m` to its peer 0, bypassing the in-flight check.
fn forge(m: &mut Links, now: Instant) -> Vec<u8> {
    let mut out = [0u8; 256];
    let n = m.start_handshake(now, 0, &mut out).unwrap();
    out[..n].to_vec()
}

/// Distinct initiations with increasing timestamps, made lazily: a flood
/// only needs a new one after the target spent DH work on the last one
/// (making them costs X25519 work too, which is slow in debug builds).
struct Flood {
    m: Links,
    current: Vec<u8>,
    used_dh: u64,
}

impl Flood {
    fn new(m: Links, now: Instant) -> Flood {
        let mut m = m;
        let current = forge(&mut m, now);
        Flood {
            m,
            current,
            used_dh: 0,
        }
    }

    /// The message to send next, with macs made at `now` from the latest cookie.
    fn next(&mut self, target: &Links, now: Instant) -> Vec<u8> {
        if target.dh_operations() != self.used_dh {
            self.used_dh = target.dh_operations();
            self.current = forge(&mut self.m, now);
        }
        let mut msg = self.current.clone();
        self.m.peers[0]
            .as_mut()
            .unwrap()
            .cookies
            .seal(now, &mut msg);
        msg
    }
}

#[test]
fn flood_without_cookies_costs_bounded_dh() {
    let mut b = links(2, [0; 32]);
    let mut m = links(66, [0; 32]); // not in B's table
    m.add_peer(b.public_key()).unwrap();
    let now = Instant::from_secs(50);
    let from = addr("203.0.113.9:666");
    let before = b.dh_operations();
    let n = 2_000u64;
    let mut cookie_replies = 0u64;
    let msg = forge(&mut m, now);
    for _ in 0..n {
        match deliver(&mut b, now, from, &msg) {
            Got::Reply(None, r) => {
                assert_eq!(r.len(), COOKIE_REPLY_LEN);
                cookie_replies += 1
            }
            Got::Dropped(DropReason::UnknownPeer) => {}
            other => panic!("{other:?}"),
        }
    }
    // Only the first UNDER_LOAD_PER_SECOND reached DH (one each: `es`,
    // after which the unknown static key ends it).
    let limit = u64::from(UNDER_LOAD_PER_SECOND);
    assert_eq!(b.dh_operations() - before, limit);
    assert_eq!(cookie_replies, n - limit);
    assert_eq!(b.cookie_replies_sent(), n - limit);
    assert_eq!(b.drops()[DropReason::UnknownPeer as usize], limit);
}

#[test]
fn flood_with_cookie_from_one_address_is_per_ip_limited() {
    let mut b = links(2, [0; 32]);
    let mut m = links(66, [0; 32]);
    m.add_peer(b.public_key()).unwrap();
    b.add_peer(m.public_key()).unwrap(); // worst case: a known peer floods
    let from = addr("203.0.113.9:666");
    let start = Instant::from_secs(50);
    let mut accepted = 0u64;
    let before = b.dh_operations();
    let mut flood = Flood::new(m, start);
    // 200 initiations per second for 10 seconds, each answered at once.
    for i in 0..2_000u64 {
        let now = start + Duration::from_millis(5 * i);
        let msg = flood.next(&b, now);
        match deliver(&mut b, now, from, &msg) {
            Got::Reply(Some(_), _) => accepted += 1,
            Got::Reply(None, cookie) => {
                assert_eq!(
                    deliver(&mut flood.m, now, addr("192.0.2.2:1"), &cookie),
                    Got::Cookie(PeerId(0))
                )
            }
            Got::Dropped(DropReason::RateLimited) => {}
            other => panic!("{other:?}"),
        }
    }
    let secs = 10;
    let bound = u64::from(UNDER_LOAD_PER_SECOND) * secs
        + u64::from(PER_IP_BURST)
        + u64::from(PER_IP_PER_SECOND) * secs;
    assert!(accepted <= bound, "{accepted} > {bound}");
    assert!(
        accepted >= u64::from(UNDER_LOAD_PER_SECOND) * secs,
        "service continues: {accepted}"
    );
    // A served initiation from a known peer costs exactly four X25519 operations.
    assert_eq!(b.dh_operations() - before, 4 * accepted);
}

#[test]
fn flood_from_many_addresses_hits_the_global_cap() {
    let mut b = links(2, [0; 32]);
    let mut m = links(66, [0; 32]);
    m.add_peer(b.public_key()).unwrap();
    b.add_peer(m.public_key()).unwrap();
    let start = Instant::from_secs(50);
    let mut accepted = 0u64;
    let mut flood = Flood::new(m, start);
    // 1 second, 1000 distinct source addresses, each fetching its own cookie.
    for i in 0..1000u32 {
        let now = start + Duration::from_millis(u64::from(i));
        let ip = Ipv4Addr::from(0x0a00_0000 + i);
        let from = SocketAddr::new(IpAddr::V4(ip), 5000);
        for _ in 0..2 {
            let msg = flood.next(&b, now);
            match deliver(&mut b, now, from, &msg) {
                Got::Reply(Some(_), _) => accepted += 1,
                Got::Reply(None, cookie) => {
                    assert_eq!(
                        deliver(&mut flood.m, now, addr("192.0.2.2:1"), &cookie),
                        Got::Cookie(PeerId(0))
                    );
                }
                Got::Dropped(DropReason::RateLimited) => {}
                other => panic!("{other:?}"),
            }
        }
    }
    let bound = u64::from(GLOBAL_DH_PER_SECOND) * (1 + 1);
    assert!(accepted <= bound, "{accepted} > {bound}");
    assert!(b.drops()[DropReason::RateLimited as usize] > 0);
}

#[test]
fn legitimate_peer_gets_through_a_flood() {
    let mut a = links(1, [0; 32]);
    let mut b = links(2, [0; 32]);
    let mut m = links(66, [0; 32]);
    let ab = a.add_peer(b.public_key()).unwrap();
    b.add_peer(a.public_key()).unwrap();
    m.add_peer(b.public_key()).unwrap();
    let (addr_a, addr_b, addr_m) = (
        addr("192.0.2.1:1"),
        addr("192.0.2.2:1"),
        addr("203.0.113.9:1"),
    );
    let start = Instant::from_secs(50);
    let mut out = [0u8; 256];
    let mut established = None;
    // The attacker replays one initiation (its content is irrelevant: the
    // limiter runs before any DH).
    let junk = forge(&mut m, start);
    for i in 0..3_000u64 {
        let now = start + Duration::from_millis(2 * i);
        deliver(&mut b, now, addr_m, &junk);
        if i == 100 {
            let n = a.initiate(now, ab, &mut out).unwrap();
            let Got::Reply(None, cookie) = deliver(&mut b, now, addr_a, &out[..n]) else {
                panic!()
            };
            assert_eq!(deliver(&mut a, now, addr_b, &cookie), Got::Cookie(ab));
        }
        while let Some((_, n)) = a.poll_transmit(now, &mut out) {
            if let Got::Reply(Some(_), resp) = deliver(&mut b, now, addr_a, &out[..n]) {
                assert_eq!(deliver(&mut a, now, addr_b, &resp), Got::Established(ab));
                established.get_or_insert(now);
            }
        }
    }
    // The retransmit after REKEY_TIMEOUT carried mac2 and was served.
    let at = established.unwrap();
    assert!(at - start <= REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX + Duration::from_millis(100));
}
