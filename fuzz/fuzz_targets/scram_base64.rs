//! base64 (one accepted spelling per byte string: decode then encode gives
//! the input back; encode then decode gives the bytes back) and the SCRAM
//! client against any server-first and server-final, plus a well-formed
//! exchange built from the input that must verify.
#![no_main]

use ipop::config::base64;
use ipop::core::xmpp::scram::Scram;
use ipop_fuzz::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(bytes) = base64::decode(text) {
            assert_eq!(base64::encode(&bytes), text);
        }
    }
    assert_eq!(base64::decode(&base64::encode(data)).as_deref(), Some(data));

    let mut input = Bytes(data);
    let iterations = u32::from(input.u8() % 8) + 1;
    let user_len = usize::from(input.u8() % 16);
    let user = String::from_utf8_lossy(input.take(user_len)).into_owned();
    let password = String::from_utf8_lossy(input.take(8)).into_owned();
    let nonce = format!("c{}", base64::encode(input.take(12)));
    let suffix = format!("s{}", base64::encode(input.take(6)));
    let salt = base64::encode(&[b"salt", input.take(8)].concat());
    let rest = String::from_utf8_lossy(input.rest()).into_owned();

    // Whatever the server says.
    let (mut s, first) = Scram::start(&user, &password, &nonce);
    assert!(first.starts_with("n,,n="));
    let (server_first, server_final) = rest.split_once('\n').unwrap_or((&rest, ""));
    if s.client_final(server_first).is_ok() {
        let _ = s.verify_final(server_final);
    }

    // A well-formed exchange verifies; the same with a flipped proof fails.
    let (mut s, _) = Scram::start(&user, &password, &nonce);
    let sf = format!("r={nonce}{suffix},s={salt},i={iterations}");
    let fin = s.client_final(&sf).expect("a well-formed server-first");
    assert!(fin.contains(",p="));
    let mut sig = s.server_signature().unwrap();
    assert!(s
        .verify_final(&format!("v={}", base64::encode(&sig)))
        .is_ok());
    sig[0] ^= 1;
    assert!(s
        .verify_final(&format!("v={}", base64::encode(&sig)))
        .is_err());
});
