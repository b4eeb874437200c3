//! `GET /api/v1/torrents/changes`: everything first, then only what changed, over
//! real HTTP (the fake core keeps a fresh change log per request).

use super::fake_core::INFO_HASH;
use super::harness::{error_of, TestServer};
use crate::api_types::TorrentChanges;

#[test]
fn changes_from_zero_are_a_full_list_with_a_revision() {
    let server = TestServer::start();
    let response = server.get("/api/v1/torrents/changes");
    assert_eq!(response.status_code, 200, "{}", response.as_str().unwrap_or(""));
    let changes: TorrentChanges = serde_json::from_slice(response.as_bytes()).unwrap();
    assert!(changes.full);
    assert_eq!(changes.torrents.len(), 1);
    assert_eq!(changes.torrents[0].info_hash, INFO_HASH);
    assert!(changes.removed.is_empty());
    assert!(changes.revision > 0);

    // The fake core's log is this run's: at its own revision nothing changed.
    let again = server.get(&format!("/api/v1/torrents/changes?since={}", changes.revision));
    let again: TorrentChanges = serde_json::from_slice(again.as_bytes()).unwrap();
    assert!(!again.full);
    assert!(again.torrents.is_empty(), "{again:?}");
}

#[test]
fn a_bad_since_is_named() {
    let server = TestServer::start();
    let response = server.get("/api/v1/torrents/changes?since=soon");
    let (status, code, message) = error_of(&response);
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(message.contains("`since`"), "{message}");
}
