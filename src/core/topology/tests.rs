//! Unit tests with exact inputs and times. `u(x)` is the UID whose first byte
//! is `x` (the rest zero), so ring order is the order of `x`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use core::time::Duration;

use super::wire::{self, ChordMsg};
use super::*;

fn u(b: u8) -> Uid {
    let mut x = [0u8; 20];
    x[0] = b;
    Uid(x)
}

fn t(s: u64) -> Instant {
    Instant::from_secs(s)
}

fn cfg() -> TopologyConfig {
    TopologyConfig {
        num_successors: 2,
        num_chords: 2,
        num_on_demand: 1,
        num_inbound: 1,
        ..Default::default()
    }
}

fn topo(me: u8) -> Topology {
    Topology::new(cfg(), u(me), Rng::from_seed([me; 32]))
}

fn actions(tp: &mut Topology) -> Vec<Action> {
    core::iter::from_fn(|| tp.poll_action()).collect()
}

fn transmits(tp: &mut Topology) -> Vec<(Uid, Vec<u8>)> {
    let mut buf = [0u8; 512];
    core::iter::from_fn(|| {
        tp.poll_transmit(&mut buf)
            .map(|x| (x.via, buf[..x.len].to_vec()))
    })
    .collect()
}

fn connect(uid: u8, role: LinkRole) -> Action {
    Action::Connect { uid: u(uid), role }
}

/// Brings links to `uids` up as successors requested by us.
fn linked(me: u8, uids: &[u8]) -> Topology {
    let mut tp = topo(me);
    for &x in uids {
        tp.handle_discovered(t(0), u(x));
    }
    tp.handle_timeout(t(1));
    for a in actions(&mut tp) {
        if let Action::Connect { uid, .. } = a {
            tp.handle_link_up(t(1), uid);
        }
    }
    tp
}

#[test]
fn timers_follow_ticks() {
    let mut tp = topo(0x10);
    assert_eq!(tp.poll_timeout(), None);
    tp.handle_discovered(t(100), u(0x20));
    // First cycle one tick after start, then every 15 ticks; pings every 300.
    assert_eq!(tp.poll_timeout(), Some(t(101)));
    tp.handle_timeout(t(101));
    assert_eq!(tp.poll_timeout(), Some(t(116)));
    for s in (116..=386).step_by(15) {
        tp.handle_timeout(t(s));
    }
    assert_eq!(tp.poll_timeout(), Some(t(400)));
    assert_eq!(tp.stats().management_cycles, 20);
    // Sleeping through many cycles skips them rather than catching up.
    tp.handle_timeout(t(1000));
    assert_eq!(tp.poll_timeout(), Some(t(1015)));
}

#[test]
fn successors_are_the_closest_clockwise() {
    let mut tp = topo(0x10);
    for x in [0x05, 0x30, 0x20, 0xf0] {
        tp.handle_discovered(t(0), u(x));
    }
    tp.handle_timeout(t(1));
    assert_eq!(
        actions(&mut tp),
        vec![
            connect(0x20, LinkRole::Successor),
            connect(0x30, LinkRole::Successor)
        ]
    );
    assert_eq!(tp.roles(&u(0x20)), Roles::SUCCESSOR);
    // A closer member advertised by a peer replaces the farthest successor.
    tp.handle_link_up(t(2), u(0x20));
    tp.handle_link_up(t(2), u(0x30));
    let mut adv = [0u8; 64];
    let n = wire::emit_advertise(&mut adv, [u(0x11)].into_iter()).unwrap();
    tp.handle_control(t(3), u(0x20), &adv[..n]);
    tp.handle_timeout(t(16));
    assert_eq!(
        actions(&mut tp),
        vec![
            Action::Disconnect { uid: u(0x30) },
            connect(0x11, LinkRole::Successor)
        ]
    );
    assert_eq!(tp.linked(), &[u(0x20)]);
}

