//! Interoperability of ipop's link handshake and transport with the `snow`
//! crate (an independent Noise implementation), both directions.
//!
//! snow speaks plain Noise; ipop's wire messages wrap the Noise payload with
//! a type byte, indices, and mac1/mac2 (docs/PROTOCOL.md, "Links"). The test
//! strips and adds exactly those fields around snow's bytes.

use std::net::SocketAddr;

use ipop::core::link::consts::{IDENTIFIER, LABEL_MAC1};
use ipop::core::link::cookie::derive_key;
use ipop::core::link::noise::mac;
use ipop::core::link::{LinkConfig, Links, PeerId, Received, TRANSPORT_OVERHEAD};
use ipop::core::rng::Rng;
use ipop::core::time::Instant;

const PATTERN: &str = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
const PSK: [u8; 32] = [0x5a; 32];

fn links(secret: u8) -> Links {
    let cfg = LinkConfig {
        static_secret: [secret; 32],
        psk: PSK,
        max_peers: 4,
    };
    Links::new(cfg, Rng::from_seed([secret ^ 0xff; 32]))
}

fn snow_keypair() -> snow::Keypair {
    snow::Builder::new(PATTERN.parse().unwrap())
        .generate_keypair()
        .unwrap()
}

fn from() -> SocketAddr {
    "198.51.100.7:51820".parse().unwrap()
}

/// Adds mac1 (keyed by the receiver's public key) and a zero mac2.
fn add_macs(mut msg: Vec<u8>, receiver_public: &[u8; 32]) -> Vec<u8> {
    let mac1 = mac(&derive_key(LABEL_MAC1, receiver_public), &msg);
    msg.extend_from_slice(&mac1);
    msg.extend_from_slice(&[0; 16]);
    msg
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().unwrap())
}

