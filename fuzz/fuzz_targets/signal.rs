//! Signals (the JSON inside XMPP messages): decode, and every decoded
//! signal encodes to text that decodes to the same signal, byte-stable
//! from then on.
#![no_main]

use ipop::core::signal::{self, Signal, MAX_SIGNAL_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sig) = signal::decode(data) else {
        return;
    };
    let _ = (sig.sender(), sig.type_name());
    if let Signal::Announce(a) = &sig {
        let _ = signal::check_announce(a, ("10.0.3.0".parse().unwrap(), 24));
    }
    let mut out = [0u8; MAX_SIGNAL_LEN];
    let n = sig
        .encode(&mut out)
        .expect("MAX_SIGNAL_LEN always suffices");
    let back = signal::decode(&out[..n]).expect("our encoding decodes");
    assert_eq!(back, sig);
    let mut again = [0u8; MAX_SIGNAL_LEN];
    let m = back.encode(&mut again).unwrap();
    assert_eq!(&again[..m], &out[..n]);
});
