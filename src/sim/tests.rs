//! Simulator tests: the ring forms, heals after churn and after a network
//! partition, routes every unicast and delivers every broadcast exactly once.
//! 100-node runs use IPOP 16.01's default settings; 1,000-node runs use
//! small successor/chord counts (as the real-node test does) to stay fast.

use std::time::Duration;

use super::*;
use crate::core::identity::Uid;
use crate::core::rng::Rng;
use crate::core::topology::TopologyConfig;

const MGMT: Duration = Duration::from_secs(15);

fn small() -> TopologyConfig {
    TopologyConfig {
        num_successors: 4,
        num_chords: 8,
        ..TopologyConfig::default()
    }
}

fn world(n: usize, topology: TopologyConfig, seed: u64) -> World {
    let mut w = World::new(SimConfig {
        topology,
        seed,
        ..SimConfig::default()
    });
    w.join_spread(n, Duration::from_secs(60));
    w
}

/// Asserts successors and then chords converge within the given numbers of
/// management intervals.
fn assert_converges(w: &mut World, succ_intervals: u32, all_intervals: u32) {
    let (succ, all) = w.run_until_converged(MGMT * all_intervals);
    let succ = succ.expect("successors never converged");
    eprintln!("converged: successors {succ:?}, chords {all:?}");
    assert!(succ <= MGMT * succ_intervals, "successors took {succ:?}");
    assert!(
        all.is_some(),
        "chords never converged: {} wrong",
        w.chord_errors()
    );
}

/// Every sampled pair routes within `max_hops`; returns the longest route.
fn assert_routes(w: &World, pairs: Option<usize>, max_hops: usize, seed: u8) -> usize {
    let m = w.members();
    let mut longest = 0;
    let mut check = |a: &Uid, b: &Uid| {
        let hops = w
            .route(a, b)
            .unwrap_or_else(|| panic!("{a:?} cannot reach {b:?}"));
        longest = longest.max(hops);
    };
    match pairs {
        None => m.iter().for_each(|a| m.iter().for_each(|b| check(a, b))),
        Some(k) => {
            let mut rng = Rng::from_seed([seed; 32]);
            for _ in 0..k {
                let a = m[rng.below(m.len() as u64) as usize];
                let b = m[rng.below(m.len() as u64) as usize];
                check(&a, &b);
            }
        }
    }
    assert!(longest <= max_hops, "a route took {longest} hops");
    longest
}

/// Broadcasts from `origins` (every member if None) reach each member once.
fn assert_floods(w: &World, origins: Option<usize>) {
    let m = w.members();
    let step = origins.map_or(1, |k| (m.len() / k).max(1));
    for o in m.iter().step_by(step) {
        let got = w.flood(o);
        assert!(
            got.iter().all(|&c| c == 1),
            "flood from {o:?}: counts {:?}",
            counts(&got)
        );
    }
}

fn counts(v: &[u32]) -> [usize; 3] {
    let mut c = [0; 3];
    v.iter().for_each(|&x| c[(x as usize).min(2)] += 1);
    c
}

#[test]
fn ring_of_100_with_16_01_defaults() {
    let mut w = world(100, TopologyConfig::default(), 7);
    // Within 4 management intervals of the last join every successor set is
    // right; chords need a ttl_chord re-check or two (180 s = 12 intervals).
    assert_converges(&mut w, 4, 40);
    // 20 successors + 10 chords: everyone is within 3 hops.
    assert_routes(&w, None, 3, 1);
    assert_floods(&w, None);
    let links = w.links_per_node();
    assert!(links.iter().all(|&l| (20..=100).contains(&l)), "{links:?}");
}

#[test]
fn ring_of_1000() {
    let mut w = world(1000, small(), 11);
    assert_converges(&mut w, 12, 60);
    // 8 chords reach down to 2^152 of the ring, ~4 member spacings at 1,000
    // nodes; greedy routing then takes at most ~log2 of the rest.
    let longest = assert_routes(&w, Some(20_000), 12, 2);
    assert!(longest >= 3);
    assert_floods(&w, Some(25));
}

#[test]
fn churn_of_10_percent_heals() {
    let mut w = world(1000, small(), 13);
    assert_converges(&mut w, 12, 60);
    // 100 nodes crash and 100 new ones join over two minutes.
    for _ in 0..100 {
        w.crash_random();
        w.join();
        w.run_for(Duration::from_millis(1200));
    }
    assert_eq!(w.alive_count(), 1000);
    // Dead links time out after ttl_link_pulse (30 s) plus a cycle.
    assert_converges(&mut w, 16, 60);
    assert_routes(&w, Some(20_000), 12, 3);
    assert_floods(&w, Some(25));
}

