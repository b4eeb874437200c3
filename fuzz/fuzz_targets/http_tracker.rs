//! HTTP tracker response bodies: announce and scrape (BEP 3, BEP 23, BEP 7, BEP 48).
//!
//! Properties: nothing panics; no allocation is sized by a claimed length; every
//! documented bound holds (peer count, scrape entries, text and tracker-id lengths,
//! no port 0); an accepted announce written back as a canonical body (dictionary-model
//! peers, in order) parses to the same response.

#![no_main]

use std::collections::BTreeMap;

use ccbt_engine::bencode::{encode, Value};
use ccbt_engine::tracker::http::{parse_announce_response, parse_scrape_response, MAX_SCRAPE_ENTRIES};
use ccbt_engine::tracker::{
    AnnounceResponse, TrackerError, MAX_MESSAGE_LEN, MAX_PEERS_PER_RESPONSE, MAX_TRACKER_ID_LEN,
};
use ccbt_fuzz::assert_bounded_allocation;
use libfuzzer_sys::fuzz_target;

/// Longest text a bounded message can become: its bytes are cut to `MAX_MESSAGE_LEN`
/// and then decoded lossily, where each invalid byte becomes a 3-byte U+FFFD.
const MAX_TEXT: usize = 3 * MAX_MESSAGE_LEN;

fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).expect("parsed from an i64"))
}

/// The response as a tracker would send it: a sorted dictionary, peers as dictionaries.
fn body_of(r: &AnnounceResponse) -> Vec<u8> {
    let mut d = BTreeMap::new();
    let mut put = |k: &str, v: Value| d.insert(k.as_bytes().to_vec(), v);
    if let Some(i) = r.interval {
        put("interval", int(i.as_secs()));
    }
    if let Some(i) = r.min_interval {
        put("min interval", int(i.as_secs()));
    }
    if let Some(id) = &r.tracker_id {
        put("tracker id", Value::Bytes(id.clone()));
    }
    if let Some(n) = r.seeders {
        put("complete", int(n.into()));
    }
    if let Some(n) = r.leechers {
        put("incomplete", int(n.into()));
    }
    if let Some(w) = &r.warning {
        put("warning message", Value::string(w));
    }
    let peers = r
        .peers
        .iter()
        .map(|p| {
            Value::dict([
                ("ip", Value::string(&p.ip().to_string())),
                ("port", int(p.port().into())),
            ])
        })
        .collect();
    put("peers", Value::List(peers));
    encode(&Value::Dict(d))
}

fn check_error(e: &TrackerError) {
    if let TrackerError::Failure(text) = e {
        assert!(text.len() <= MAX_TEXT, "failure reason of {} bytes", text.len());
    }
}

fuzz_target!(|data: &[u8]| {
    match assert_bounded_allocation("parse_announce_response", data.len(), || parse_announce_response(data)) {
        Ok(r) => {
            assert!(r.peers.len() <= MAX_PEERS_PER_RESPONSE);
            assert!(r.peers.iter().all(|p| p.port() != 0), "port 0 is never a peer");
            assert!(r
                .tracker_id
                .as_ref()
                .is_none_or(|id| !id.is_empty() && id.len() <= MAX_TRACKER_ID_LEN));
            assert!(r.warning.as_ref().is_none_or(|w| w.len() <= MAX_TEXT));
            let mut again = parse_announce_response(&body_of(&r)).expect("a canonical body of a parsed response");
            // The warning was cut once already and may have grown by lossy decoding.
            again.warning.clone_from(&r.warning);
            assert_eq!(again, r, "announce response round-trips");
        }
        Err(e) => check_error(&e),
    }
    match assert_bounded_allocation("parse_scrape_response", data.len(), || parse_scrape_response(data)) {
        Ok(entries) => assert!(entries.len() <= MAX_SCRAPE_ENTRIES),
        Err(e) => check_error(&e),
    }
});