#[test]
fn snow_initiator_to_ipop_responder() {
    let mut responder = links(3);
    let kp = snow_keypair();
    let peer = responder
        .add_peer(kp.public.clone().try_into().unwrap())
        .unwrap();
    let mut hs = snow::Builder::new(PATTERN.parse().unwrap())
        .local_private_key(&kp.private)
        .remote_public_key(&responder.public_key())
        .prologue(IDENTIFIER)
        .psk(2, &PSK)
        .build_initiator()
        .unwrap();

    // Message 1: snow's e, s, payload (a 12-byte TAI64N timestamp).
    let timestamp = [0x40, 0, 0, 0, 0x65, 0, 0, 0, 0, 0, 0, 1];
    let mut noise = [0u8; 256];
    let n = hs.write_message(&timestamp, &mut noise).unwrap();
    assert_eq!(n, 32 + 48 + 28);
    let mut init = vec![1, 0, 0, 0];
    init.extend_from_slice(&0x1122_3344u32.to_le_bytes());
    init.extend_from_slice(&noise[..n]);
    let mut init = add_macs(init, &responder.public_key());
    assert_eq!(init.len(), 148);

    let now = Instant::from_secs(10);
    let mut out = [0u8; 256];
    let len = match responder.receive(now, from(), &mut init, &mut out) {
        Received::Reply { peer: Some(p), len } => {
            assert_eq!(p, peer);
            len
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(len, 92);
    assert_eq!(&out[..4], &[2, 0, 0, 0]);
    assert_eq!(
        le32(&out[8..12]),
        0x1122_3344,
        "response names snow's index"
    );
    let ipop_index = le32(&out[4..8]);
    // mac1 of the response is keyed by the initiator's (snow's) public key.
    let kp_pub: [u8; 32] = kp.public.clone().try_into().unwrap();
    assert_eq!(
        &out[60..76],
        &mac(&derive_key(LABEL_MAC1, &kp_pub), &out[..60])
    );

    // Message 2 read by snow: e + sealed empty payload.
    let mut payload = [0u8; 64];
    assert_eq!(hs.read_message(&out[12..60], &mut payload).unwrap(), 0);
    let transport = hs.into_stateless_transport_mode().unwrap();

    // snow -> ipop: the first transport message also confirms the session.
    let mut sealed = [0u8; 128];
    let n = transport
        .write_message(0, b"hello from snow", &mut sealed)
        .unwrap();
    let mut dg = vec![4, 0, 0, 0];
    dg.extend_from_slice(&ipop_index.to_le_bytes());
    dg.extend_from_slice(&0u64.to_le_bytes());
    dg.extend_from_slice(&sealed[..n]);
    match responder.receive(now, from(), &mut dg, &mut out) {
        Received::Data { peer: p, payload } => {
            assert_eq!(p, peer);
            assert_eq!(payload, b"hello from snow");
        }
        other => panic!("{other:?}"),
    }
    assert!(responder.is_established(peer));

    // ipop -> snow, several messages so the counter moves.
    for (i, msg) in [&b"hello from ipop"[..], b"", b"third"].iter().enumerate() {
        let n = responder.encapsulate(now, peer, msg, &mut out).unwrap();
        assert_eq!(n, msg.len() + TRANSPORT_OVERHEAD);
        assert_eq!(&out[..4], &[4, 0, 0, 0]);
        assert_eq!(le32(&out[4..8]), 0x1122_3344);
        let counter = u64::from_le_bytes(out[8..16].try_into().unwrap());
        assert_eq!(counter, i as u64);
        let mut plain = [0u8; 128];
        let m = transport
            .read_message(counter, &out[16..n], &mut plain)
            .unwrap();
        assert_eq!(&plain[..m], *msg);
    }
}

#[test]
fn ipop_initiator_to_snow_responder() {
    let mut initiator = links(4);
    let kp = snow_keypair();
    let snow_pub: [u8; 32] = kp.public.clone().try_into().unwrap();
    let peer = initiator.add_peer(snow_pub).unwrap();
    let mut hs = snow::Builder::new(PATTERN.parse().unwrap())
        .local_private_key(&kp.private)
        .prologue(IDENTIFIER)
        .psk(2, &PSK)
        .build_responder()
        .unwrap();

    let now = Instant::from_secs(20);
    let mut out = [0u8; 256];
    let n = initiator.initiate(now, peer, &mut out).unwrap();
    assert_eq!(n, 148);
    // Byte 1 names the PSK (docs/PROTOCOL.md, "Secret rotation").
    assert_eq!(&out[..4], &[1, ipop::core::link::psk::tag(&PSK), 0, 0]);
    assert_ne!(out[1], 0);
    assert_eq!(
        &out[116..132],
        &mac(&derive_key(LABEL_MAC1, &snow_pub), &out[..116])
    );
    assert_eq!(&out[132..148], &[0; 16], "no cookie: zero mac2");
    let ipop_index = le32(&out[4..8]);

    let mut timestamp = [0u8; 64];
    assert_eq!(hs.read_message(&out[8..116], &mut timestamp).unwrap(), 12);
    assert_eq!(hs.get_remote_static().unwrap(), &initiator.public_key());
    let mut noise = [0u8; 128];
    let m = hs.write_message(&[], &mut noise).unwrap();
    assert_eq!(m, 48);
    let mut resp = vec![2, 0, 0, 0];
    resp.extend_from_slice(&0xdead_beefu32.to_le_bytes());
    resp.extend_from_slice(&ipop_index.to_le_bytes());
    resp.extend_from_slice(&noise[..m]);
    let mut resp = add_macs(resp, &initiator.public_key());
    let transport = hs.into_stateless_transport_mode().unwrap();

    let mut reply = [0u8; 256];
    assert_eq!(
        initiator.receive(now, from(), &mut resp, &mut reply),
        Received::Established { peer }
    );

    // The confirmation keepalive, then data, both readable by snow.
    let (p, n) = initiator.poll_transmit(now, &mut out).unwrap();
    assert_eq!((p, n), (peer, 32));
    let mut plain = [0u8; 128];
    assert_eq!(le32(&out[4..8]), 0xdead_beef);
    assert_eq!(
        transport.read_message(0, &out[16..n], &mut plain).unwrap(),
        0
    );
    let n = initiator
        .encapsulate(now, peer, b"ipop says hi", &mut out)
        .unwrap();
    let m = transport.read_message(1, &out[16..n], &mut plain).unwrap();
    assert_eq!(&plain[..m], b"ipop says hi");

    // snow -> ipop, out of order.
    let mut dgs = Vec::new();
    for c in 0..3u64 {
        let mut sealed = [0u8; 64];
        let k = transport
            .write_message(c, &[c as u8; 5], &mut sealed)
            .unwrap();
        let mut dg = vec![4, 0, 0, 0];
        dg.extend_from_slice(&ipop_index.to_le_bytes());
        dg.extend_from_slice(&c.to_le_bytes());
        dg.extend_from_slice(&sealed[..k]);
        dgs.push(dg);
    }
    for c in [2usize, 0, 1] {
        match initiator.receive(now, from(), &mut dgs[c], &mut reply) {
            Received::Data { peer: p, payload } => {
                assert_eq!(p, peer);
                assert_eq!(payload, &[c as u8; 5]);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(initiator.drops().iter().sum::<u64>(), 0);
}

#[test]
fn snow_with_the_wrong_psk_is_refused() {
    let mut responder = links(3);
    let kp = snow_keypair();
    let peer: PeerId = responder
        .add_peer(kp.public.clone().try_into().unwrap())
        .unwrap();
    let mut hs = snow::Builder::new(PATTERN.parse().unwrap())
        .local_private_key(&kp.private)
        .remote_public_key(&responder.public_key())
        .prologue(IDENTIFIER)
        .psk(2, &[0u8; 32])
        .build_initiator()
        .unwrap();
    let mut noise = [0u8; 256];
    let n = hs
        .write_message(&[0x40, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], &mut noise)
        .unwrap();
    let mut init = vec![1, 0, 0, 0, 1, 0, 0, 0];
    init.extend_from_slice(&noise[..n]);
    let mut init = add_macs(init, &responder.public_key());
    let mut out = [0u8; 256];
    let now = Instant::from_secs(1);
    let Received::Reply { len, .. } = responder.receive(now, from(), &mut init, &mut out) else {
        panic!("the PSK only enters at the response")
    };
    let mut payload = [0u8; 64];
    assert!(hs.read_message(&out[12..len - 32], &mut payload).is_err());
    assert!(!responder.is_established(peer));
}
