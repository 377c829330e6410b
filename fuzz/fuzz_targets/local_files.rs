//! The local text files a node reads: /etc/resolv.conf and /etc/hosts,
//! the key file, board profiles and the host facts (/etc/openwrt_release,
//! /proc/meminfo, /proc/device-tree/model), /proc/net/if_inet6, host:port
//! entries.
#![no_main]

use ipop::board;
use ipop::io::{keyfile, resolve};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let conf = resolve::ResolvConf::parse(text);
    assert!(conf.nameservers.len() <= 3);
    let first_word = text.split_whitespace().nth(1).unwrap_or("localhost");
    let _ = resolve::hosts_lookup(text, first_word);
    for line in text.lines().take(16) {
        let _ = resolve::split_host_port(line, 53);
        let _ = resolve::literal_entry(line, 3478);
    }
    if let Some(k) = keyfile::parse_secret(text) {
        let _ = keyfile::public_of(&k);
    }
    if let Ok(p) = board::parse(text, "fuzz") {
        let _ = (p.describe(), p.pool_bytes());
    }
    let _ = board::openwrt_arch_of(text);
    let _ = board::mem_total_kb_of(text);
    let _ = board::pi_model_of(text);
    assert!(ipop::io::netif::unusable_ip6(text).len() <= text.lines().count());
});
