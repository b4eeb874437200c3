//! A peer that sends corrupt data: its pieces fail the hash, are fetched again from a
//! good peer, the bad peer is dropped and banned, and the download completes intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ccbt_engine::InfoHash;
use ccbt_tests::evil_peer::EvilPeer;
use ccbt_tests::{assert_same_file, btbt_create, start_seeder, write_random_file, Downloader};

#[test]
fn corrupt_peer_is_dropped_and_download_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let content = seed_dir.join("payload.bin");
    const TOTAL: u64 = 8 * 1024 * 1024;
    const PIECE: u64 = 64 * 1024;
    write_random_file(&content, TOTAL, 7);
    let torrent = tmp.path().join("payload.torrent");
    let hex = btbt_create(&content, &torrent, &["--piece-size", &PIECE.to_string()]);
    let info_hash = InfoHash::from_hex(&hex).unwrap();
    // The good seeder is slowed so the bad peer gets its chance to send garbage.
    let (_seeder, good) = start_seeder(&[&torrent], &seed_dir, &["--upload-limit", "2M"]);
    let evil = EvilPeer::start(info_hash, (TOTAL / PIECE) as u32);

    let down = tmp.path().join("down");
    let mut leecher = Downloader::new(&torrent, &down).peer(evil.addr).peer(&good).spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut dropped_during_download = false;
    while leecher.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "download did not finish: {}",
            leecher.stderr()
        );
        if evil.stats.closed_by_peer.load(Ordering::Relaxed) > 0 {
            dropped_during_download = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    leecher.wait_success("downloader", Duration::from_secs(10));
    assert_same_file(&content, &down.join("payload.bin"));
    assert!(
        evil.stats.blocks_served.load(Ordering::Relaxed) > 0,
        "the bad peer was asked for data"
    );
    assert!(
        dropped_during_download,
        "the bad peer was disconnected before the download ended"
    );
    assert_eq!(
        evil.stats.connections.load(Ordering::Relaxed),
        1,
        "a banned peer is not dialed again"
    );
    let failures = leecher.last_of("summary").and_then(|_| {
        leecher
            .seen
            .iter()
            .rev()
            .find(|v| v["type"] == "status")
            .map(|v| v["hash_failures"].as_u64().unwrap())
    });
    assert!(failures.unwrap_or(0) >= 1, "corrupt pieces were detected");
}
