//! A node that reaches a peer only through its own TURN relay, against an
//! emulated server: allocation with a 401 challenge, permissions, channel
//! binding, refreshes. The fixture gets the peer linked through the relay
//! once; inputs then send through it (Send indications until the channel
//! is bound, ChannelData after), feed it relayed traffic (valid, mutated
//! or raw), answer its next request with a fuzz-chosen response
//! (integrity-protected, so it reaches the client's handling), and move
//! time (refresh, permission refresh, channel lapse, keepalive).
//!
//! The fixture persists (rebuilt every 5,000 inputs or after 4 virtual
//! hours); a crash may depend on earlier inputs.
#![no_main]

use std::cell::RefCell;
use std::time::Duration;

use ipop::core::node::{Dest, Node};
use ipop::core::rng::Rng;
use ipop::core::time::Instant;
use ipop_fuzz::turn::{Handled, Override, Server, PASS, USER};
use ipop_fuzz::{addr, drain, ip4, ipv4_frame, node_config, public, tick, Bytes, LinkPeer};
use libfuzzer_sys::fuzz_target;

struct Relay {
    node: Node,
    server: Server,
    peer: LinkPeer,
    now: Instant,
    started: Instant,
    runs: u32,
    txid: u64,
}

impl Relay {
    fn new() -> Relay {
        let now = Instant::from_secs(10);
        let server = Server::default();
        let mut cfg = node_config(1);
        cfg.turn = vec![(server.addr, USER.into(), PASS.into())];
        cfg.static_peers = vec![(addr(3), public(3))];
        let node = Node::new(cfg, Rng::from_seed([1; 32]), now);
        let peer = LinkPeer::new(3, node.public_key());
        let mut r = Relay {
            node,
            server,
            peer,
            now,
            started: now,
            runs: 0,
            txid: 0,
        };
        tick(&mut r.node, now);
        r.pump();
        // The peer reaches the node only at its relayed address.
        let init = r.peer.initiation(now).unwrap();
        r.relay_from_peer(&init);
        assert!(r.peer.established(), "the peer linked through the relay");
        let gossip = r.peer.gossip();
        let d = r.peer.seal(r.now, &gossip).unwrap();
        r.relay_from_peer(&d);
        // The node answers through the relay, and binds a channel for it.
        assert!(
            !r.server.permissions.is_empty(),
            "a permission for the peer"
        );
        r
    }

    fn next_txid(&mut self) -> [u8; 12] {
        self.txid += 1;
        let mut t = [7u8; 12];
        t[4..].copy_from_slice(&self.txid.to_be_bytes());
        t
    }

    /// The peer sends `datagram` to the node's relayed address.
    fn relay_from_peer(&mut self, datagram: &[u8]) {
        let txid = self.next_txid();
        let mut d = self.server.relay_to_client(txid, self.peer.addr, datagram);
        let from = self.server.addr;
        self.node.handle_datagram(self.now, from, &mut d);
        self.pump();
    }

    /// Delivers the node's output: requests and relayed data to the
    /// server, relayed data on to the peer; direct datagrams are lost.
    fn pump(&mut self) {
        for _ in 0..16 {
            let out = drain(&mut self.node);
            if out.is_empty() {
                return;
            }
            for (dest, bytes) in out {
                let Dest::Udp(to) = dest else { continue };
                if to != self.server.addr {
                    continue;
                }
                match self.server.handle(&bytes) {
                    Handled::Reply(mut r) => {
                        let from = self.server.addr;
                        self.node.handle_datagram(self.now, from, &mut r);
                    }
                    Handled::Relay(p, data) if p == self.peer.addr => {
                        let relayed = self.server.relayed;
                        if let Some(reply) = self.peer.receive(self.now, relayed, &data) {
                            let txid = self.next_txid();
                            let mut d = self.server.relay_to_client(txid, p, &reply);
                            let from = self.server.addr;
                            self.node.handle_datagram(self.now, from, &mut d);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        tick(&mut self.node, self.now);
        self.pump();
        for t in self.peer.timers(self.now) {
            self.relay_from_peer(&t);
        }
        if let Some(d) = self.peer.upkeep(self.now) {
            self.relay_from_peer(&d);
        }
    }
}

thread_local! {
    static FIXTURE: RefCell<Option<Relay>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| {
        let mut f = f.borrow_mut();
        if f.as_ref().is_none_or(|r| {
            r.runs >= 5_000 || r.now.saturating_since(r.started) > Duration::from_secs(4 * 3600)
        }) {
            *f = Some(Relay::new());
        }
        let r = f.as_mut().unwrap();
        r.runs += 1;
        run(r, data);
    });
});

fn run(r: &mut Relay, data: &[u8]) {
    let mut input = Bytes(data);
    for _ in 0..24 {
        if input.is_empty() {
            break;
        }
        match input.u8() % 8 {
            // A payload from the peer, relayed.
            0 | 1 => {
                let p = input.chunk();
                if let Some(d) = r.peer.seal(r.now, p) {
                    r.relay_from_peer(&d);
                }
            }
            // A frame from the node's TAP to the peer: out through the relay.
            2 => {
                let len = usize::from(input.u16() % 1400) + 20;
                let mut frame = ipv4_frame(ip4(1).octets(), ip4(3).octets(), len);
                let extra = input.chunk();
                let n = extra.len().min(frame.len().saturating_sub(34));
                frame[34..34 + n].copy_from_slice(&extra[..n]);
                let now = r.now;
                r.node.handle_tap_frame(now, &frame);
                r.pump();
            }
            // Raw bytes from the server's address.
            3 => {
                let mut d = input.chunk().to_vec();
                let (now, from) = (r.now, r.server.addr);
                r.node.handle_datagram(now, from, &mut d);
                r.pump();
            }
            // Raw bytes relayed from the peer (or another address).
            4 => {
                let peer = if input.u8() & 1 == 0 {
                    r.peer.addr
                } else {
                    addr(input.u8())
                };
                let payload = input.chunk().to_vec();
                let txid = r.next_txid();
                let mut d = r.server.relay_to_client(txid, peer, &payload);
                let (now, from) = (r.now, r.server.addr);
                r.node.handle_datagram(now, from, &mut d);
                r.pump();
            }
            // The next request gets a fuzz-chosen answer.
            5 => {
                let code = input.u16();
                let integrity = input.u8() & 1 == 0;
                let mut attrs = Vec::new();
                for _ in 0..(input.u8() % 4) {
                    let t = input.u16();
                    attrs.push((t, input.chunk().to_vec()));
                }
                r.server.next = Some(Override {
                    code,
                    attrs,
                    integrity,
                });
                let now = r.now;
                r.node.handle_network_change(now);
                r.pump();
            }
            // Time passes: up to 5 minutes in one step (allocation and
            // permission refreshes, channel lapses).
            6 => {
                let s = u64::from(input.u16() % 300);
                r.advance(Duration::from_secs(s));
            }
            _ => {
                let now = r.now;
                r.node.handle_network_change(now);
                r.pump();
            }
        }
    }
}
