//! OpenWrt UCI files: the libuci-compatible parser on any bytes, then every
//! overlay section loaded; what loads writes back (`to_uci_section`) to a
//! section that loads to the same config, and that text is stable. Also
//! the percent-encoded peer and TURN list entries.
#![no_main]

use ipop::config::uci;
use ipop::config::{decode_peer, decode_turn, encode_peer, encode_turn, to_json, to_uci_section};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sections) = uci::parse(data) {
        let _ = uci::show("ipop", &sections);
        for i in 0..sections.len().min(8) {
            let _ = uci::section_ref(&sections, i);
        }
    }
    if let Ok(overlays) = ipop::fuzzing::uci_overlays(data) {
        for (name, _) in overlays.iter().take(4) {
            let Ok(first) = ipop::fuzzing::config_uci(data, name) else {
                continue;
            };
            let section = to_uci_section(&first.config, "o", first.enabled);
            let back = ipop::fuzzing::config_uci(section.as_bytes(), "o")
                .unwrap_or_else(|e| panic!("written section does not load: {e}\n{section}"));
            assert_eq!(back.config, first.config, "{section}");
            assert_eq!(back.enabled, first.enabled);
            assert_eq!(to_uci_section(&back.config, "o", back.enabled), section);
            let _ = to_json(&back.config);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(p) = decode_peer(text) {
            assert_eq!(decode_peer(&encode_peer(&p)), Some(p));
        }
        if let Some(t) = decode_turn(text) {
            assert_eq!(decode_turn(&encode_turn(&t)), Some(t));
        }
    }
});
