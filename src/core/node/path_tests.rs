//! Connection attempts toward members behind NATs: which candidates the
//! handshake (and its retransmissions) reach.

use super::tests::{addr, public, Net};
use super::*;
use crate::core::link::consts::{REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX};

/// The matrix failure (a restricted/symmetric pair left on relay-overlay):
/// the first initiation to a member's relayed address is lost because the
/// member's TURN server does not let our address in yet (it learns our
/// candidates, and so permits us, about when we learn its). The link layer
/// retransmits every REKEY_TIMEOUT for 90 s, and while it does the node
/// cannot start a fresh attempt; those retransmissions must therefore reach
/// every candidate, not just the first (an unreachable private address).
#[test]
fn retransmitted_initiation_reaches_every_candidate() {
    let mut net = Net::new(&[(1, &[]), (2, &[])], false);
    let t0 = net.now;
    let ip1 = Ipv4Addr::new(10, 0, 3, 1);
    let private = SocketAddr::from(([192, 168, 7, 1], 5800));
    let mut candidates = heapless::Vec::new();
    let _ = candidates.push(Candidate::new(CandidateKind::Host, private, 65535));
    let _ = candidates.push(Candidate::new(CandidateKind::Relay, addr(1), 65535));
    let info = PeerInfo {
        uid: Uid::from_ip4(ip1),
        ip4: ip1,
        public_key: public(1),
        candidates,
    };
    let n2 = net.node(2);
    n2.add_static_peer(t0, private, public(1));
    n2.handle_announce(t0, &info, Source::Signal);
    // Node 1's relay drops everything for the first two seconds.
    net.lost_until = Some((addr(1), t0 + Duration::from_secs(2)));
    let linked = |net: &mut Net| {
        let now = net.now;
        let st = net.node(2).status(now);
        st.peers
            .iter()
            .find(|p| p.public_key == public(1))
            .map(|p| (p.established, p.endpoint, p.path))
    };
    net.advance(Duration::from_secs(2));
    assert_eq!(linked(&mut net), Some((false, None, "none")));
    // The first retransmission after the loss window links them.
    net.advance(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX - Duration::from_secs(2));
    assert_eq!(linked(&mut net), Some((true, Some(addr(1)), "relay-turn")));
}
