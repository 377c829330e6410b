//! Randomized robustness test for the parser and the clients' input paths:
//! random and mutated datagrams must never panic, and every rejection is a
//! counted drop. Runs in `cargo test` (deterministic seed).

use super::consts::*;
use super::*;
use crate::core::rng::Rng;
use crate::core::time::Instant;

fn mutate(rng: &mut Rng, seed: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(seed);
    match rng.below(5) {
        0 => {
            let n = rng.below(out.len() as u64 + 1) as usize;
            out.truncate(n);
        }
        1 => {
            for _ in 0..=rng.below(4) {
                if out.is_empty() {
                    break;
                }
                let i = rng.below(out.len() as u64) as usize;
                out[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            let extra = rng.below(9) as usize;
            for _ in 0..extra {
                out.push(rng.next_u32() as u8);
            }
        }
        3 => {
            // Random body behind a valid-looking header.
            let len = (rng.below(64) as usize) * 4;
            out.truncate(HEADER_LEN.min(out.len()));
            out.resize(HEADER_LEN + len, 0);
            rng.fill(&mut out[HEADER_LEN..]);
            if let Some(l) = out.get_mut(2..4) {
                l.copy_from_slice(&(len as u16).to_be_bytes());
            }
        }
        _ => {
            let len = rng.below(200) as usize;
            out.resize(len, 0);
            rng.fill(out);
        }
    }
}

fn exercise(m: &Message) {
    let txid = m.transaction_id();
    for a in m.attributes() {
        let _ = attr::address(a.value);
        let _ = attr::xor_address(a.value, &txid);
        let _ = attr::error_code(a.value);
        let _ = attr::u32_value(a.value);
        let _ = attr::channel_number(a.value);
        let _ = attr::text(a.value);
    }
    let _ = m.check_fingerprint();
    let _ = m.check_integrity(b"key");
}

#[test]
fn random_datagrams_never_panic() {
    let mut rng = Rng::from_seed([42; 32]);
    let server: std::net::SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let mut binding = BindingClient::new(&[server], Rng::from_seed([1; 32]));
    let mut turn = TurnClient::new(server, "u", "p", Rng::from_seed([2; 32]));
    let now = Instant::from_secs(1);
    binding.handle_timeout(now);
    turn.handle_timeout(now);
    let mut buf = [0u8; 1500];
    while binding.poll_transmit(now, &mut buf).is_some() {}
    while turn.poll_transmit(now, &mut buf).is_some() {}

    // Seeds: a valid response, a ChannelData frame, an error response.
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    let mut w = MessageWriter::new(&mut buf, 0x0101, &[7; 12]).unwrap();
    w.xor_address(
        ATTR_XOR_MAPPED_ADDRESS,
        "198.51.100.7:4000".parse().unwrap(),
    )
    .unwrap();
    w.message_integrity(b"key").unwrap();
    w.fingerprint().unwrap();
    let n = w.finish();
    seeds.push(buf[..n].to_vec());
    let mut w = MessageWriter::new(&mut buf, 0x0113, &[8; 12]).unwrap();
    w.error_code(401, "Unauthorized").unwrap();
    w.attr(ATTR_REALM, b"r").unwrap();
    w.attr(ATTR_NONCE, b"n0").unwrap();
    let n = w.finish();
    seeds.push(buf[..n].to_vec());
    seeds.push(vec![0x40, 0x00, 0x00, 0x03, 1, 2, 3]);

    let mut d = Vec::new();
    let mut parsed = 0u32;
    const ROUNDS: usize = 100_000;
    for i in 0..ROUNDS {
        let seed = &seeds[i % seeds.len()];
        mutate(&mut rng, seed, &mut d);
        let _ = is_stun(&d);
        let _ = is_channel_data(&d);
        let _ = ChannelData::parse(&d);
        if let Ok(m) = Message::parse(&d) {
            parsed += 1;
            exercise(&m);
        }
        let _ = binding.handle_datagram(now, server, &d);
        let _ = turn.handle_datagram(now, &d);
        let _ = turn.unwrap(&d);
    }
    // Every datagram the clients saw was accepted or counted as a drop.
    let b = binding.stats();
    assert_eq!(b.total_drops() + b.responses_accepted, ROUNDS as u64);
    assert!(parsed > 5_000, "mutations too destructive: {parsed}");
    assert!(b.drops_for(StunDrop::Malformed) > 0);
    assert!(b.drops_for(StunDrop::Truncated) > 0);
    assert!(b.drops_for(StunDrop::UnexpectedTransaction) > 0);
}
