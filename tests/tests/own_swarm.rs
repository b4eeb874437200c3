//! ccbt seeding to ccbt over loopback: a multi-file torrent with a short last piece,
//! files crossing piece boundaries and an empty file arrives byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::{assert_same_tree, btbt_create, lines_of, start_seeder, write_random_file, Downloader};

#[test]
fn multi_file_torrent_arrives_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let content = seed_dir.join("album");
    write_random_file(&content.join("a.bin"), 1_000_000, 1);
    write_random_file(&content.join("dir/b.bin"), 3_333_333, 2);
    write_random_file(&content.join("dir/empty.txt"), 0, 3);
    write_random_file(&content.join("dir/sub/c.bin"), 777_777, 4);
    let torrent = tmp.path().join("album.torrent");
    let info_hash = btbt_create(&content, &torrent, &["--piece-size", "65536"]);

    let (mut seeder, addr) = start_seeder(&[&torrent], &seed_dir, &[]);
    let down_dir = tmp.path().join("down");
    let leecher = Downloader::new(&torrent, &down_dir)
        .peer(&addr)
        .run(Duration::from_secs(120));
    assert_same_tree(&content, &down_dir.join("album"));
    assert!(
        down_dir.join("album/dir/empty.txt").is_file(),
        "the empty file is created too"
    );

    let complete: Vec<_> = lines_of(&leecher, "complete").collect();
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0]["info_hash"], info_hash.as_str());
    assert_eq!(
        complete[0]["verified_bytes"],
        1_000_000 + 3_333_333 + 777_777,
        "the complete line counts every byte, not the last status line's"
    );
    let summary = leecher.last_of("summary").expect("summary line");
    assert_eq!(summary["verified_bytes"], 1_000_000 + 3_333_333 + 777_777);
    // Every piece was requested, hashed and written, so each histogram has samples (>= 1 us each).
    let status = leecher.last_of("status").expect("a status line");
    let latency = &status["latency"];
    for key in [
        "block_p50_us",
        "block_p99_us",
        "hash_p50_us",
        "hash_p99_us",
        "write_p50_us",
        "write_p99_us",
    ] {
        assert!(
            latency[key].as_u64().is_some_and(|v| v > 0),
            "{key} missing or zero: {status}"
        );
    }
    assert!(
        latency["block_p99_us"].as_u64() >= latency["block_p50_us"].as_u64(),
        "{status}"
    );
    drop(seeder.child.kill());
}

#[test]
fn restarted_seeder_rechecks_and_downloader_skips_nothing() {
    // Data already complete in the output directory: ccbt verifies it and exits 0 at once.
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("one.bin");
    write_random_file(&content, 300_000, 9);
    let torrent = tmp.path().join("one.torrent");
    btbt_create(&content, &torrent, &["--piece-size", "16384"]);
    let p = Downloader::new(&torrent, tmp.path()).run(Duration::from_secs(60));
    let started = lines_of(&p, "started").next().expect("started line");
    assert_eq!(started["pieces_valid"], started["num_pieces"]);
    assert_eq!(p.last_of("summary").unwrap()["bytes"], 0, "nothing downloaded");
}
