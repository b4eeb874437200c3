//! A torrent removed while its data is still being checked is really gone: the
//! remove answers, the list and the shard no longer have it, its file is no longer
//! held open, and adding it again succeeds at once and checks it to the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use ccbt_tests::btbt_create;
use ccbt_tests::daemon_runs::{num, wait_until, DaemonOpts, DaemonUnderTest};
use rand::{RngCore, SeedableRng};

/// Real, non-zero data (no holes to skip), so the check reads and hashes it all.
const LEN: u64 = 384 << 20;

/// Writes `len` seeded pseudo-random bytes to `path`, 4 MiB at a time.
fn write_big_file(path: &Path, len: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(71);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut chunk = vec![0u8; 4 << 20];
    let mut left = len;
    while left > 0 {
        rng.fill_bytes(&mut chunk);
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

/// Whether process `pid` has `file` open.
fn holds_open(pid: u32, file: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| target == file)
}

#[test]
fn daemon_torrent_removed_while_checking_is_gone_and_can_be_added_again() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d");
    let data = opts.download_dir.join("big.bin");
    write_big_file(&data, LEN);
    let torrent = tmp.path().join("big.torrent");
    let hash = btbt_create(&data, &torrent, &["--piece-size", "1048576"]);
    let mut daemon = DaemonUnderTest::start(opts);

    let added = daemon.add_torrent(&torrent, &[]);
    let id = added["id"].to_string();
    let checking = daemon.torrent(&id);
    assert_eq!(
        checking["state"], "checking",
        "the check of {LEN} bytes is still running right after the add: {checking}"
    );
    let removed = daemon.delete(&format!("/api/v1/torrents/{id}"));
    assert!(
        (200..300).contains(&removed.status),
        "the remove answers: {}",
        removed.text
    );
    assert!(daemon.list().is_empty(), "the list no longer has it");
    daemon
        .get(&format!("/api/v1/torrents/{hash}"))
        .expect_error(404, "not_found");

    let pid = daemon.pid();
    wait_until(
        "the shard to drop the torrent and its file",
        Duration::from_secs(15),
        || {
            let stats = daemon.get("/api/v1/stats").ok();
            let on_shards: u64 = stats["shards"]
                .as_array()
                .map(|s| s.iter().map(|sh| num(sh, "torrents")).sum())
                .unwrap_or(u64::MAX);
            (stats["torrents"] == 0 && on_shards == 0 && !holds_open(pid, &data)).then_some(())
        },
    );
    assert!(data.is_file(), "a remove without --delete-data keeps the data");

    let again = daemon.add_torrent(&torrent, &[]);
    assert_eq!(again["info_hash"], hash.as_str());
    let id = again["id"].to_string();
    let done = daemon.wait_state(&id, "seeding", Duration::from_secs(120));
    assert_eq!(num(&done, "verified_bytes"), LEN, "{done}");
    assert_eq!(daemon.list().len(), 1);
    daemon.terminate();
}
