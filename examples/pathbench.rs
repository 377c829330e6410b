use ipop::core::node::{Dest, Node, NodeConfig};
use ipop::core::rng::Rng;
use ipop::core::time::Instant;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
fn public(s: [u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(s)).to_bytes()
}
fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 99, 0, i], 5800))
}
fn cfg(i: u8, peer: Option<u8>) -> NodeConfig {
    NodeConfig {
        ip4: Ipv4Addr::new(10, 0, 3, i),
        ip4_prefix: 24,
        ip6_prefix: ipop::core::identity::DEFAULT_IP6_PREFIX,
        switchmode: false,
        static_secret: [i; 32],
        psk: [9; 32],
        static_peers: peer
            .map(|p| vec![(addr(p), public([p; 32]))])
            .unwrap_or_default(),
        accept_unknown: true,
        max_peers: 8,
        pool_buffers: 32,
        mtu: 1280,
        mac_table: 16,
        gossip_interval: Duration::from_secs(15),
        unix_nanos_at_zero: 0,
        topology: Default::default(),
        stun: Vec::new(),
        turn: Vec::new(),
    }
}
fn pump(from: &mut Node, fa: SocketAddr, to: &mut Node, now: Instant, wire: &mut [u8]) -> usize {
    let mut t = 0;
    while let Some((d, b)) = from.poll_transmit() {
        match d {
            Dest::Udp(_) => {
                let n = b.len();
                wire[..n].copy_from_slice(b);
                to.handle_datagram(now, fa, &mut wire[..n]);
            }
            Dest::Tap => t += 1,
        }
    }
    t
}
fn main() {
    let mut now = Instant::from_secs(1);
    let mut a = Node::new(cfg(1, Some(2)), Rng::from_seed([1; 32]), now);
    let mut b = Node::new(cfg(2, None), Rng::from_seed([2; 32]), now);
    let mut wire = vec![0u8; 4096];
    for _ in 0..5 {
        a.handle_timeout(now);
        for _ in 0..4 {
            pump(&mut a, addr(1), &mut b, now, &mut wire);
            pump(&mut b, addr(2), &mut a, now, &mut wire);
        }
        now += Duration::from_millis(100);
    }
    let mut frame = vec![0u8; 1294];
    frame[12..14].copy_from_slice(&[8, 0]);
    frame[14] = 0x45;
    frame[26..30].copy_from_slice(&[10, 0, 3, 1]);
    frame[30..34].copy_from_slice(&[10, 0, 3, 2]);
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let t0 = std::time::Instant::now();
    let mut got = 0;
    for _ in 0..n {
        a.handle_tap_frame(now, &frame);
        pump(&mut a, addr(1), &mut b, now, &mut wire);
        got += pump(&mut b, addr(2), &mut a, now, &mut wire);
    }
    let el = t0.elapsed();
    println!("{got}/{n} frames, {:.0} ns per frame (encrypt+decrypt), {:.0} Mbit/s of 1280-byte packets on one core", el.as_nanos() as f64 / n as f64, n as f64 * 1280.0 * 8.0 / el.as_secs_f64() / 1e6);
}
