//! Datagrams on a fresh responder node (no peers, accepts unknown keys):
//! raw bytes from any source, and handshake messages re-sealed with a
//! valid mac1 so that mutations get past the first gate to the handshake
//! itself. Ops: see the match.
#![no_main]

use std::time::Duration;

use ipop::core::link::cookie::CookieSender;
use ipop::core::node::Node;
use ipop::core::rng::Rng;
use ipop::core::time::Instant;
use ipop_fuzz::{addr, drain, node_config, tick, Bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let mut now = Instant::from_secs(10);
    let mut node = Node::new(node_config(1), Rng::from_seed([1; 32]), now);
    let mut sealer = CookieSender::new(&node.public_key());
    for _ in 0..32 {
        if input.is_empty() {
            break;
        }
        match input.u8() % 4 {
            // Raw bytes from one of 256 sources.
            0 | 1 => {
                let from = addr(input.u8());
                let mut d = input.chunk().to_vec();
                node.handle_datagram(now, from, &mut d);
            }
            // A handshake message with mac1 made right (mac2 zero).
            2 => {
                let from = addr(input.u8());
                let mut d = input.chunk().to_vec();
                if d.len() >= 32 {
                    sealer.seal(now, &mut d);
                }
                node.handle_datagram(now, from, &mut d);
            }
            _ => {
                now += Duration::from_millis(u64::from(input.u16()) * 10);
                tick(&mut node, now);
            }
        }
        drain(&mut node);
    }
});
