//! A dual-stack pair on a virtual clock: each node has an IPv4 and an IPv6
//! address; the IPv6 path can be cut and healed. The rules under test are
//! in `paths`: IPv6 preferred, a dead path falls back in the same session.

use super::tests::{config, public};
use super::*;

fn v4(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 99, 0, i], 5800))
}

fn v6(i: u8) -> SocketAddr {
    SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16], 5800))
}

struct Pair {
    nodes: [Node; 2],
    now: Instant,
    /// IPv6 datagrams are lost both ways.
    v6_cut: bool,
}

impl Pair {
    /// Node 2 knows node 1 by its IPv4 address only (a static peer).
    fn new() -> Pair {
        let now = Instant::from_secs(1);
        let mut c2 = config(2, &[], false);
        c2.static_peers = vec![(v4(1), public(1))];
        let mut nodes = [
            Node::new(config(1, &[], false), Rng::from_seed([1; 32]), now),
            Node::new(c2, Rng::from_seed([2; 32]), now),
        ];
        for (k, n) in nodes.iter_mut().enumerate() {
            let i = k as u8 + 1;
            n.set_local_candidates(&[
                Candidate::new(CandidateKind::Host, v6(i), 65535),
                Candidate::new(CandidateKind::Host, v4(i), 65534),
            ]);
        }
        Pair {
            nodes,
            now,
            v6_cut: false,
        }
    }

    fn drain(&mut self) {
        for _ in 0..100 {
            let mut flight = Vec::new();
            for (k, n) in self.nodes.iter_mut().enumerate() {
                let i = k as u8 + 1;
                while let Some((dest, bytes)) = n.poll_transmit() {
                    if let Dest::Udp(to) = dest {
                        // The source is the sender's address of the same family.
                        let from = if to.is_ipv6() { v6(i) } else { v4(i) };
                        flight.push((from, to, bytes.to_vec()));
                    }
                }
            }
            if flight.is_empty() {
                return;
            }
            for (from, to, mut bytes) in flight {
                if self.v6_cut && to.is_ipv6() {
                    continue;
                }
                let k = match to {
                    a if a == v4(1) || a == v6(1) => 0,
                    a if a == v4(2) || a == v6(2) => 1,
                    _ => continue,
                };
                self.nodes[k].handle_datagram(self.now, from, &mut bytes);
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.nodes.iter().filter_map(|n| n.poll_timeout()).min() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            for n in self.nodes.iter_mut() {
                if n.poll_timeout().is_some_and(|t| t <= self.now) {
                    n.handle_timeout(self.now);
                }
            }
            self.drain();
        }
        self.now = end;
    }

    /// Node `i`'s link: (established, endpoint, family, last handshake age).
    fn link(&self, i: usize) -> (bool, Option<SocketAddr>, &'static str, Option<Duration>) {
        let st = self.nodes[i - 1].status(self.now);
        let p = &st.peers[0];
        (p.established, p.endpoint, p.family, p.last_handshake_age)
    }
}

#[test]
fn meets_over_ipv4_moves_to_ipv6_falls_back_and_returns() {
    let mut pair = Pair::new();
    pair.advance(Duration::from_secs(1));
    assert_eq!(pair.link(2).1, Some(v4(1)));
    assert_eq!(pair.link(2).2, "ipv4");
    // The first gossip round (15 s) probes the better IPv6 candidate.
    pair.advance(Duration::from_secs(15));
    assert_eq!(pair.link(2).1, Some(v6(1)));
    assert_eq!(pair.link(1).1, Some(v6(2)));
    assert_eq!(pair.link(2).2, "ipv6");
    let handshake = pair.nodes[1].status(pair.now).peers[0].last_handshake_age;

    // Cut IPv6: within PATH_SILENCE twice plus a check, both ends are on
    // IPv4, with the same session (no handshake since).
    pair.v6_cut = true;
    let cut = pair.now;
    pair.advance(Duration::from_secs(14));
    assert_eq!(
        pair.link(2).1,
        Some(v4(1)),
        "node 2 still on {:?}",
        pair.link(2)
    );
    assert_eq!(
        pair.link(1).1,
        Some(v4(2)),
        "node 1 still on {:?}",
        pair.link(1)
    );
    assert!(pair.link(2).0 && pair.link(1).0);
    let age = pair.nodes[1].status(pair.now).peers[0].last_handshake_age;
    assert_eq!(
        age.zip(handshake).map(|(a, h)| a - h),
        Some(pair.now.saturating_since(cut)),
        "a new handshake happened"
    );

    // Data crosses over IPv4 now.
    let f = crate::core::frame::tests::ipv4_frame([10, 0, 3, 2], [10, 0, 3, 1], 100);
    let before = pair.nodes[0].status(pair.now).peers[0].rx_packets;
    let now = pair.now;
    pair.nodes[1].handle_tap_frame(now, &f);
    pair.drain();
    assert_eq!(
        pair.nodes[0].status(pair.now).peers[0].rx_packets,
        before + 1
    );

    // Healed: the next gossip round finds IPv6 again.
    pair.v6_cut = false;
    pair.advance(Duration::from_secs(16));
    assert_eq!(pair.link(2).1, Some(v6(1)));
    assert_eq!(pair.link(1).1, Some(v6(2)));
}
