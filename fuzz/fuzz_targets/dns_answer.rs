//! DNS answers (src/core/dns.rs) for the question the message itself
//! carries, so mutated answers still match and reach the record walk.
//! Also the query writer with the name read back.
#![no_main]

use ipop::core::dns::{self, TYPE_A, TYPE_AAAA};
use libfuzzer_sys::fuzz_target;

/// The question name at offset 12, naively (labels, no pointers).
fn question_name(msg: &[u8]) -> String {
    let mut at = 12;
    let mut labels = Vec::new();
    while let Some(&len) = msg.get(at) {
        if len == 0 || len >= 64 || labels.len() > 40 {
            break;
        }
        let Some(l) = msg.get(at + 1..at + 1 + usize::from(len)) else {
            break;
        };
        labels.push(String::from_utf8_lossy(l).into_owned());
        at += 1 + usize::from(len);
    }
    labels.join(".")
}

fuzz_target!(|data: &[u8]| {
    let id = u16::from_be_bytes([
        data.first().copied().unwrap_or(0),
        data.get(1).copied().unwrap_or(0),
    ]);
    let name = question_name(data);
    for qtype in [TYPE_A, TYPE_AAAA] {
        if let Ok(addrs) = dns::read_answer(data, id, &name, qtype) {
            assert!(addrs.iter().all(|a| a.is_ipv4() == (qtype == TYPE_A)));
        }
    }
    let mut q = [0u8; 600];
    if let Ok(n) = dns::write_query(&mut q, id, &name, TYPE_A) {
        assert!(n <= q.len());
        // Our own query, read as if it were an answer, is not one.
        assert!(dns::read_answer(&q[..n], id, &name, TYPE_A).is_err());
    }
});
