//! Transport datagrams on an established, confirmed session: a fixture
//! does the handshake once (and the peer's gossip), then every input runs
//! against it, so the fuzzer spends its time on the transport path and the
//! node's payload handling instead of X25519. The peer is a bare link
//! layer, so any plaintext can be sealed: gossip, routed and flooded
//! frames, topology control, probes, frames for the TAP.
//!
//! The fixture persists across inputs (rebuilt every 20,000 inputs, after
//! an hour of virtual time, or when the session broke), so a crash may depend
//! on earlier inputs; the log's stack trace shows the path either way.
#![no_main]

use std::cell::RefCell;
use std::time::Duration;

use ipop_fuzz::{Bytes, Established};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static FIXTURE: RefCell<Option<(Established, u32)>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| {
        let mut f = f.borrow_mut();
        let stale = match &*f {
            None => true,
            Some((e, runs)) => {
                *runs >= 20_000
                    || !e.peer.established()
                    || e.now.saturating_since(e.started) > Duration::from_secs(3600)
            }
        };
        if stale {
            *f = Some((Established::new(), 0));
        }
        let (e, runs) = f.as_mut().unwrap();
        *runs += 1;
        run(e, data);
    });
});

fn run(e: &mut Established, data: &[u8]) {
    let mut input = Bytes(data);
    let mut last = None;
    for _ in 0..32 {
        if input.is_empty() {
            break;
        }
        match input.u8() % 8 {
            // A payload sealed by the peer (most inputs).
            0..=2 => {
                let p = input.chunk();
                if let Some(d) = e.send_payload(p) {
                    last = Some(d);
                }
            }
            // Raw bytes from the peer's address.
            3 => {
                let d = input.chunk();
                e.deliver(d);
            }
            // A genuine datagram with one byte changed.
            4 => {
                let p = input.chunk();
                let at = usize::from(input.u16());
                let x = input.u8() | 1;
                if let Some(mut d) = e.peer.seal(e.now, p) {
                    let i = at % d.len();
                    d[i] ^= x;
                    e.deliver(&d);
                }
            }
            // The last genuine datagram again (a replay).
            5 => {
                if let Some(d) = last.clone() {
                    e.deliver(&d);
                }
            }
            // Time passes (up to 4 s; a rekey is due every two minutes, and
            // costs X25519 work): keepalives, gossip, rekeys.
            6 => {
                let ms = u64::from(input.u16() % 4_000);
                e.advance(Duration::from_millis(ms));
            }
            // A frame from the node's TAP.
            _ => {
                let frame = input.chunk();
                let now = e.now;
                e.node.handle_tap_frame(now, frame);
                e.pump();
            }
        }
    }
}
