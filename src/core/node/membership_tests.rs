//! Membership at the node: a statement installed at one node closes links
//! to the revoked key everywhere, is passed on in gossip, and frames from
//! or to the revoked member are not relayed.

use super::membership::{MembershipConfig, StatementSource};
use super::tests::{addr, public, Net};
use super::*;
use crate::core::frame::tests::ipv4_frame;
use crate::core::member::{Statement, StatementError};

const OPERATOR: [u8; 32] = [0x42; 32];

fn with_operator(net: &mut Net, nodes: &[u8]) {
    let op = crate::core::member::operator_public(&OPERATOR);
    let now = net.now;
    for &i in nodes {
        net.node(i).configure_membership(
            now,
            MembershipConfig {
                operator_key: Some(op),
                ..Default::default()
            },
        );
    }
}

fn revoking(serial: u64, keys: &[[u8; 32]]) -> Vec<u8> {
    Statement {
        serial,
        revoked: keys.to_vec(),
        allowed: None,
    }
    .sign(&OPERATOR)
    .unwrap()
}

fn has_peer(net: &mut Net, i: u8, key: [u8; 32]) -> bool {
    let now = net.now;
    net.node(i)
        .status(now)
        .peers
        .iter()
        .any(|p| p.public_key == key)
}

/// Three nodes, all linked (2 and 3 know 1; gossip does the rest).
fn mesh() -> Net {
    let mut net = Net::new(&[(1, &[]), (2, &[1]), (3, &[1])], false);
    with_operator(&mut net, &[1, 2, 3]);
    net.advance(Duration::from_secs(40));
    assert!(has_peer(&mut net, 2, public(3)) && has_peer(&mut net, 1, public(3)));
    net
}

#[test]
fn statement_at_one_node_closes_links_everywhere() {
    let mut net = mesh();
    let now = net.now;
    assert_eq!(
        net.node(1)
            .install_statement(now, &revoking(1, &[public(3)]), StatementSource::Control),
        Ok(1)
    );
    net.drain();
    for i in [1, 2] {
        assert!(!has_peer(&mut net, i, public(3)), "node {i} kept node 3");
        assert_eq!(net.node(i).statement_serial(), 1);
        assert_eq!(net.node(i).membership_status().closed_links, 1);
    }
    // Its links closed first, node 3 itself is not told.
    assert_eq!(net.node(3).statement_serial(), 0);
    // The shell is asked to store it once, at each node.
    assert!(net.node(2).poll_statement_to_store().is_some());
    assert!(net.node(2).poll_statement_to_store().is_none());
    // Frames from node 3 no longer arrive, and gossip never brings it back.
    let f = ipv4_frame([10, 0, 3, 3], [10, 0, 3, 1], 64);
    let now = net.now;
    net.node(3).handle_tap_frame(now, &f);
    net.drain();
    assert!(net.tap_of(1).is_empty());
    net.advance(Duration::from_secs(60));
    assert!(!has_peer(&mut net, 1, public(3)) && !has_peer(&mut net, 2, public(3)));
    let now = net.now;
    let tried = net.node(1).membership_status().tried;
    assert!(
        tried.iter().any(|t| t.key == public(3) && t.refusals >= 1),
        "{tried:?}"
    );
    assert!(net
        .node(1)
        .status(now)
        .drops
        .iter()
        .any(|(r, n)| *r == "revoked" && *n >= 1));
}

#[test]
fn frames_from_or_to_a_refused_member_are_not_relayed() {
    let mut net = mesh();
    let now = net.now;
    net.node(1)
        .install_statement(now, &revoking(1, &[public(3)]), StatementSource::Control)
        .unwrap();
    net.drain();
    let (uid1, uid2, uid3) = (
        Uid::from_ip4(Ipv4Addr::new(10, 0, 3, 1)),
        Uid::from_ip4(Ipv4Addr::new(10, 0, 3, 2)),
        Uid::from_ip4(Ipv4Addr::new(10, 0, 3, 3)),
    );
    let frame = ipv4_frame([10, 0, 3, 3], [10, 0, 3, 1], 64);
    let mut routed = vec![0u8; payload::ROUTED_HEADER];
    payload::write_routed_header(&mut routed, 8, &uid3, &uid1).unwrap();
    routed.extend_from_slice(&frame);
    let node = net.node(1);
    let via = node.peer_by_uid(&uid2).unwrap();
    node.handle_payload(now, via, addr(2), &routed);
    // Toward the revoked member as well.
    payload::write_routed_header(&mut routed, 8, &uid2, &uid3).unwrap();
    node.handle_payload(now, via, addr(2), &routed);
    assert_eq!(node.membership_status().relay_refused, 2);
    net.drain();
    assert!(net.tap_of(1).is_empty());
}

#[test]
fn forged_and_stale_statements_are_counted() {
    let mut net = mesh();
    let now = net.now;
    let node = net.node(2);
    node.install_statement(now, &revoking(5, &[[9; 32]]), StatementSource::Control)
        .unwrap();
    let forged = Statement {
        serial: 6,
        revoked: vec![public(1)],
        allowed: None,
    }
    .sign(&[0x43; 32])
    .unwrap();
    let cases: [(&[u8], StatementError); 3] = [
        (&forged, StatementError::BadSignature),
        (&revoking(4, &[public(1)]), StatementError::Stale),
        (&revoking(6, &[public(1)])[..50], StatementError::Truncated),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            node.install_statement(now, bytes, StatementSource::Link),
            Err(want)
        );
    }
    let st = node.membership_status();
    for (name, n) in st.refused {
        let want = u64::from(matches!(name, "bad_signature" | "stale" | "truncated"));
        assert_eq!(n, want, "{name}");
    }
    assert_eq!(st.serial, 5);
    assert!(has_peer(&mut net, 2, public(1)), "forgeries revoked nobody");
}

#[test]
fn no_operator_key_means_no_statement() {
    let mut net = Net::new(&[(1, &[]), (2, &[1])], false);
    let now = net.now;
    assert_eq!(
        net.node(1)
            .install_statement(now, &revoking(1, &[public(2)]), StatementSource::Link),
        Err(StatementError::NoOperatorKey)
    );
}

#[test]
fn config_revocation_and_allow_list() {
    let mut net = Net::new(&[(1, &[]), (2, &[1]), (3, &[1])], false);
    let now = net.now;
    net.node(1).configure_membership(
        now,
        MembershipConfig {
            revoked: vec![public(3)],
            ..Default::default()
        },
    );
    net.advance(Duration::from_secs(40));
    assert!(!has_peer(&mut net, 1, public(3)));
    assert!(has_peer(&mut net, 1, public(2)));
    // An allow-list without node 2 closes its link too.
    with_operator(&mut net, &[1]);
    let allow = Statement {
        serial: 1,
        revoked: vec![],
        allowed: Some(vec![[7; 32]]),
    }
    .sign(&OPERATOR)
    .unwrap();
    let now = net.now;
    net.node(1)
        .install_statement(now, &allow, StatementSource::Control)
        .unwrap();
    assert!(!has_peer(&mut net, 1, public(2)));
}
