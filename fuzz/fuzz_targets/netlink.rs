//! Netlink replies as the shell reads them: acknowledgements, RTM_NEWLINK
//! attribute walks, multicast message counts. Any bytes: an error or a
//! value, never a panic (overflow checks are on in fuzz builds).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ipop::fuzzing::netlink_ack(data) {
        // A kernel errno (positive) or our InvalidData, never garbage.
        assert!(e.raw_os_error().is_none_or(|n| n > 0), "{e:?}");
    }
    if let Err(e) = ipop::fuzzing::netlink_master(data) {
        assert!(e.raw_os_error().is_none_or(|n| n > 0), "{e:?}");
    }
    // Each counted message claims at least 16 bytes (the last may be cut short).
    assert!(ipop::fuzzing::netlink_count(data) <= data.len().div_ceil(16));
});