#[test]
fn race_rule_smaller_uid_answers() {
    let mut small = topo(0x10);
    let mut large = topo(0x20);
    small.handle_discovered(t(0), u(0x20));
    large.handle_discovered(t(0), u(0x10));
    small.handle_timeout(t(1));
    large.handle_timeout(t(1));
    assert_eq!(
        actions(&mut small),
        vec![connect(0x20, LinkRole::Successor)]
    );
    assert_eq!(
        actions(&mut large),
        vec![connect(0x10, LinkRole::Successor)]
    );
    // Both requests cross: only the smaller UID accepts.
    assert!(small.handle_link_request(t(1), u(0x20), LinkRole::Successor));
    assert!(!large.handle_link_request(t(1), u(0x10), LinkRole::Successor));
    assert_eq!(
        small.roles(&u(0x20)),
        Roles(Roles::SUCCESSOR.0 | Roles::INBOUND.0)
    );
    // A repeated request for a link already accepted is answered again.
    assert!(small.handle_link_request(t(2), u(0x20), LinkRole::Successor));
    assert!(!small.handle_link_request(t(2), u(0x10), LinkRole::Successor));
}

#[test]
fn inbound_cap_spares_successor_requests() {
    // max_links = 2 + 2 + 1 + 1 = 6.
    let mut tp = topo(0x80);
    for x in 1..=6 {
        assert!(tp.handle_link_request(t(0), u(x), LinkRole::Chord));
    }
    assert!(!tp.handle_link_request(t(0), u(7), LinkRole::Chord));
    assert!(!tp.handle_link_request(t(0), u(8), LinkRole::OnDemand));
    assert!(tp.handle_link_request(t(0), u(9), LinkRole::Successor));
    assert_eq!(tp.roles(&u(9)), Roles::INBOUND);
    assert_eq!(tp.roles(&u(7)), Roles::NONE);
}

#[test]
fn ttls_detect_dead_links() {
    let mut tp = topo(0x10);
    tp.handle_discovered(t(0), u(0x20));
    tp.handle_discovered(t(0), u(0x30));
    tp.handle_timeout(t(1));
    actions(&mut tp);
    tp.handle_link_up(t(5), u(0x30));
    // 0x20 never comes up: gone at the first cycle at or after 1 + 60 s.
    // 0x30 came up at 5 s and never showed life again: gone at 5 + 30 s.
    for s in (16..=46).step_by(15) {
        tp.handle_timeout(t(s));
    }
    assert_eq!(
        actions(&mut tp),
        vec![
            Action::Disconnect { uid: u(0x30) },
            connect(0x30, LinkRole::Successor)
        ]
    );
    tp.handle_timeout(t(61));
    // 0x20 timed out before ever coming up and is no longer a candidate;
    // 0x30 (asked again at 46 s) is still linking.
    assert_eq!(actions(&mut tp), vec![Action::Disconnect { uid: u(0x20) }]);
    assert_eq!(tp.stats().link_timeouts, 2);
    tp.handle_timeout(t(76));
    assert_eq!(actions(&mut tp), vec![]);
    // A pulse keeps a link alive.
    tp.handle_link_up(t(80), u(0x30));
    for s in (91..=181).step_by(15) {
        tp.handle_link_up(t(s), u(0x30));
        tp.handle_timeout(t(s));
    }
    assert_eq!(tp.linked(), &[u(0x30)]);
}

#[test]
fn advertisement_lists_links_closest_to_the_receiver() {
    let mut tp = linked(0x10, &[0x20, 0x30]);
    assert_eq!(tp.linked(), &[u(0x20), u(0x30)]);
    tp.handle_link_request(t(2), u(0x05), LinkRole::Successor);
    tp.handle_link_up(t(2), u(0x05));
    tp.handle_link_request(t(2), u(0x90), LinkRole::Successor);
    tp.handle_link_up(t(2), u(0x90));
    tp.handle_timeout(t(16));
    let mut sent: Vec<_> = transmits(&mut tp)
        .into_iter()
        .filter(|(_, b)| b[0] == wire::TYPE_ADVERTISE)
        .collect();
    sent.sort();
    let advert = |list: &[u8]| {
        let mut b = [0u8; 64];
        let n = wire::emit_advertise(&mut b, list.iter().map(|&x| u(x))).unwrap();
        b[..n].to_vec()
    };
    // num_successors = 2 entries each, clockwise from the receiver.
    assert_eq!(
        sent,
        vec![
            (u(0x05), advert(&[0x20, 0x30])),
            (u(0x20), advert(&[0x30, 0x90])),
            (u(0x30), advert(&[0x90, 0x05])),
            (u(0x90), advert(&[0x05, 0x20])),
        ]
    );
    assert_eq!(tp.stats().adverts_sent, 4);
    assert_eq!(tp.max_message_len(), 63);
    let defaults = Topology::new(TopologyConfig::default(), u(1), Rng::from_seed([0; 32]));
    assert_eq!(defaults.max_message_len(), 402);
}

