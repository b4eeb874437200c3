//! `btbt create` makes torrents that libtorrent loads, with the same info-hash as
//! mktorrent for the same input and piece size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ccbt_tests::{btbt_create, write_random_file};

fn libtorrent_info_hash(torrent: &std::path::Path) -> String {
    let script = "import sys, libtorrent as lt\nti = lt.torrent_info(sys.argv[1])\nprint(str(ti.info_hash()))";
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script, torrent.to_str().unwrap()])
        .output()
        .expect("python3-libtorrent is installed by scripts/install-test-deps.sh");
    assert!(
        out.status.success(),
        "libtorrent could not load {}: {}",
        torrent.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn mktorrent(path: &std::path::Path, out: &std::path::Path, piece_exp: u32) {
    let status = Command::new("mktorrent")
        .args(["-l", &piece_exp.to_string(), "-a", "http://127.0.0.1:1/announce", "-o"])
        .arg(out)
        .arg(path)
        .output()
        .expect("mktorrent is installed by scripts/install-test-deps.sh");
    assert!(
        status.status.success(),
        "mktorrent failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn multi_file_matches_mktorrent_and_loads_in_libtorrent() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("tree");
    write_random_file(&content.join("b.bin"), 100_000, 1);
    write_random_file(&content.join("a.bin"), 70_001, 2);
    write_random_file(&content.join("a/nested.bin"), 33_333, 3);
    write_random_file(&content.join("z/y/x.bin"), 12_345, 4);
    let ours = tmp.path().join("ours.torrent");
    let theirs = tmp.path().join("theirs.torrent");
    let hash = btbt_create(
        &content,
        &ours,
        &["--piece-size", "32768", "--tracker", "http://127.0.0.1:1/announce"],
    );
    mktorrent(&content, &theirs, 15);
    assert_eq!(libtorrent_info_hash(&ours), hash);
    assert_eq!(libtorrent_info_hash(&theirs), hash, "same info-hash as mktorrent");
}

#[test]
fn single_file_matches_mktorrent_and_loads_in_libtorrent() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("single.iso");
    write_random_file(&content, 1_000_001, 5);
    let ours = tmp.path().join("ours.torrent");
    let theirs = tmp.path().join("theirs.torrent");
    let hash = btbt_create(&content, &ours, &["--piece-size", "262144"]);
    mktorrent(&content, &theirs, 18);
    assert_eq!(libtorrent_info_hash(&ours), hash);
    assert_eq!(libtorrent_info_hash(&theirs), hash);
}
