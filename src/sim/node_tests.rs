//! Real nodes on the virtual network (see `nodes`). Today's `Node` links
//! every member it learns of (a full mesh), so these runs are small.

use std::time::Duration;

use super::nodes::{NodeNet, NodeNetConfig};
use crate::core::frame::tests::ipv4_frame;

fn established(net: &NodeNet, i: usize) -> usize {
    let now = net.now();
    net.node(i).map_or(0, |n| {
        n.status(now).peers.iter().filter(|p| p.established).count()
    })
}

/// Every node sends one IPv4 frame to every other; returns, per receiver,
/// the sorted source addresses of the frames its TAP got.
fn all_pairs_unicast(net: &mut NodeNet) -> Vec<Vec<[u8; 4]>> {
    let n = net.len();
    for i in 0..n {
        net.take_tap(i);
    }
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            let (Some(sa), Some(sb)) = (net.ip4(a), net.ip4(b)) else {
                continue;
            };
            let f = ipv4_frame(sa.octets(), sb.octets(), 64);
            net.send_from_tap(a, &f);
        }
    }
    net.run_for(Duration::from_secs(1));
    (0..n)
        .map(|b| {
            let mut srcs: Vec<[u8; 4]> = net
                .take_tap(b)
                .iter()
                .filter(|f| {
                    f.len() >= 34 && f[30..34] == net.ip4(b).map(|a| a.octets()).unwrap_or_default()
                })
                .map(|f| [f[26], f[27], f[28], f[29]])
                .collect();
            srcs.sort_unstable();
            srcs
        })
        .collect()
}

fn expected_sources(net: &NodeNet, b: usize) -> Vec<[u8; 4]> {
    let mut v: Vec<[u8; 4]> = (0..net.len())
        .filter(|&a| a != b)
        .filter_map(|a| net.ip4(a))
        .map(|a| a.octets())
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn real_nodes_learn_the_group_from_one_bootstrap_peer() {
    let mut net = NodeNet::new(12, NodeNetConfig::default());
    net.run_for(Duration::from_secs(120));
    for i in 0..net.len() {
        assert_eq!(established(&net, i), 11, "node {i}");
    }
    let got = all_pairs_unicast(&mut net);
    for (b, srcs) in got.iter().enumerate() {
        assert_eq!(srcs, &expected_sources(&net, b), "receiver {b}");
    }
}

#[test]
fn real_nodes_link_through_loss() {
    let cfg = NodeNetConfig {
        seed: 3,
        loss_per_million: 20_000,
        ..NodeNetConfig::default()
    };
    let mut net = NodeNet::new(8, cfg);
    net.run_for(Duration::from_secs(240));
    assert!(net.stats.lost > 0);
    for i in 0..net.len() {
        assert_eq!(established(&net, i), 7, "node {i}");
    }
}

#[test]
fn real_node_runs_replay_exactly() {
    let run = || {
        let mut net = NodeNet::new(
            6,
            NodeNetConfig {
                seed: 9,
                ..NodeNetConfig::default()
            },
        );
        net.run_for(Duration::from_secs(60));
        (
            net.stats.clone(),
            (0..6).map(|i| established(&net, i)).collect::<Vec<_>>(),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn real_nodes_form_a_ring_and_relay() {
    let topology = crate::core::topology::TopologyConfig {
        num_successors: 2,
        num_chords: 3,
        ..Default::default()
    };
    let mut net = NodeNet::new(
        30,
        NodeNetConfig {
            seed: 5,
            topology,
            ..NodeNetConfig::default()
        },
    );
    net.run_for(Duration::from_secs(300));
    let links: Vec<usize> = (0..net.len()).map(|i| established(&net, i)).collect();
    // Not a full mesh (29 links each): successors, chords and inbound only.
    // Node 0 is everyone's static bootstrap peer, which the node keeps
    // linked, so it is the exception.
    assert!(
        links[1..].iter().all(|&l| (2..=20).contains(&l)),
        "{links:?}"
    );
    let got = all_pairs_unicast(&mut net);
    for (b, srcs) in got.iter().enumerate() {
        assert_eq!(srcs, &expected_sources(&net, b), "receiver {b}");
    }
}