#[test]
fn chord_search_and_answer() {
    // Node 0x00 with links 0x10, 0x40; chord 0 targets 0x80, chord 1 0x40.
    let mut tp = linked(0x00, &[0x10, 0x40]);
    tp.handle_timeout(t(16));
    let chords: Vec<_> = transmits(&mut tp)
        .into_iter()
        .filter(|(_, b)| b[0] == wire::TYPE_FIND_CHORD)
        .collect();
    let find = |target: u8, index: u8, hops: u8| ChordMsg::Find {
        hops_left: hops,
        index,
        src: u(0x00),
        target: u(target),
    };
    let mut buf = [0u8; 64];
    let n = wire::emit_chord(&mut buf, &find(0x80, 0, 63)).unwrap();
    // Chord 0 goes greedily to 0x40; chord 1 targets 0x40 itself, linked.
    assert_eq!(chords[0], (u(0x40), buf[..n].to_vec()));
    assert_eq!(chords.len(), 2);

    // At 0x40 (links 0x60, 0x90) the search for 0x80 moves to 0x60 ...
    let mut mid = linked(0x40, &[0x60, 0x90]);
    mid.handle_link_request(t(2), u(0x00), LinkRole::Successor);
    mid.handle_link_up(t(2), u(0x00));
    transmits(&mut mid);
    mid.handle_control(t(20), u(0x00), &buf[..n]);
    let fwd = transmits(&mut mid);
    let n2 = wire::emit_chord(&mut buf, &find(0x80, 0, 62)).unwrap();
    assert_eq!(fwd, vec![(u(0x60), buf[..n2].to_vec())]);

    // ... where nothing is in (0x60, 0x80]: 0x60 answers with its nearest
    // successor 0x90, routed exactly back toward 0x00.
    let mut end = linked(0x60, &[0x90, 0xf0]);
    end.handle_link_request(t(2), u(0x40), LinkRole::Successor);
    end.handle_link_up(t(2), u(0x40));
    transmits(&mut end);
    end.handle_control(t(20), u(0x40), &buf[..n2]);
    let reply = transmits(&mut end);
    let found = ChordMsg::Found {
        hops_left: 63,
        index: 0,
        dst: u(0x00),
        target: u(0x80),
        found: u(0x90),
    };
    let n3 = wire::emit_chord(&mut buf, &found).unwrap();
    assert_eq!(reply, vec![(u(0xf0), buf[..n3].to_vec())]);

    // Back at 0x00 the answer makes 0x90 a chord.
    tp.handle_control(t(21), u(0x10), &buf[..n3]);
    assert_eq!(actions(&mut tp), vec![connect(0x90, LinkRole::Chord)]);
    assert_eq!(tp.chord(0), Some((u(0x80), Some(u(0x90)))));
    assert_eq!(tp.roles(&u(0x90)), Roles::CHORD);
    // A stale answer (wrong target for the index) is counted and ignored.
    let stale = ChordMsg::Found {
        hops_left: 9,
        index: 1,
        dst: u(0x00),
        target: u(0x80),
        found: u(0x91),
    };
    let n4 = wire::emit_chord(&mut buf, &stale).unwrap();
    tp.handle_control(t(22), u(0x10), &buf[..n4]);
    assert_eq!(tp.stats().dropped(DropReason::Stale), 1);
}

#[test]
fn lost_chord_is_searched_again() {
    let mut tp = linked(0x00, &[0x10, 0x40]);
    let found = ChordMsg::Found {
        hops_left: 9,
        index: 0,
        dst: u(0x00),
        target: u(0x80),
        found: u(0x90),
    };
    let mut buf = [0u8; 64];
    let n = wire::emit_chord(&mut buf, &found).unwrap();
    tp.handle_control(t(2), u(0x10), &buf[..n]);
    tp.handle_link_up(t(3), u(0x90));
    transmits(&mut tp);
    actions(&mut tp);
    tp.handle_link_down(t(4), u(0x90));
    assert_eq!(tp.chord(0), Some((u(0x80), None)));
    tp.handle_timeout(t(16));
    let searches = transmits(&mut tp)
        .into_iter()
        .filter(|(_, b)| b[0] == wire::TYPE_FIND_CHORD)
        .count();
    assert_eq!(searches, 2);
}

