//! Bencode decoder: strict, lenient, prefix and the info-span finder.
//!
//! Properties: nothing panics; no allocation is sized by a claimed length; strict
//! decoding accepts only canonical input, so a decoded value re-encodes to exactly the
//! input; the lenient decoder agrees with the strict one wherever the strict one
//! succeeds; a decoded prefix is itself a whole value; a found dictionary span is a
//! whole value equal to the dictionary's entry.

#![no_main]

use ccbt_engine::bencode::{decode, decode_lenient, decode_prefix, encode, find_dict_value_span};
use ccbt_fuzz::assert_bounded_allocation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = assert_bounded_allocation("bencode::decode", data.len(), || decode(data));
    let lenient = assert_bounded_allocation("bencode::decode_lenient", data.len(), || decode_lenient(data));
    if let Ok(value) = &strict {
        assert_eq!(encode(value), data, "a strictly decoded value re-encodes to its input");
        assert_eq!(
            lenient.as_ref().ok(),
            Some(value),
            "lenient decoding agrees with strict"
        );
    }
    if let Ok(value) = &lenient {
        // Lenient input may be unsorted; its canonical form must then decode strictly.
        let canonical = encode(value);
        assert_eq!(
            decode(&canonical).as_ref(),
            Ok(value),
            "canonical form of a lenient value"
        );
    }

    if let Ok((value, used)) = assert_bounded_allocation("bencode::decode_prefix", data.len(), || decode_prefix(data)) {
        assert!(used > 0 && used <= data.len());
        assert_eq!(
            decode(&data[..used]).as_ref(),
            Ok(&value),
            "a decoded prefix is a whole value"
        );
    }

    // `info` is the key the info-hash is computed over; a short key reaches more spans.
    for key in [&b"info"[..], b"a"] {
        let span = assert_bounded_allocation("bencode::find_dict_value_span", data.len(), || {
            find_dict_value_span(data, key)
        });
        if let Ok(found) = span {
            let whole = strict.as_ref().expect("a span is found only in a valid document");
            let entry = whole.as_dict().and_then(|d| d.get(key));
            match found {
                Some(bytes) => assert_eq!(decode(bytes).ok().as_ref(), entry, "span decodes to the entry"),
                None => assert!(entry.is_none(), "span finder missed a present key"),
            }
        }
    }
});
