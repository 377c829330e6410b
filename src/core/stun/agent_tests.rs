//! NatAgent against scripted STUN and TURN servers on a virtual clock.

use super::*;
use crate::core::stun::binding::write_response;
use crate::core::stun::consts::*;
use crate::core::stun::{long_term_key, message_type, Class, Message, MessageWriter};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const STUN1: &str = "192.0.2.1:3478";
const STUN2: &str = "192.0.2.2:3478";
const TURN: &str = "192.0.2.3:3478";
const MAPPED: &str = "203.0.113.5:40000";
const RELAYED: &str = "192.0.2.3:50000";

/// Answers whatever the agent sent, as the servers would.
fn serve(agent: &mut NatAgent, now: Instant, to: SocketAddr, req: &[u8]) {
    let m = Message::parse(req).unwrap();
    let id = m.transaction_id();
    let mut out = [0u8; 256];
    let n = if m.method() == BINDING {
        write_response(&mut out, &id, addr(MAPPED)).unwrap()
    } else if m.attr(ATTR_MESSAGE_INTEGRITY).is_none() {
        let mut w =
            MessageWriter::new(&mut out, message_type(m.method(), Class::Error), &id).unwrap();
        w.error_code(401, "Unauthorized").unwrap();
        w.attr(ATTR_REALM, b"r").unwrap();
        w.attr(ATTR_NONCE, b"n").unwrap();
        w.finish()
    } else {
        let key = long_term_key("u", "r", "p");
        assert_eq!(m.check_integrity(&key), Ok(()));
        let mut w =
            MessageWriter::new(&mut out, message_type(m.method(), Class::Success), &id).unwrap();
        if m.method() == ALLOCATE {
            w.xor_address(ATTR_XOR_RELAYED_ADDRESS, addr(RELAYED))
                .unwrap();
            w.xor_address(ATTR_XOR_MAPPED_ADDRESS, addr(MAPPED))
                .unwrap();
            w.u32_attr(ATTR_LIFETIME, 600).unwrap();
        }
        w.message_integrity(&key).unwrap();
        w.finish()
    };
    assert!(agent.accepts(to, &out[..n]));
    assert_eq!(agent.handle_datagram(now, to, &out[..n]), Ok(None));
}

fn gathered(now: Instant) -> NatAgent {
    let mut rng = Rng::from_seed([3; 32]);
    let mut a = NatAgent::new(
        &[addr(STUN1), addr(STUN2)],
        &[(addr(TURN), "u", "p")],
        &mut rng,
    );
    a.handle_timeout(now);
    let mut buf = [0u8; 512];
    for _ in 0..10 {
        let Some((to, n)) = a.poll_transmit(now, &mut buf) else {
            break;
        };
        let req = buf[..n].to_vec();
        serve(&mut a, now, to, &req);
    }
    a
}

#[test]
fn gathers_reflexive_and_relayed_candidates() {
    let now = Instant::from_secs(1);
    let mut a = gathered(now);
    assert!(a.poll_changed());
    assert!(!a.poll_changed());
    let mut c = Vec::new();
    a.candidates(&mut c);
    // Both STUN servers saw the same mapping: one srflx candidate.
    assert_eq!(
        c,
        [
            Candidate::new(CandidateKind::ServerReflexive, addr(MAPPED), 65535),
            Candidate::new(CandidateKind::Relay, addr(RELAYED), 65534),
        ]
    );
    let s = a.stats();
    // 2 Binding + Allocate twice (401 first).
    assert_eq!((s.requests_sent, s.responses_accepted), (4, 4));
}

