//! Fast resume across restarts of the daemon: a torrent whose files kept their
//! size and mtime is trusted without hashing; a file that changed is rechecked
//! alone (and a damaged piece in it found); a corrupt resume record costs only its
//! own torrent a full recheck, reported, while the other is trusted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

use ccbt_tests::daemon_runs::{num, payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::{btbt_create, write_random_file};

const PIECE: u64 = 65536;
/// Each file is a whole number of pieces, so a file's pieces are its own.
const FILE_LEN: u64 = 16 * PIECE;

#[test]
fn daemon_restart_rechecks_only_the_file_that_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d");
    let pair = opts.download_dir.join("pair");
    write_random_file(&pair.join("a.bin"), FILE_LEN, 101);
    write_random_file(&pair.join("b.bin"), FILE_LEN, 102);
    let torrent = tmp.path().join("pair.torrent");
    btbt_create(&pair, &torrent, &["--piece-size", &PIECE.to_string()]);
    let mut daemon = DaemonUnderTest::start(opts);
    let id = daemon.add_torrent(&torrent, &[])["id"].to_string();
    daemon.wait_state(&id, "seeding", Duration::from_secs(30));
    daemon.terminate();

    // One byte of b.bin changed (so its mtime too) while the daemon was down.
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(pair.join("b.bin"))
            .unwrap();
        f.seek(SeekFrom::Start(5 * PIECE + 7)).unwrap();
        f.write_all(b"\x00\xff").unwrap();
    }
    daemon.restart();
    let back = daemon.wait_torrent(&id, "its start checked", Duration::from_secs(30), |t| {
        t["last_check"].is_object() && t["state"] != "checking"
    });
    let check = &back["last_check"];
    assert_eq!(check["changed_files"], 1, "only b.bin changed: {back}");
    assert_eq!(check["trusted_pieces"], 16, "a.bin's pieces are trusted: {back}");
    assert_eq!(
        check["hashed_pieces"], 16,
        "b.bin's pieces, and only those, are hashed: {back}"
    );
    assert_eq!(
        num(&back, "verified_bytes"),
        2 * FILE_LEN - PIECE,
        "the damaged piece is no longer verified: {back}"
    );
    assert_eq!(back["state"], "downloading", "{back}");
    daemon.terminate();
}

#[test]
fn daemon_corrupt_resume_record_costs_only_its_torrent_a_recheck() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d");
    let (kept, _) = payload_torrent(&opts.download_dir, "kept.bin", FILE_LEN, 111, PIECE, &[]);
    let (broken, broken_hash) = payload_torrent(&opts.download_dir, "broken.bin", FILE_LEN, 112, PIECE, &[]);
    let mut daemon = DaemonUnderTest::start(opts);
    let kept_id = daemon.add_torrent(&kept, &[])["id"].to_string();
    let broken_id = daemon.add_torrent(&broken, &[])["id"].to_string();
    daemon.wait_state(&kept_id, "seeding", Duration::from_secs(30));
    daemon.wait_state(&broken_id, "seeding", Duration::from_secs(30));
    daemon.terminate();

    let record = daemon
        .opts
        .state_dir
        .join("resume")
        .join(format!("{broken_hash}.resume"));
    assert!(
        record.is_file(),
        "a resume record is written at shutdown: {}",
        record.display()
    );
    let len = std::fs::metadata(&record).unwrap().len() as usize;
    std::fs::write(&record, vec![0xa5u8; len.max(64)]).unwrap();

    daemon.restart();
    let kept_back = daemon.wait_state(&kept_id, "seeding", Duration::from_secs(30));
    assert_eq!(kept_back["last_check"]["hashed_pieces"], 0, "{kept_back}");
    assert_eq!(kept_back["last_check"]["trusted_pieces"], 16, "{kept_back}");
    let broken_back = daemon.wait_state(&broken_id, "seeding", Duration::from_secs(30));
    let check = &broken_back["last_check"];
    assert!(
        check["record_problem"].as_str().is_some_and(|p| !p.is_empty()),
        "the corrupt record is reported: {broken_back}\nstderr:\n{}",
        daemon.process.stderr()
    );
    assert_eq!(
        check["hashed_pieces"], 16,
        "the torrent is rechecked whole: {broken_back}"
    );
    assert_eq!(num(&broken_back, "verified_bytes"), FILE_LEN, "{broken_back}");
    let log = daemon.process.stderr();
    assert!(
        log.contains(&broken_hash),
        "the problem is logged with the torrent:\n{log}"
    );
    daemon.terminate();
}
