//! IPOP 16.01 JSON configs: load from any text; what loads writes back
//! (`to_json`) to text that loads to the same config, and that text is
//! stable.
#![no_main]

use ipop::config::{describe_loaded, to_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = ipop::fuzzing::config_json(text) else {
        return;
    };
    let _ = describe_loaded(&first);
    let written = to_json(&first.config);
    let again = ipop::fuzzing::config_json(&written)
        .unwrap_or_else(|e| panic!("written config does not load: {e}\n{written}"));
    assert_eq!(again.config, first.config, "{written}");
    assert_eq!(to_json(&again.config), written);
});
