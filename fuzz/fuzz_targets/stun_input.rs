//! Any datagram fed to the STUN codec and both clients: no panic, and
//! every datagram a client sees is either accepted or a counted drop.
#![no_main]

use ipop::core::rng::Rng;
use ipop::core::stun::{attr, is_channel_data, is_stun, BindingClient, Message, TurnClient};
use ipop::core::time::Instant;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = (is_stun(data), is_channel_data(data));
    if let Ok(m) = Message::parse(data) {
        let id = m.transaction_id();
        for a in m.attributes() {
            let _ = attr::xor_address(a.value, &id);
            let _ = attr::error_code(a.value);
        }
        let _ = m.check_fingerprint();
        let _ = m.check_integrity(b"key");
    }
    let server = "192.0.2.1:3478".parse().unwrap();
    let now = Instant::from_secs(1);
    let mut b = BindingClient::new(&[server], Rng::from_seed([1; 32]));
    let mut t = TurnClient::new(server, "u", "p", Rng::from_seed([2; 32]));
    let mut buf = [0u8; 1500];
    b.handle_timeout(now);
    t.handle_timeout(now);
    while b.poll_transmit(now, &mut buf).is_some() {}
    while t.poll_transmit(now, &mut buf).is_some() {}
    let accepted = b.handle_datagram(now, server, data).is_ok();
    assert_eq!(b.stats().total_drops() + u64::from(accepted), 1);
    let _ = t.handle_input(now, data);
});
