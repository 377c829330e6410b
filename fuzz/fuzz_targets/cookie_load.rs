//! A responder under load (more than UNDER_LOAD_PER_SECOND handshakes in
//! a second): handshake messages now need mac2, the cookie that proves the
//! source address. The fixture floods the node once and holds the cookie
//! it handed out (a harness-side CookieSender), so every input can reseal
//! mutated handshake messages with valid mac1 *and* mac2 and reach the
//! per-source buckets and the handshake behind them; inputs also send
//! cookie replies (forged or mutated) to a real initiator and refill the
//! flood.
//!
//! The fixture persists (rebuilt every 5,000 inputs); a crash may depend
//! on earlier inputs.
#![no_main]

use std::cell::RefCell;
use std::time::Duration;

use ipop::core::link::consts::{TYPE_COOKIE_REPLY, UNDER_LOAD_PER_SECOND};
use ipop::core::link::cookie::CookieSender;
use ipop::core::node::{Dest, Node};
use ipop::core::rng::Rng;
use ipop::core::time::Instant;
use ipop_fuzz::{addr, drain, node_config, tick, Bytes, LinkPeer};
use libfuzzer_sys::fuzz_target;

struct Load {
    node: Node,
    /// A real initiator (index 2) at addr(2), and its first initiation.
    peer: LinkPeer,
    initiation: Vec<u8>,
    /// Holds addr(2)'s cookie: seals any message as that source would.
    sealer: CookieSender,
    now: Instant,
    runs: u32,
    cookie_replies: u64,
}

impl Load {
    fn new() -> Load {
        let now = Instant::from_secs(10);
        let node = Node::new(node_config(1), Rng::from_seed([1; 32]), now);
        let mut peer = LinkPeer::new(2, node.public_key());
        let initiation = peer.initiation(now).unwrap();
        let sealer = CookieSender::new(&node.public_key());
        let mut l = Load {
            node,
            peer,
            initiation,
            sealer,
            now,
            runs: 0,
            cookie_replies: 0,
        };
        l.flood();
        assert!(l.cookie_replies > 0, "the flood put the node under load");
        l
    }

    /// More mac1-valid initiations than the node serves in a second (each
    /// a little different: copies of one already answered stop before the
    /// rate limiter); keeps the last cookie reply's cookie.
    fn flood(&mut self) {
        for i in 0..UNDER_LOAD_PER_SECOND + 8 {
            let mut m = self.initiation.clone();
            m[8 + (i as usize % 32)] ^= 1 + (i / 32) as u8;
            self.sealer.seal(self.now, &mut m);
            self.deliver(self.peer.addr, &mut m);
        }
    }

    /// Delivers to the node; cookie replies to addr(2) are opened by the
    /// sealer (which then holds that cookie).
    fn deliver(&mut self, from: std::net::SocketAddr, d: &mut [u8]) {
        self.node.handle_datagram(self.now, from, d);
        for (dest, bytes) in drain(&mut self.node) {
            if dest == Dest::Udp(self.peer.addr) && bytes.first() == Some(&TYPE_COOKIE_REPLY) {
                self.cookie_replies += 1;
                let _ = self.sealer.consume_reply(self.now, &bytes);
                let _ = self.peer.receive(self.now, addr(1), &bytes);
            }
        }
    }
}

thread_local! {
    static FIXTURE: RefCell<Option<Load>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| {
        let mut f = f.borrow_mut();
        if f.as_ref().is_none_or(|l| l.runs >= 5_000) {
            *f = Some(Load::new());
        }
        let l = f.as_mut().unwrap();
        l.runs += 1;
        run(l, data);
    });
});

fn run(l: &mut Load, data: &[u8]) {
    let mut input = Bytes(data);
    for _ in 0..24 {
        if input.is_empty() {
            break;
        }
        match input.u8() % 6 {
            // A handshake message from addr(2) with mac1 and mac2 right:
            // the real initiation with bytes changed, or any bytes.
            0 | 1 => {
                let mut m = if input.u8() & 1 == 0 {
                    let mut m = l.initiation.clone();
                    let at = usize::from(input.u8()) % m.len();
                    m[at] ^= input.u8();
                    m
                } else {
                    input.chunk().to_vec()
                };
                if m.len() >= 32 {
                    l.sealer.seal(l.now, &mut m);
                }
                let from = l.peer.addr;
                l.deliver(from, &mut m);
            }
            // The same from another source: no cookie for it.
            2 => {
                let from = addr(input.u8());
                let mut m = input.chunk().to_vec();
                if m.len() >= 32 {
                    l.sealer.seal(l.now, &mut m);
                }
                l.deliver(from, &mut m);
            }
            // A cookie reply to the real initiator: its receiver index
            // made right, the rest from the input.
            3 => {
                let mut m = vec![TYPE_COOKIE_REPLY, 0, 0, 0];
                m.extend_from_slice(&l.initiation[4..8]);
                m.extend_from_slice(input.take(56));
                m.resize(64, 0);
                let _ = l.peer.receive(l.now, addr(1), &m);
                let _ = l.peer.timers(l.now);
            }
            // Time passes (up to 6.5 s): buckets refill, cookies age.
            4 => {
                l.now += Duration::from_millis(u64::from(input.u16() % 6500));
                tick(&mut l.node, l.now);
                drain(&mut l.node);
            }
            _ => l.flood(),
        }
    }
}
