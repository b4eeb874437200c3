//! A download killed with SIGKILL half-way and restarted keeps every verified piece
//! and fetches only what was missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::{btbt_create, lines_of, start_seeder, write_random_file, Proc};

const TOTAL: u64 = 24 * 1024 * 1024;
const PIECE: u64 = 256 * 1024;

#[test]
fn sigkill_halfway_then_resume_fetches_only_missing_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let content = seed_dir.join("big.bin");
    write_random_file(&content, TOTAL, 42);
    let torrent = tmp.path().join("big.torrent");
    btbt_create(&content, &torrent, &["--piece-size", &PIECE.to_string()]);
    let (_seeder, addr) = start_seeder(&[&torrent], &seed_dir, &[]);

    let down = tmp.path().join("down");
    let args = |limit: bool| {
        let mut a = vec![
            torrent.to_str().unwrap().to_string(),
            "-o".into(),
            down.to_str().unwrap().to_string(),
            "--peer".into(),
            addr.clone(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--json".into(),
        ];
        if limit {
            a.extend(["--download-limit".into(), "4M".into()]);
        }
        a
    };
    let first_args = args(true);
    let refs: Vec<&str> = first_args.iter().map(String::as_str).collect();
    let mut first = Proc::spawn("ccbt", &refs);
    let at_kill = first.wait_json("40% verified", Duration::from_secs(60), |v| {
        v["type"] == "status" && v["verified_bytes"].as_u64().unwrap_or(0) >= TOTAL * 2 / 5
    });
    first.signal(9);
    let status = first.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "killed process must not report success");
    let verified_before = at_kill["verified_bytes"].as_u64().unwrap();
    assert!(verified_before < TOTAL, "the kill must land before the end");

    let second_args = args(false);
    let refs: Vec<&str> = second_args.iter().map(String::as_str).collect();
    let mut second = Proc::spawn("ccbt", &refs);
    let status = second.wait_exit(Duration::from_secs(120));
    assert!(status.success(), "{}", second.stderr());
    let started = lines_of(&second, "started").next().expect("started line").clone();
    let valid_at_start = started["pieces_valid"].as_u64().unwrap() * PIECE;
    assert!(
        valid_at_start >= verified_before,
        "pieces verified before the kill were kept: {valid_at_start} < {verified_before}"
    );
    assert!(valid_at_start < TOTAL);
    let summary = second.last_of("summary").expect("summary");
    let fetched = summary["bytes"].as_u64().unwrap();
    assert!(
        fetched <= TOTAL - valid_at_start + 2 * PIECE,
        "fetched {fetched} payload bytes, but only {} were missing",
        TOTAL - valid_at_start
    );
    assert!(
        fetched >= TOTAL - valid_at_start,
        "fetched {fetched}, less than what was missing"
    );
    assert_eq!(
        std::fs::read(&content).unwrap(),
        std::fs::read(down.join("big.bin")).unwrap()
    );
}
