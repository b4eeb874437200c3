//! A damaged resume record costs only its own torrent a recheck: three seeding
//! torrents, the daemon stopped, one record flipped and one cut short; after the
//! restart those two are hashed again (and say why), the third is trusted as it was,
//! and all three seed again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::daemon_runs::{num, payload_torrent, DaemonOpts, DaemonUnderTest};

#[test]
fn daemon_damaged_resume_records_recheck_only_their_own_torrents() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d");
    let state_dir = opts.state_dir.clone();
    let mut torrents = Vec::new();
    for (i, name) in ["kept.bin", "flipped.bin", "cut.bin"].iter().enumerate() {
        torrents.push(payload_torrent(
            &opts.download_dir,
            name,
            2 << 20,
            40 + i as u64,
            65536,
            &[],
        ));
    }
    let mut daemon = DaemonUnderTest::start(opts);
    let mut ids = Vec::new();
    for (torrent, _) in &torrents {
        let id = daemon.add_torrent(torrent, &[])["id"].to_string();
        daemon.wait_state(&id, "seeding", Duration::from_secs(60));
        ids.push(id);
    }
    let status = daemon.terminate();
    assert!(status.success(), "SIGTERM ends the daemon with 0: {status:?}");

    let record = |hash: &str| state_dir.join("resume").join(format!("{hash}.resume"));
    for (_, hash) in &torrents {
        assert!(record(hash).exists(), "a record was written for {hash}");
    }
    let flipped = record(&torrents[1].1);
    let mut bytes = std::fs::read(&flipped).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&flipped, bytes).unwrap();
    let cut = record(&torrents[2].1);
    let len = std::fs::metadata(&cut).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    daemon.restart();
    let pieces = (2u64 << 20) / 65536;
    for (i, id) in ids.iter().enumerate() {
        daemon.wait_state(id, "seeding", Duration::from_secs(60));
        let detail = daemon.torrent(id);
        let check = &detail["last_check"];
        if i == 0 {
            assert_eq!(num(check, "hashed_pieces"), 0, "the intact record is trusted: {detail}");
            assert_eq!(num(check, "trusted_pieces"), pieces, "{detail}");
        } else {
            assert_eq!(
                num(check, "trusted_pieces"),
                0,
                "a damaged record is not trusted: {detail}"
            );
            assert_eq!(
                num(check, "hashed_pieces"),
                pieces,
                "its torrent is hashed again: {detail}"
            );
            let problem = check["record_problem"].as_str().unwrap_or_default();
            assert!(!problem.is_empty(), "the torrent says why it was rechecked: {detail}");
        }
        assert_eq!(num(&detail, "verified_bytes"), 2 << 20, "{detail}");
    }
}
