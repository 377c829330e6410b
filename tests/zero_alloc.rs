//! The steady-state packet path (TAP -> encrypt -> UDP, and UDP -> decrypt ->
//! TAP) performs no heap allocation: counted by a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Only the test's own thread counts: libtest's threads allocate too.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[path = "common/pair.rs"]
mod pair;
use pair::{ipv4_frame, linked_pair, settle, settle_noting};

#[test]
fn packet_path_does_not_allocate() {
    let mut wire = vec![0u8; 4096];
    let (mut a, mut b, mut now) = linked_pair(&mut wire);
    let frame = ipv4_frame(1, 2);
    let back = ipv4_frame(2, 1);

    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::SeqCst);
    let mut delivered = 0;
    for _ in 0..2000 {
        a.handle_tap_frame(now, &frame);
        b.handle_tap_frame(now, &back);
        delivered += settle(&mut a, &mut b, now, &mut wire);
        now += Duration::from_micros(50);
    }
    let allocs = ALLOCS.load(Ordering::SeqCst) - before;
    COUNTING.with(|c| c.set(false));
    assert_eq!(delivered, 4000, "every frame crossed the link");
    assert_eq!(allocs, 0, "heap allocations on the packet path");
}

#[test]
fn fragment_path_does_not_allocate() {
    let mut wire = vec![0u8; 4096];
    let (mut a, mut b, mut now) = linked_pair(&mut wire);
    // Paths of 1000 bytes: every 1294-byte frame goes in two pieces, and
    // is reassembled on the other side.
    a.set_underlay_mtu(now, 1000);
    b.set_underlay_mtu(now, 1000);
    a.handle_timeout(now);
    b.handle_timeout(now);
    settle(&mut a, &mut b, now, &mut wire);
    let frame = ipv4_frame(1, 2);
    let back = ipv4_frame(2, 1);

    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::SeqCst);
    let mut delivered = 0;
    let mut largest = 0;
    for _ in 0..2000 {
        a.handle_tap_frame(now, &frame);
        b.handle_tap_frame(now, &back);
        delivered += settle_noting(&mut a, &mut b, now, &mut wire, &mut largest);
        now += Duration::from_micros(50);
    }
    let allocs = ALLOCS.load(Ordering::SeqCst) - before;
    COUNTING.with(|c| c.set(false));
    assert_eq!(delivered, 4000, "every frame crossed the link");
    assert!(
        largest + 28 <= 1000,
        "a {largest}-byte datagram on a 1000-byte path"
    );
    assert_eq!(allocs, 0, "heap allocations on the fragment path");
}
/// The shell's batched UDP path (src/io/batch.rs): node a's datagrams
/// gathered into one sendmmsg on a loopback socket, received by recvmmsg
/// and opened by node b. The batches are allocated before counting starts.
#[test]
fn batched_udp_path_does_not_allocate() {
    use ipop::core::node::Dest;
    use ipop::io::batch::{RecvBatch, SendBatch, BATCH};
    use std::os::fd::AsRawFd;
    let mut wire = vec![0u8; 4096];
    let (mut a, mut b, mut now) = linked_pair(&mut wire);
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Loopback only: every datagram goes to rx, whatever peer address the
    // node put on it.
    let to = rx.local_addr().unwrap();
    let mut send = SendBatch::new(a.buf_size());
    let mut recv = RecvBatch::new(b.buf_size());
    let frame = ipv4_frame(1, 2);

    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::SeqCst);
    let mut delivered = 0;
    for _ in 0..200 {
        for _ in 0..16 {
            a.handle_tap_frame(now, &frame);
        }
        while let Some((dest, bytes)) = a.poll_transmit() {
            if let Dest::Udp(_) = dest {
                assert!(send.push(to, bytes), "16 datagrams fit a batch of {BATCH}");
            }
        }
        send.send(tx.as_raw_fd(), |f| {
            panic!("send to {} failed: {}", f.to, f.error)
        });
        let n = recv.recv(rx.as_raw_fd()).unwrap();
        for i in 0..n {
            if let Some((_, buf)) = recv.get(i) {
                b.handle_datagram(now, pair::addr(1), buf);
            }
        }
        while let Some((dest, _)) = b.poll_transmit() {
            delivered += usize::from(dest == Dest::Tap);
        }
        now += Duration::from_micros(50);
    }
    let allocs = ALLOCS.load(Ordering::SeqCst) - before;
    COUNTING.with(|c| c.set(false));
    assert_eq!(delivered, 3200, "every frame crossed the loopback socket");
    assert_eq!(allocs, 0, "heap allocations on the batched UDP path");
}
