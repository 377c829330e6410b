//! CPU cost of the packet path: two nodes in memory, one 1280-byte frame
//! encrypted by one and decrypted by the other per round, on one core.
//!   cargo run --release --example pathbench   (N=frames, default 200000)

#[path = "../tests/common/pair.rs"]
mod pair;
use pair::{addr, ipv4_frame, linked_pair, pump};

fn main() {
    let mut wire = vec![0u8; 4096];
    let (mut a, mut b, now) = linked_pair(&mut wire);
    let frame = ipv4_frame(1, 2);
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
