//! CPU cost of the packet path: two nodes in memory, one 1280-byte frame
//! encrypted by one and decrypted by the other per round, on one core.
//!   cargo run --release --example pathbench   (N=frames, default 200000)
use ipop::core::node::Node;
use ipop::core::rng::Rng;
use ipop::core::time::Instant;
use std::time::Duration;

#[path = "../tests/common/pair.rs"]
mod pair;
use pair::{addr, cfg, pump, settle};

fn main() {
    let mut now = Instant::from_secs(1);
    let mut a = Node::new(cfg(1, Some(2)), Rng::from_seed([1; 32]), now);
    let mut b = Node::new(cfg(2, None), Rng::from_seed([2; 32]), now);
    let mut wire = vec![0u8; 4096];
    for _ in 0..5 {
        a.handle_timeout(now);
        settle(&mut a, &mut b, now, &mut wire);
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
