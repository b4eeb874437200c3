//! One torrent's disk error stops that torrent only:
//!
//! - a seeder of two torrents whose first file is truncated under it reports that
//!   torrent failed (with the reason in its status) and keeps seeding the second to a
//!   downloader that completes byte-identical;
//! - a one-shot download of two torrents, one of which cannot be written, finishes
//!   the other, prints its summary and exits 1;
//! - a download onto a full file system stops with a disk-full error and keeps the
//!   pieces it verified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ccbt_tests::{assert_same_file, bin, btbt_create, lines_of, start_seeder, write_random_file, Downloader, Proc};

const PIECE: &str = "262144";

/// Content and torrent for `name` (one file of `len` bytes) under `tmp`.
fn make_torrent(tmp: &Path, name: &str, len: u64, seed: u64) -> (std::path::PathBuf, String) {
    let content = tmp.join("seed").join(name);
    write_random_file(&content, len, seed);
    let torrent = tmp.join(format!("{name}.torrent"));
    let hash = btbt_create(&content, &torrent, &["--piece-size", PIECE]);
    (torrent, hash)
}

fn downloader(torrent: &Path, out: &Path, peer: &str) -> Proc {
    Downloader::new(torrent, out).peer(peer).spawn()
}

#[test]
fn truncated_file_fails_its_torrent_and_the_other_keeps_seeding() {
    let tmp = tempfile::tempdir().unwrap();
    let (broken_torrent, broken_hash) = make_torrent(tmp.path(), "broken.bin", 4 << 20, 1);
    let (good_torrent, good_hash) = make_torrent(tmp.path(), "good.bin", 6 << 20, 2);
    let seed_dir = tmp.path().join("seed");
    let (mut seeder, addr) = start_seeder(&[&broken_torrent, &good_torrent], &seed_dir, &[]);

    // Cut the first torrent's file under the running seeder, then ask for it.
    std::fs::OpenOptions::new()
        .write(true)
        .open(seed_dir.join("broken.bin"))
        .unwrap()
        .set_len(1000)
        .unwrap();
    let mut broken_down = downloader(&broken_torrent, &tmp.path().join("down-broken"), &addr);
    let failed = seeder.wait_json("the broken torrent's failed status", Duration::from_secs(60), |v| {
        v["type"] == "status" && v["info_hash"] == broken_hash.as_str() && v["state"] == "failed"
    });
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains("broken.bin"), "the error names the file: {failed}");
    let _ = broken_down.child.kill();

    let good_down_dir = tmp.path().join("down-good");
    let mut good_down = downloader(&good_torrent, &good_down_dir, &addr);
    good_down.wait_success("the other torrent's download", Duration::from_secs(120));
    assert_same_file(&seed_dir.join("good.bin"), &good_down_dir.join("good.bin"));
    assert!(
        seeder.child.try_wait().unwrap().is_none(),
        "the seeder is still running: {}",
        seeder.stderr()
    );
    seeder.wait_json("the good torrent still seeding", Duration::from_secs(10), |v| {
        v["type"] == "status" && v["info_hash"] == good_hash.as_str() && v["state"] == "seeding"
    });
    let errors: Vec<_> = lines_of(&seeder, "error").collect();
    assert_eq!(errors.len(), 1, "one error line, for the broken torrent: {errors:?}");
    assert_eq!(errors[0]["info_hash"], broken_hash.as_str());
}

#[test]
fn one_shot_download_finishes_the_others_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let (blocked_torrent, blocked_hash) = make_torrent(tmp.path(), "blocked.bin", 2 << 20, 3);
    let (good_torrent, good_hash) = make_torrent(tmp.path(), "fine.bin", 3 << 20, 4);
    let seed_dir = tmp.path().join("seed");
    let (_seeder, addr) = start_seeder(&[&blocked_torrent, &good_torrent], &seed_dir, &[]);

    // A directory where the first torrent's file should go: it cannot be written.
    let out = tmp.path().join("down");
    std::fs::create_dir_all(out.join("blocked.bin")).unwrap();
    let mut p = Downloader::new(&blocked_torrent, &out)
        .and_torrent(&good_torrent)
        .peer(&addr)
        .spawn();
    let status = p.wait_exit(Duration::from_secs(120));
    assert_eq!(
        status.code(),
        Some(1),
        "a failed torrent makes the exit non-zero: {}",
        p.stderr()
    );
    // The other torrent completed.
    assert_same_file(&seed_dir.join("fine.bin"), &out.join("fine.bin"));
    let complete: Vec<_> = lines_of(&p, "complete").collect();
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0]["info_hash"], good_hash.as_str());
    let errors: Vec<_> = lines_of(&p, "error").collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["info_hash"], blocked_hash.as_str());
    assert!(errors[0]["error"].as_str().unwrap().contains("blocked.bin"));
    assert!(p.last_of("summary").is_some(), "the summary is printed");
    // A torrent that could not even start shows in the status, with why.
    let failed = lines_of(&p, "status")
        .filter(|v| v["info_hash"] == blocked_hash.as_str())
        .last()
        .expect("a status line for the torrent that failed to start");
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("blocked.bin"), "{failed}");
    assert!(p.stderr().contains("1 of 2 torrents failed"), "{}", p.stderr());
}

/// Runs `script` in a new user and mount namespace (so a small tmpfs can be mounted
/// without touching the host's mounts) and returns its stdout and stderr.
fn in_mount_namespace(script: &str, args: &[&str]) -> (String, String) {
    let out = Command::new("unshare")
        .args(["--map-root-user", "--mount", "sh", "-c", script, "sh"])
        .args(args)
        .output()
        .expect("run unshare");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn full_disk_stops_the_download_and_keeps_verified_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let (torrent, _) = make_torrent(tmp.path(), "big.bin", 12 << 20, 5);
    let (_seeder, addr) = start_seeder(&[&torrent], &tmp.path().join("seed"), &[]);
    let mnt = tmp.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    // 4 MiB of room for 12 MiB of data; then verify what is there, inside the namespace.
    let script = r#"mount -t tmpfs -o size=4m tmpfs "$1" || exit 90
"$2" "$3" -o "$1" --peer "$4" --listen 127.0.0.1:0 --json
echo "ccbt-exit=$?"
"$5" verify "$3" --data "$1"
echo "verify-exit=$?""#;
    let (stdout, stderr) = in_mount_namespace(
        script,
        &[
            mnt.to_str().unwrap(),
            bin("ccbt").to_str().unwrap(),
            torrent.to_str().unwrap(),
            &addr,
            bin("btbt").to_str().unwrap(),
        ],
    );
    assert!(stdout.contains("ccbt-exit=1"), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("disk full"),
        "the error says the disk is full: {stderr}"
    );
    let error_line = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "error")
        .expect("an error line");
    assert!(
        error_line["error"].as_str().unwrap().contains("big.bin"),
        "{error_line}"
    );
    // `btbt verify` prints "NAME: valid/total pieces valid".
    let valid: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("big.bin: ")?.split('/').next()?.parse().ok())
        .unwrap_or_else(|| panic!("a verify line in:\n{stdout}"));
    assert!(valid > 0 && valid < 48, "some verified pieces are kept: {valid}/48");
}
