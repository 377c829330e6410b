//! Reassembly fed adversarial piece sequences: overlaps, duplicates, wrong
//! totals and counts, floods of first pieces from several links, pieces
//! arriving after their deadline. Invariants: no panic; a completed payload
//! has the length its pieces claimed; never more partial payloads than
//! slots; and once every deadline has passed, every pool buffer is back.
#![no_main]

use core::time::Duration;

use ipop::core::link::PeerId;
use ipop::core::node::fragment::{self, Piece, Reassembly};
use ipop::core::node::pool::Pool;
use ipop::core::time::Instant;
use libfuzzer_sys::fuzz_target;

const BUFFERS: usize = 16;
const SLOTS: usize = 4;

fuzz_target!(|data: &[u8]| {
    let mut pool = Pool::new(BUFFERS, 2048);
    let mut r = Reassembly::new(SLOTS);
    let mut now = Instant::from_secs(1);
    let mut rest = data;
    // Each record: link(1) step_ms(1) len(1) piece(len).
    while let [link, step, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        now = now + Duration::from_millis(u64::from(*step) * 8);
        let Some(piece) = Piece::parse(bytes) else {
            continue;
        };
        if let Some((slot, total)) = r.handle(now, &mut pool, PeerId(u16::from(link % 4)), &piece) {
            assert_eq!(total, usize::from(piece.total));
            assert!(pool.buf(slot).len() >= total);
            pool.release(slot);
        }
        assert!(r.in_progress() <= SLOTS);
    }
    r.handle_timeout(now + fragment::TIMEOUT, &mut pool);
    assert_eq!(r.in_progress(), 0);
    let free = (0..BUFFERS).filter_map(|_| pool.alloc()).count();
    assert_eq!(free, BUFFERS, "a reassembly buffer leaked");
});