#[test]
fn partition_heals_through_pings() {
    let mut w = world(100, TopologyConfig::default(), 17);
    assert_converges(&mut w, 4, 40);
    w.set_partitioned(true);
    w.run_for(Duration::from_secs(600));
    // Each side forgot the other: no unicast crosses the split.
    let m = w.members();
    let side = |u: &Uid| w.node_of(u).map(|n| n.group);
    let cross = m
        .iter()
        .flat_map(|a| m.iter().map(move |b| (a, b)))
        .find(|(a, b)| side(a) != side(b));
    let (a, b) = cross.expect("both sides populated");
    assert_eq!(w.route(a, b), None);
    assert!(w.successor_errors() > 0);
    w.set_partitioned(false);
    // Pings go out every interval_ping = 300 ticks; one or two rounds heal it.
    let (succ, all) = w.run_until_converged(Duration::from_secs(1500));
    assert!(
        succ.is_some() && all.is_some(),
        "{} successor errors",
        w.successor_errors()
    );
    assert_routes(&w, None, 3, 4);
    assert_floods(&w, Some(10));
}

#[test]
fn converges_with_message_loss() {
    let mut cfg = SimConfig {
        topology: small(),
        seed: 19,
        loss_per_million: 10_000,
        ..SimConfig::default()
    };
    cfg.latency_max = Duration::from_millis(300);
    let mut w = World::new(cfg);
    w.join_spread(300, Duration::from_secs(60));
    assert_converges(&mut w, 10, 60);
    assert!(w.stats.lost > 0);
    assert_routes(&w, None, 10, 5);
}

#[test]
fn a_seed_replays_exactly() {
    let run = |seed| {
        let mut w = world(60, small(), seed);
        w.run_for(Duration::from_secs(120));
        (w.stats.clone(), w.members(), w.links_per_node())
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5).0, run(6).0);
}

#[test]
fn bench_reports_a_small_run() {
    let r = bench(40, 3);
    assert_eq!(
        (r.nodes, r.seed, r.pairs, r.unreachable),
        (40, 3, 10_000, 0)
    );
    assert!(r.converged.is_some() && r.successors_converged <= r.converged);
    // 40 nodes with 20 successors each: everyone is within 2 hops.
    assert!(r.hops.3 <= 2 && r.hops.0 >= 1, "{:?}", r.hops);
    assert!(r.links.0 >= 20 && r.links.2 <= 39, "{:?}", r.links);
    let text = r.to_string();
    assert!(
        text.starts_with("nodes                40 (seed 3)\n"),
        "{text}"
    );
    assert!(text.contains("(10000 pairs, 0 unreachable)"), "{text}");
}

#[test]
fn on_demand_link_forms_under_load_and_ages_out() {
    let mut w = world(100, small(), 23);
    assert_converges(&mut w, 12, 60);
    // A pair far apart on the ring, so no successor or chord links them.
    let m = w.members();
    let a = m[0];
    let b = *m
        .iter()
        .find(|b| w.route(&a, b).is_some_and(|h| h >= 2))
        .expect("a distant member");
    let roles = |w: &World| w.topology(&a).map(|t| t.roles(&b)).unwrap_or_default();
    assert_eq!(roles(&w), crate::core::topology::Roles::NONE);
    // 1,000 B/s is above the 128 B/s threshold: within two management
    // cycles the link exists and traffic goes direct.
    for _ in 0..30 {
        w.send_traffic(&a, &b, 1000);
        w.run_for(Duration::from_secs(1));
    }
    assert!(
        roles(&w).contains(crate::core::topology::Roles::ON_DEMAND),
        "{}",
        roles(&w)
    );
    assert_eq!(w.route(&a, &b), Some(1));
    // Load stops: the link lasts ttl_on_demand (240 s) past the last busy
    // cycle, then goes.
    w.run_for(Duration::from_secs(200));
    assert_eq!(w.route(&a, &b), Some(1));
    w.run_for(Duration::from_secs(60));
    assert_eq!(roles(&w), crate::core::topology::Roles::NONE);
    assert!(w.route(&a, &b).is_some_and(|h| h >= 2));
}