#[test]
fn relays_data_both_ways() {
    let now = Instant::from_secs(1);
    let mut a = gathered(now);
    let peer = addr("198.51.100.9:7000");
    // A member's candidates: LAN host (unreachable from a public server),
    // reflexive, and another port on the same IP: one permission.
    a.permit(
        now,
        &[addr("10.1.0.2:7000"), peer, addr("198.51.100.9:7001")],
    );
    let mut buf = [0u8; 512];
    let drain = |a: &mut NatAgent, t: Instant| {
        let mut buf = [0u8; 512];
        let mut sent = Vec::new();
        while let Some((to, n)) = a.poll_transmit(t, &mut buf) {
            assert_eq!(to, addr(TURN));
            let req = buf[..n].to_vec();
            let m = Message::parse(&req).unwrap();
            let peer = m
                .attr(ATTR_XOR_PEER_ADDRESS)
                .map(|v| crate::core::stun::attr::xor_address(v, &m.transaction_id()).unwrap());
            sent.push((m.method(), peer));
            serve(a, t, to, &req);
        }
        sent
    };
    assert_eq!(drain(&mut a, now), [(CREATE_PERMISSION, Some(peer))]);
    // The first packet to the peer goes as a Send indication and binds a
    // channel for it.
    let (to, n) = a.wrap(0, peer, b"hi", &mut buf).unwrap();
    let m = Message::parse(&buf[..n]).unwrap();
    assert_eq!(
        (to, m.method(), m.class()),
        (addr(TURN), SEND, Class::Indication)
    );
    assert_eq!(drain(&mut a, now), [(CHANNEL_BIND, Some(peer))]);
    // Then over the bound channel.
    let (to, n) = a.wrap(0, peer, b"hi", &mut buf).unwrap();
    assert_eq!(
        (to, &buf[..n]),
        (addr(TURN), &[0x40, 0x00, 0x00, 0x02, b'h', b'i'][..])
    );
    // Incoming ChannelData.
    let data = [0x40, 0x00, 0x00, 0x03, b'y', b'o', b'u'];
    assert!(a.accepts(addr(TURN), &data));
    assert!(!a.accepts(addr("192.0.2.99:3478"), &data));
    assert_eq!(
        a.handle_datagram(now, addr(TURN), &data),
        Ok(Some(Relayed {
            via: 0,
            peer,
            payload: b"you"
        }))
    );
    assert_eq!(a.wrap(1, peer, b"hi", &mut buf), None);
}

#[test]
fn regather_asks_every_server_now() {
    let now = Instant::from_secs(1);
    let mut a = gathered(now);
    let later = now + core::time::Duration::from_secs(2);
    a.regather(later);
    let mut buf = [0u8; 512];
    let mut to = Vec::new();
    while let Some((t, _)) = a.poll_transmit(later, &mut buf) {
        to.push(t);
    }
    assert_eq!(to, [addr(STUN1), addr(STUN2), addr(TURN)]);
    // Garbage from a server is a counted drop.
    assert_eq!(
        a.handle_datagram(later, addr(TURN), &[0x40, 0x09, 0, 0]),
        Err(StunDrop::BadChannelData)
    );
    assert_eq!(a.stats().drops_for(StunDrop::BadChannelData), 1);
}

/// The node permits all 8 candidates of every member it learns: 40 members
/// behind their own public IPs, each also showing a relayed address on our
/// TURN server, cost 41 permissions and no channel.
#[test]
fn forty_members_with_eight_candidates_each() {
    let now = Instant::from_secs(1);
    let mut a = gathered(now);
    let mut ips = Vec::new();
    for i in 1..=40u8 {
        let mut cands = vec![
            addr(&format!("192.168.{i}.2:5800")),
            addr(&format!("[fd00::{i}]:5800")),
            addr(&format!("192.0.2.3:{}", 50000 + u16::from(i))),
        ];
        for port in 0..5u16 {
            cands.push(addr(&format!("198.51.100.{i}:{}", 40000 + port)));
        }
        a.permit(now, &cands);
        ips.push(
            format!("198.51.100.{i}")
                .parse::<std::net::IpAddr>()
                .unwrap(),
        );
    }
    ips.push("192.0.2.3".parse().unwrap());
    let mut buf = [0u8; 512];
    let mut permitted = Vec::new();
    let mut t = now;
    while t < now + core::time::Duration::from_secs(5) {
        while let Some((to, n)) = a.poll_transmit(t, &mut buf) {
            let req = buf[..n].to_vec();
            let m = Message::parse(&req).unwrap();
            assert_eq!(m.method(), CREATE_PERMISSION);
            let peer = m.attr(ATTR_XOR_PEER_ADDRESS).unwrap();
            let peer = crate::core::stun::attr::xor_address(peer, &m.transaction_id()).unwrap();
            permitted.push(peer.ip());
            serve(&mut a, t, to, &req);
        }
        t += core::time::Duration::from_millis(500);
    }
    permitted.sort();
    ips.sort();
    assert_eq!(permitted, ips);
}
