//! The XMPP client fed server bytes through a whole session: the input is
//! the server's side in turns (separated by NUL bytes), each turn's first
//! byte choosing how it is split and what the shell does next (TLS up,
//! time passes, connection drops). The fixture plays the SCRAM server:
//! `SERVER_FIRST` and `SERVER_FINAL` in a turn become the real messages
//! for the client's nonce (`SERVER_FINAL_BAD` a wrong proof), so the
//! fuzzer gets through SCRAM-SHA-1 to binding, roster, presence and
//! signals instead of stopping at the first HMAC.
#![no_main]

use std::time::Duration;

use ipop::config::base64;
use ipop::core::identity::Uid;
use ipop::core::rng::Rng;
use ipop::core::time::Instant;
use ipop::core::xmpp::scram::Scram;
use ipop::core::xmpp::{Client, ClientConfig, Event};
use jid::BareJid;
use libfuzzer_sys::fuzz_target;

const PASSWORD: &str = "s3cret-pw";

/// The server's SCRAM messages for the client-first inside `out`.
fn scram_server(out: &str, iterations: u32) -> Option<(String, String)> {
    let start = out.find("mechanism='SCRAM-SHA-1'>")? + "mechanism='SCRAM-SHA-1'>".len();
    let b64 = &out[start..start + out[start..].find('<')?];
    let first = String::from_utf8(base64::decode(b64)?).ok()?;
    let nonce = first.strip_prefix("n,,n=alice,r=")?;
    let server_first = format!("r={nonce}srvNONCE,s=QSXCR+Q6sek8bf92,i={iterations}");
    let (mut s, _) = Scram::start("alice", PASSWORD, nonce);
    s.client_final(&server_first).ok()?;
    let server_final = format!("v={}", base64::encode(&s.server_signature()?));
    Some((server_first, server_final))
}

fn output(c: &mut Client) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 512];
    while let Some(n) = c.poll_transmit(&mut buf) {
        all.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(all).expect("the client writes UTF-8")
}

fuzz_target!(|data: &[u8]| {
    let cfg = ClientConfig {
        jid: BareJid::new("alice@ipop.test").unwrap(),
        password: PASSWORD.into(),
        uid: Uid::from_ip4("10.254.0.1".parse().unwrap()),
    };
    let mut c = Client::new(cfg, Rng::from_seed([1; 32]));
    let mut now = Instant::from_secs(100);
    c.handle_connected(now);
    let mut sent = output(&mut c);
    let mut scram: Option<(String, String)> = None;
    for turn in data.split(|&b| b == 0).take(64) {
        let Some((&ctl, bytes)) = turn.split_first() else {
            continue;
        };
        let mut text = bytes.to_vec();
        if sent.contains("mechanism='SCRAM-SHA-1'") {
            scram = scram_server(&sent, u32::from(ctl >> 4) + 1);
        }
        if let Some((first, last)) = &scram {
            let s = String::from_utf8_lossy(&text)
                .replace("SERVER_FIRST", &base64::encode(first.as_bytes()))
                .replace(
                    "SERVER_FINAL_BAD",
                    &base64::encode(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                )
                .replace("SERVER_FINAL", &base64::encode(last.as_bytes()));
            text = s.into_bytes();
        }
        let piece = match ctl & 3 {
            0 => text.len().max(1),
            1 => 1,
            2 => 7,
            _ => 100,
        };
        for p in text.chunks(piece) {
            c.handle_input(now, p);
        }
        if c.wants_tls() {
            c.handle_tls_established(now);
        }
        while let Some(ev) = c.poll_event() {
            if let Event::Online = ev {
                let _ = c.broadcast_signal(
                    b"{\"t\":\"ping\",\"uid\":\"5e4fe169007b144d346f9a278264d17896ccc69f\"}",
                );
            }
        }
        if ctl & 4 != 0 {
            now += Duration::from_secs(u64::from(ctl >> 3) * 4);
            c.handle_timeout(now);
        }
        if c.wants_close() || ctl & 0xf0 == 0xf0 {
            output(&mut c);
            c.handle_closed(now);
            if let Some(t) = c.poll_timeout() {
                now = now.max(t);
                c.handle_timeout(now);
            }
            c.handle_connected(now);
        }
        let _ = (
            c.state(),
            c.peers().len(),
            c.jid(),
            c.counters(),
            c.roster_items(),
        );
        sent = output(&mut c);
    }
});