#[test]
fn on_demand_links_follow_traffic() {
    let mut tp = linked(0x10, &[0x20, 0x30]);
    let tick = |tp: &mut Topology, s: u64| {
        tp.handle_link_up(t(s), u(0x20));
        tp.handle_link_up(t(s), u(0x30));
        tp.handle_timeout(t(s));
    };
    tick(&mut tp, 16);
    actions(&mut tp);
    // 128 B/s over a 15 s cycle is 1920 bytes: 1919 is not enough.
    tp.handle_traffic(u(0xa0), 1919);
    tick(&mut tp, 31);
    assert_eq!(actions(&mut tp), vec![]);
    tp.handle_traffic(u(0xa0), 1000);
    tp.handle_traffic(u(0xa0), 920);
    tick(&mut tp, 46);
    assert_eq!(actions(&mut tp), vec![connect(0xa0, LinkRole::OnDemand)]);
    tp.handle_link_up(t(47), u(0xa0));
    // Busy cycles renew it; it lapses ttl_on_demand after the last busy cycle (136 s).
    for s in (61..=136).step_by(15) {
        tp.handle_traffic(u(0xa0), 5000);
        tp.handle_link_up(t(s), u(0xa0));
        tick(&mut tp, s);
    }
    for s in (151..=361).step_by(15) {
        tp.handle_link_up(t(s), u(0xa0));
        tick(&mut tp, s);
        assert_eq!(tp.roles(&u(0xa0)), Roles::ON_DEMAND, "at {s}");
        actions(&mut tp); // the ping round at 300 s
    }
    tick(&mut tp, 376);
    assert_eq!(actions(&mut tp), vec![Action::Disconnect { uid: u(0xa0) }]);
    // num_on_demand = 1: two busy destinations get one link.
    tp.handle_traffic(u(0xb0), 1_000_000);
    tp.handle_traffic(u(0xc0), 1_000_000);
    tick(&mut tp, 391);
    assert_eq!(actions(&mut tp).len(), 1);
}

#[test]
fn pings_heal_partitions() {
    let mut tp = Topology::new(
        TopologyConfig {
            num_pings: 2,
            ..cfg()
        },
        u(0x10),
        Rng::from_seed([1; 32]),
    );
    // A ping is answered and makes the pinger a candidate.
    tp.handle_signal_ping(t(0), u(0x70));
    assert_eq!(actions(&mut tp), vec![Action::PingReply { to: u(0x70) }]);
    for x in [0x80, 0x90] {
        tp.handle_discovered(t(0), u(x));
    }
    tp.handle_timeout(t(1));
    assert_eq!(
        actions(&mut tp),
        vec![
            connect(0x70, LinkRole::Successor),
            connect(0x80, LinkRole::Successor)
        ]
    );
    // Every interval_ping = 300 ticks: num_pings distinct known members.
    for s in (16..=286).step_by(15).chain([300]) {
        tp.handle_link_up(t(s), u(0x70));
        tp.handle_link_up(t(s), u(0x80));
        tp.handle_timeout(t(s));
    }
    let pings: Vec<_> = actions(&mut tp)
        .into_iter()
        .filter(|a| matches!(a, Action::Ping { .. }))
        .collect();
    assert_eq!(pings.len(), 2);
    assert_ne!(pings[0], pings[1]);
    assert!(pings.iter().all(|p| [0x70, 0x80, 0x90]
        .map(|x| Action::Ping { to: u(x) })
        .contains(p)));
    // The answer from a member of another ring makes it a successor.
    tp.handle_signal_ping_reply(t(300), u(0x11));
    tp.handle_timeout(t(301));
    assert_eq!(
        actions(&mut tp),
        vec![
            Action::Disconnect { uid: u(0x80) },
            connect(0x11, LinkRole::Successor)
        ]
    );
}

