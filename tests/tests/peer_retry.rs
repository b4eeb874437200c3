//! A peer the user named that is down for longer than learned addresses are kept is
//! still redialed: when the seeder comes up, the download completes. Meanwhile the
//! status says the torrent has no reachable peer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ccbt_tests::{assert_same_tree, btbt_create, spawn_seeder, write_random_file, Downloader};

/// Failed dials after which a learned address is forgotten (engine's MAX_DIAL_FAILURES).
const OLD_GIVE_UP: u32 = 8;

#[test]
fn a_named_peer_that_comes_back_late_is_still_reached() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let content = seed_dir.join("late.bin");
    write_random_file(&content, 1_500_000, 12);
    let torrent = tmp.path().join("late.torrent");
    btbt_create(&content, &torrent, &["--piece-size", "65536"]);

    // A port nobody listens on (yet).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let seeder_addr = format!("127.0.0.1:{port}");
    let down_dir = tmp.path().join("down");
    let mut leecher = Downloader::new(&torrent, &down_dir)
        .peer(&seeder_addr)
        .env("CCBT_REDIAL_BASE_MS", "100")
        .env("CCBT_REDIAL_MAX_MS", "400")
        .spawn();
    let line = leecher.wait_json("a status saying no peer is reachable", Duration::from_secs(30), |v| {
        v["type"] == "status" && v["no_reachable_peer"] == true
    });
    assert_eq!(line["peers"], 0);
    // Dials are retried every two seconds at most (the torrent's redial tick):
    // stay down long enough for more failures than the old give-up.
    let down_until = Instant::now() + Duration::from_secs(2 * (OLD_GIVE_UP as u64 + 2));
    while Instant::now() < down_until {
        let v = leecher.wait_json("status", Duration::from_secs(10), |v| v["type"] == "status");
        assert_eq!(v["no_reachable_peer"], true, "nothing listens yet: {v}");
    }

    let mut seeder = spawn_seeder(&[&torrent], &seed_dir, &seeder_addr, &[]);
    leecher.wait_success("downloader", Duration::from_secs(90));
    assert_same_tree(&seed_dir, &down_dir);
    drop(seeder.child.kill());
}
