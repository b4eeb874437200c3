//! Magnet link parsing (BEP 9).
//!
//! Properties: nothing panics; no allocation is sized by the input beyond its length;
//! an accepted link written back with `to_uri` parses to the same link.

#![no_main]

use ccbt_engine::magnet::MagnetLink;
use ccbt_fuzz::assert_bounded_allocation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Links arrive as command-line arguments or API strings: always valid UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = assert_bounded_allocation("MagnetLink::parse", data.len(), || MagnetLink::parse(text));
    if let Ok(link) = parsed {
        let uri = link.to_uri();
        assert_eq!(MagnetLink::parse(&uri).as_ref(), Ok(&link), "to_uri round-trips: {uri}");
    }
});
