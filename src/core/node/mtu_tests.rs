//! Path MTU probing, fragmentation and MSS clamping between two nodes on a
//! virtual network whose path carries fewer bytes than the TAP sends.

use super::tests::{config, Net};
use super::*;
use crate::core::frame::tests::ipv4_frame;

fn drop_count(n: &mut Node, now: Instant, name: &str) -> u64 {
    n.status(now)
        .drops
        .iter()
        .find(|d| d.0 == name)
        .map_or(0, |d| d.1)
}

/// Two switch-mode nodes with 1500-byte TAPs over a path of `path_mtu`.
fn pair(path_mtu: usize) -> Net {
    let mut cfgs = vec![(1, config(1, &[2], true)), (2, config(2, &[], true))];
    for (_, c) in cfgs.iter_mut() {
        c.mtu = 1500;
    }
    let mut net = Net::from_configs(cfgs);
    net.path_mtu = Some(path_mtu);
    net
}

#[test]
fn path_mtu_is_found_without_icmp() {
    let mut net = pair(1400);
    net.advance(Duration::from_secs(30));
    let now = net.now;
    for i in [1, 2] {
        let st = net.node(i).status(now);
        assert_eq!(st.peers[0].path_mtu, Some((1400, false)), "node {i}");
    }
    // Nothing larger than the path ever crossed it (the probes above it
    // were lost, as the path loses them).
    assert_eq!(net.largest, 1500 - 28);
}

#[test]
fn full_ethernet_frames_cross_a_smaller_path_in_pieces() {
    let mut net = pair(1280);
    net.advance(Duration::from_secs(30));
    let now = net.now;
    assert_eq!(
        net.node(1).status(now).peers[0].path_mtu,
        Some((1280, false))
    );
    net.largest = 0;
    net.path_mtu = Some(1280);
    for len in [1400usize, 1486, 1500] {
        let f = ipv4_frame([10, 0, 3, 1], [10, 0, 3, 2], len);
        net.node(1).handle_tap_frame(now, &f);
        net.drain();
        assert_eq!(
            net.tap_of(2).pop().as_deref(),
            Some(&f[..]),
            "{len}-byte packet"
        );
    }
    assert!(
        net.largest + 28 <= 1280,
        "a datagram of {} bytes",
        net.largest
    );
    // A small frame still goes whole.
    let f = ipv4_frame([10, 0, 3, 2], [10, 0, 3, 1], 100);
    net.node(2).handle_tap_frame(now, &f);
    net.drain();
    assert_eq!(net.tap_of(1).pop().as_deref(), Some(&f[..]));
    for name in fragment::FragDrop::ALL.map(|d| d.as_str()) {
        assert_eq!(drop_count(net.node(2), now, name), 0, "{name}");
    }
}

#[test]
fn a_lost_piece_is_counted_once_it_times_out() {
    let mut net = pair(1280);
    net.advance(Duration::from_secs(30));
    let now = net.now;
    let f = ipv4_frame([10, 0, 3, 1], [10, 0, 3, 2], 1500);
    net.node(1).handle_tap_frame(now, &f);
    // Deliver only the first datagram.
    let (dest, first) = net
        .node(1)
        .poll_transmit()
        .map(|(d, b)| (d, b.to_vec()))
        .unwrap();
    assert!(matches!(dest, Dest::Udp(_)));
    while net.node(1).poll_transmit().is_some() {}
    let mut first = first;
    net.node(2).handle_datagram(now, tests::addr(1), &mut first);
    assert!(net.tap_of(2).is_empty());
    net.advance(fragment::TIMEOUT + Duration::from_millis(10));
    let now = net.now;
    assert_eq!(drop_count(net.node(2), now, "frag_incomplete"), 1);
    assert!(net.tap_of(2).is_empty());
}

/// A TCP SYN 10.0.3.1 -> 10.0.3.2 with MSS 1460, in an Ethernet frame.
fn syn() -> Vec<u8> {
    let mut f = ipv4_frame([10, 0, 3, 1], [10, 0, 3, 2], 44);
    f[16..18].copy_from_slice(&44u16.to_be_bytes());
    f[23] = 6;
    f[34 + 12] = 6 << 4;
    f[34 + 13] = 0x02;
    f[34 + 20..34 + 24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
    f
}

#[test]
fn syns_get_an_mss_that_fits_one_datagram() {
    let mut net = pair(1400);
    net.advance(Duration::from_secs(30));
    let now = net.now;
    net.node(1).handle_tap_frame(now, &syn());
    net.drain();
    let got = net.tap_of(2).pop().expect("SYN delivered");
    // 1400 - 20 IP - 8 UDP - 32 link - 1 FRAME - 14 Ethernet - 20 IP - 20 TCP.
    let mss = u16::from_be_bytes([got[34 + 22], got[34 + 23]]);
    assert_eq!(mss, 1285);
    // A full segment at that MSS (plus 12 bytes of timestamps) goes in one
    // datagram: nothing is fragmented.
    net.largest = 0;
    let seg = ipv4_frame(
        [10, 0, 3, 1],
        [10, 0, 3, 2],
        20 + 20 + 12 + usize::from(mss),
    );
    net.node(1).handle_tap_frame(now, &seg);
    net.drain();
    assert_eq!(net.tap_of(2).pop().map(|f| f.len()), Some(seg.len()));
    assert!(net.largest + 28 <= 1400);

    // With clamping off, the SYN crosses unchanged.
    let mut cfgs = vec![(1, config(1, &[2], true)), (2, config(2, &[], true))];
    for (_, c) in cfgs.iter_mut() {
        c.mtu = 1500;
        c.mss_clamp = false;
    }
    let mut net = Net::from_configs(cfgs);
    net.advance(Duration::from_secs(5));
    let now = net.now;
    net.node(1).handle_tap_frame(now, &syn());
    net.drain();
    assert_eq!(net.tap_of(2).pop(), Some(syn()));
}

#[test]
fn relayed_frames_are_cut_and_rejoined_on_every_hop() {
    // 1 and 3 know only 2, and cannot reach each other: 1's frames to 3
    // go ROUTED through 2, in pieces on both hops.
    let mut cfgs = vec![
        (1, config(1, &[2], false)),
        (2, config(2, &[], false)),
        (3, config(3, &[2], false)),
    ];
    for (_, c) in cfgs.iter_mut() {
        c.mtu = 1500;
    }
    let mut net = Net::from_configs(cfgs);
    net.cut.push((tests::addr(1), tests::addr(3)));
    net.path_mtu = Some(1280);
    net.advance(Duration::from_secs(40));
    let now = net.now;
    let st = net.node(1).status(now);
    let to3 = st
        .peers
        .iter()
        .find(|p| p.ip4 == Some(Ipv4Addr::new(10, 0, 3, 3)));
    assert_eq!(
        to3.map(|p| (p.established, p.path)),
        Some((false, "relay-overlay"))
    );
    net.largest = 0;
    let f = ipv4_frame([10, 0, 3, 1], [10, 0, 3, 3], 1500);
    net.node(1).handle_tap_frame(now, &f);
    net.drain();
    let got = net.tap_of(3).pop().expect("relayed frame delivered");
    assert_eq!(got[6..], f[6..]);
    assert!(net.largest + 28 <= 1280, "a {}-byte datagram", net.largest);
    assert_eq!(
        net.node(2)
            .status(now)
            .peers
            .iter()
            .map(|p| p.forwarded_packets)
            .sum::<u64>(),
        1
    );
}
