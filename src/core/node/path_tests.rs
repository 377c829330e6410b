//! Connection attempts toward members behind NATs: which candidates the
//! handshake (and its retransmissions) reach.

use super::tests::{addr, public, Net};
use super::*;
use crate::core::link::consts::{REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX};

const PRIVATE: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 168, 7, 1)), 5800);

/// Node 1's record with these candidates.
fn node1_info(cands: &[Candidate]) -> PeerInfo {
    let ip1 = Ipv4Addr::new(10, 0, 3, 1);
    PeerInfo {
        uid: Uid::from_ip4(ip1),
        ip4: ip1,
        public_key: public(1),
        candidates: cands.iter().copied().collect(),
    }
}

/// Node 2 wants node 1, which it knows first by an unreachable private
/// address (its first candidate).
fn wanting_pair() -> Net {
    let mut net = Net::new(&[(1, &[]), (2, &[])], false);
    let t0 = net.now;
    net.node(2).add_static_peer(t0, PRIVATE, public(1));
    net
}

/// Node 2's view of node 1: (established, endpoint, path kind).
fn link_2_to_1(net: &mut Net) -> Option<(bool, Option<SocketAddr>, &'static str)> {
    let now = net.now;
    let st = net.node(2).status(now);
    st.peers
        .iter()
        .find(|p| p.public_key == public(1))
        .map(|p| (p.established, p.endpoint, p.path))
}

const FIRST_RETRANSMIT: Duration = Duration::from_millis(
    (REKEY_TIMEOUT.as_millis() + REKEY_TIMEOUT_JITTER_MAX.as_millis()) as u64,
);

/// The matrix failure (a restricted/symmetric pair left on relay-overlay):
/// the first initiation to a member's relayed address is lost because the
/// member's TURN server does not let our address in yet (it learns our
/// candidates, and so permits us, about when we learn its). The link layer
/// retransmits every REKEY_TIMEOUT for 90 s, and while it does the node
/// cannot start a fresh attempt; those retransmissions must therefore reach
/// every candidate, not just the first (an unreachable private address).
#[test]
fn retransmitted_initiation_reaches_every_candidate() {
    let mut net = wanting_pair();
    let t0 = net.now;
    let info = node1_info(&[
        Candidate::new(CandidateKind::Host, PRIVATE, 65535),
        Candidate::new(CandidateKind::Relay, addr(1), 65535),
    ]);
    net.node(2).handle_announce(t0, &info, Source::Signal);
    // Node 1's relay drops everything for the first two seconds.
    net.lost_until = Some((addr(1), t0 + Duration::from_secs(2)));
    net.advance(Duration::from_secs(2));
    assert_eq!(link_2_to_1(&mut net), Some((false, None, "none")));
    // The first retransmission after the loss window links them.
    net.advance(FIRST_RETRANSMIT - Duration::from_secs(2));
    assert_eq!(
        link_2_to_1(&mut net),
        Some((true, Some(addr(1)), "relay-turn"))
    );
}

/// A relayed candidate announced while the handshake is being retransmitted
/// (a member's TURN allocation finished, or was re-made after a rebinding)
/// is tried at the next retransmission, not after REKEY_ATTEMPT_TIME.
#[test]
fn candidate_learned_mid_handshake_is_tried_at_the_next_retransmission() {
    let mut net = wanting_pair();
    let t0 = net.now;
    net.advance(Duration::from_secs(2));
    assert_eq!(link_2_to_1(&mut net), Some((false, None, "none")));
    let now = net.now;
    let info = node1_info(&[Candidate::new(CandidateKind::Relay, addr(1), 65535)]);
    net.node(2).handle_announce(now, &info, Source::Signal);
    net.advance(t0 + FIRST_RETRANSMIT - now);
    assert_eq!(
        link_2_to_1(&mut net),
        Some((true, Some(addr(1)), "relay-turn"))
    );
}