#[test]
fn bad_control_is_counted() {
    let mut tp = linked(0x10, &[0x20]);
    tp.handle_control(t(2), u(0x99), &[1, 0]);
    tp.handle_control(t(2), u(0x20), &[7, 7, 7]);
    tp.handle_control(t(2), u(0x20), &[]);
    let dead = ChordMsg::Find {
        hops_left: 0,
        index: 0,
        src: u(0x50),
        target: u(0x60),
    };
    let mut buf = [0u8; 64];
    let n = wire::emit_chord(&mut buf, &dead).unwrap();
    tp.handle_control(t(2), u(0x20), &buf[..n]);
    assert_eq!(tp.stats().dropped(DropReason::NotLinked), 1);
    assert_eq!(tp.stats().dropped(DropReason::Malformed), 2);
    assert_eq!(tp.stats().dropped(DropReason::HopLimit), 1);
    assert_eq!(transmits(&mut tp), vec![]);
}

#[test]
fn next_hop_is_greedy_clockwise() {
    let tp = linked(0x10, &[0x20, 0x30, 0x80, 0xf0]);
    assert_eq!(tp.linked().len(), 2);
    let mut tp = tp;
    for x in [0x80, 0xf0] {
        tp.handle_link_request(t(2), u(x), LinkRole::Chord);
        tp.handle_link_up(t(2), u(x));
    }
    assert_eq!(tp.next_hop(&u(0x30)), Some(u(0x30)));
    assert_eq!(tp.next_hop(&u(0x7f)), Some(u(0x30)));
    assert_eq!(tp.next_hop(&u(0x85)), Some(u(0x80)));
    assert_eq!(tp.next_hop(&u(0x05)), Some(u(0xf0)));
    assert_eq!(tp.next_hop(&u(0x15)), None);
    assert_eq!(tp.next_hop(&u(0x10)), None);
    let mut out = heapless::Vec::<(Uid, Uid), 8>::new();
    tp.flood_targets(&u(0x10), &mut out);
    assert_eq!(
        &out[..],
        &[
            (u(0x20), u(0x30)),
            (u(0x30), u(0x80)),
            (u(0x80), u(0xf0)),
            (u(0xf0), u(0x10))
        ]
    );
    // A link the topology never asked for is adopted as inbound.
    tp.handle_link_up(t(3), u(0x50));
    assert_eq!(tp.roles(&u(0x50)), Roles::INBOUND);
    assert_eq!(tp.links().filter(|l| l.state == LinkState::Up).count(), 5);
    let _ = Duration::ZERO;
}

#[test]
fn refused_chord_waits_for_its_recheck() {
    let mut tp = linked(0x00, &[0x10, 0x40]);
    let found = ChordMsg::Found {
        hops_left: 9,
        index: 0,
        dst: u(0x00),
        target: u(0x80),
        found: u(0x90),
    };
    let mut buf = [0u8; 64];
    let n = wire::emit_chord(&mut buf, &found).unwrap();
    tp.handle_control(t(2), u(0x10), &buf[..n]);
    assert_eq!(actions(&mut tp), vec![connect(0x90, LinkRole::Chord)]);
    let mut searches_for_0 = Vec::new();
    for s in (16..=196).step_by(15) {
        tp.handle_link_up(t(s), u(0x10));
        tp.handle_link_up(t(s), u(0x40));
        tp.handle_timeout(t(s));
        let finds = transmits(&mut tp)
            .iter()
            .filter(|(_, b)| b[0] == wire::TYPE_FIND_CHORD && b[2] == 0)
            .count();
        if finds > 0 {
            searches_for_0.push(s);
        }
        if s == 76 {
            // The link never came up (refused): closed at the first cycle
            // past 2 + 60 s, but the slot still names the member.
            assert_eq!(actions(&mut tp), vec![Action::Disconnect { uid: u(0x90) }]);
            assert_eq!(tp.chord(0), Some((u(0x80), Some(u(0x90)))));
        }
    }
    // Searched again only at its ttl_chord re-check (2 + 180 s).
    assert_eq!(searches_for_0, vec![196]);
    // The same answer asks for the link again.
    tp.handle_control(t(197), u(0x10), &buf[..n]);
    assert!(actions(&mut tp).contains(&connect(0x90, LinkRole::Chord)));
}
