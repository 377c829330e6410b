//! The decrypted-payload parsers one by one (the node's own handling is
//! datagram_established): gossip records, routed and flood headers,
//! topology control messages, Ethernet/IP/ARP views. Round trips: what
//! parses writes back to bytes that parse the same.
#![no_main]

use ipop::core::frame::EthFrame;
use ipop::core::node::payload::{self, PeerInfo};
use ipop::core::topology::wire::{self, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let infos: Vec<PeerInfo> = payload::parse_gossip(data).filter_map(Result::ok).collect();
    for info in &infos {
        let mut out = vec![0u8; 1024];
        out[0] = payload::GOSSIP;
        out[1] = 1;
        let mut at = 2;
        assert!(payload::write_peer_info(&mut out, &mut at, info));
        let back: Vec<_> = payload::parse_gossip(&out[..at]).collect();
        assert_eq!(back, vec![Ok(info.clone())]);
    }
    if let Some(r) = payload::parse_routed(data) {
        let mut out = vec![0u8; payload::ROUTED_HEADER];
        payload::write_routed_header(&mut out, r.hops, &r.src, &r.dst).unwrap();
        out.extend_from_slice(r.frame);
        let b = payload::parse_routed(&out).unwrap();
        assert_eq!(
            (b.hops, b.src, b.dst, b.frame),
            (r.hops, r.src, r.dst, r.frame)
        );
    }
    if let Some(f) = payload::parse_flood(data) {
        let mut out = vec![0u8; payload::FLOOD_HEADER];
        payload::write_flood_header(&mut out, &f.src, &f.arc_end).unwrap();
        out.extend_from_slice(f.frame);
        let b = payload::parse_flood(&out).unwrap();
        assert_eq!((b.src, b.arc_end, b.frame), (f.src, f.arc_end, f.frame));
    }
    let control = data.get(1..).unwrap_or_default();
    match wire::parse(control) {
        Ok(Message::Chord(m)) => {
            let mut out = [0u8; 256];
            let n = wire::emit_chord(&mut out, &m).unwrap();
            assert_eq!(wire::parse(&out[..n]), Ok(Message::Chord(m)));
        }
        Ok(Message::Advertise(list)) => {
            let uids: Vec<_> = wire::advertised(list).collect();
            let mut out = vec![0u8; 64 + 20 * uids.len()];
            if let Some(n) = wire::emit_advertise(&mut out, uids.iter().copied()) {
                match wire::parse(&out[..n]) {
                    Ok(Message::Advertise(l)) => {
                        assert_eq!(wire::advertised(l).collect::<Vec<_>>(), uids)
                    }
                    other => panic!("advertise read back as {other:?}"),
                }
            }
        }
        Err(_) => {}
    }
    if let Some(eth) = EthFrame::new(data) {
        let _ = (
            eth.dst(),
            eth.src(),
            eth.ethertype(),
            eth.is_group(),
            eth.payload().len(),
        );
        let _ = (
            eth.ipv4_src(),
            eth.ipv4_dst(),
            eth.ipv6_src(),
            eth.ipv6_dst(),
        );
        if let Some(arp) = eth.arp_request() {
            let mut out = [0u8; 128];
            let _ = arp.write_reply([2, 0, 0, 0, 0, 1], &mut out);
        }
    }
});
