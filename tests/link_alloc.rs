//! The link layer's steady state allocates nothing: a counting global
//! allocator watches two `Links` exchange data for 200 virtual seconds,
//! including keepalives and a rekey handshake.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;

use ipop::core::link::{LinkConfig, Links, Received};
use ipop::core::rng::Rng;
use ipop::core::time::Instant;

struct Counting;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: thread-locals may be gone while a thread exits.
        let _ = WATCHING.try_with(|w| {
            if w.get() {
                let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
            }
        });
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn links(seed: u8) -> Links {
    let cfg = LinkConfig {
        static_secret: [seed; 32],
        psk: [9; 32],
        max_peers: 16,
    };
    Links::new(cfg, Rng::from_seed([seed; 32]))
}

/// Delivers `dg` to `to`; a reply goes straight back to `back`.
fn deliver(to: &mut Links, back: &mut Links, now: Instant, from: SocketAddr, dg: &mut [u8]) -> u64 {
    let mut out = [0u8; 256];
    let mut data = 0;
    match to.receive(now, from, dg, &mut out) {
        Received::Data { payload, .. } => {
            assert_eq!(payload.len(), 1200);
            data = 1;
        }
        Received::Reply { len, .. } => {
            let mut reply = [0u8; 256];
            reply[..len].copy_from_slice(&out[..len]);
            let mut scratch = [0u8; 256];
            let r = back.receive(now, from, &mut reply[..len], &mut scratch);
            assert!(matches!(r, Received::Established { .. }), "{r:?}");
        }
        Received::Keepalive { .. } | Received::Established { .. } => {}
        other => panic!("{other:?}"),
    }
    data
}

#[test]
fn steady_state_allocates_nothing() {
    let mut a = links(1);
    let mut b = links(2);
    let ab = a.add_peer(b.public_key()).unwrap();
    let ba = b.add_peer(a.public_key()).unwrap();
    a.set_persistent_keepalive(ab, Some(Duration::from_secs(25)));
    let addr: SocketAddr = "192.0.2.1:1".parse().unwrap();
    let mut now = Instant::from_secs(1);
    let mut dg = [0u8; 1500];
    let n = a.initiate(now, ab, &mut dg).unwrap();
    deliver(&mut b, &mut a, now, addr, &mut dg[..n]);

    let payload = [0x42u8; 1200];
    let mut delivered = 0;
    // The counter itself works.
    WATCHING.with(|w| w.set(true));
    let probe = std::hint::black_box(Box::new(1u8));
    WATCHING.with(|w| w.set(false));
    drop(probe);
    assert_eq!(ALLOCATIONS.with(|a| a.replace(0)), 1);

    WATCHING.with(|w| w.set(true));
    for _ in 0..800 {
        now += Duration::from_millis(250);
        for turn in 0..2 {
            let (from, to, peer) = if turn == 0 {
                (&mut a, &mut b, ab)
            } else {
                (&mut b, &mut a, ba)
            };
            while let Some((_, n)) = from.poll_transmit(now, &mut dg) {
                deliver(to, from, now, addr, &mut dg[..n]);
            }
            if let Ok(n) = from.encapsulate(now, peer, &payload, &mut dg) {
                delivered += deliver(to, from, now, addr, &mut dg[..n]);
            }
            let _ = from.poll_timeout();
        }
    }
    WATCHING.with(|w| w.set(false));
    let allocations = ALLOCATIONS.with(Cell::get);
    assert_eq!(allocations, 0);
    // Everything arrived, across the rekey at 120 s.
    assert_eq!(delivered, 1600);
    assert!(a.stats(ab).unwrap().last_handshake.unwrap() > Instant::from_secs(120));
    assert_eq!(
        a.drops().iter().sum::<u64>() + b.drops().iter().sum::<u64>(),
        0,
        "{:?}",
        b.drops()
    );
}
