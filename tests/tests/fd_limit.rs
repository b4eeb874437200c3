//! ccbt under a tight open-file limit: many torrents, or torrents of many files,
//! seed from one process whose every torrent once kept its files open, and a
//! downloader still gets its data. Run under `prlimit --nofile=256:256`, so the
//! soft limit cannot be raised past 256.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ccbt_tests::{assert_same_file, bin, btbt_create, lines_of, write_random_file, Downloader, Proc};

const NOFILE: &str = "--nofile=256:256";

/// `ccbt --seed` of `torrents` from `data` under the 256-descriptor limit; returns
/// once every torrent seeds, with the listen address.
fn limited_seeder(torrents: &[PathBuf], data: &Path) -> (Proc, String) {
    let ccbt = bin("ccbt");
    let mut args: Vec<String> = vec![NOFILE.into(), ccbt.display().to_string()];
    args.extend(torrents.iter().map(|t| t.display().to_string()));
    args.extend(
        [
            "-o",
            data.to_str().unwrap(),
            "--seed",
            "--json",
            "--listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p = Proc::spawn_program("ccbt under prlimit", Path::new("prlimit"), &refs);
    let addr = p.listen_addr();
    for _ in torrents {
        p.wait_json("every torrent seeding", Duration::from_secs(120), |v| {
            v["type"] == "complete"
        });
    }
    (p, addr)
}

/// Downloads `torrent` from `peer` into `out` (no limit) and checks it completed.
fn download(torrent: &Path, out: &Path, peer: &str) {
    Downloader::new(torrent, out).peer(peer).run(Duration::from_secs(120));
}

/// The seeder still runs and has printed no error line.
fn assert_still_seeding_without_errors(seeder: &mut Proc) {
    assert!(
        seeder.child.try_wait().unwrap().is_none(),
        "the seeder still runs: {}",
        seeder.stderr()
    );
    seeder.drain(Duration::from_millis(500));
    assert_eq!(lines_of(seeder, "error").count(), 0, "{}", seeder.stderr());
}

#[test]
fn four_hundred_torrents_seed_under_256_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let torrents: Vec<PathBuf> = (0..400u64)
        .map(|i| {
            let content = seed.join(format!("f{i:03}.bin"));
            write_random_file(&content, 20_000 + i * 7, i);
            let torrent = tmp.path().join(format!("f{i:03}.torrent"));
            btbt_create(&content, &torrent, &["--piece-size", "16384"]);
            torrent
        })
        .collect();
    let (mut seeder, addr) = limited_seeder(&torrents, &seed);
    // The executors' file pools (40 files each under 256) bound what stays open.
    let open = std::fs::read_dir(format!("/proc/{}/fd", seeder.pid())).unwrap().count();
    assert!(open < 160, "{open} descriptors open after checking 400 torrents");
    let out = tmp.path().join("down");
    for i in [0usize, 217, 399] {
        download(&torrents[i], &out, &addr);
        let name = format!("f{i:03}.bin");
        assert_same_file(&seed.join(&name), &out.join(&name));
    }
    assert_still_seeding_without_errors(&mut seeder);
}

#[test]
fn torrents_of_300_files_seed_under_256_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let torrents: Vec<PathBuf> = (0..3u64)
        .map(|t| {
            let content = seed.join(format!("album{t}"));
            for i in 0..300u64 {
                write_random_file(&content.join(format!("d{}/f{i:03}", i % 5)), 3_000 + i, t * 1000 + i);
            }
            let torrent = tmp.path().join(format!("album{t}.torrent"));
            btbt_create(&content, &torrent, &["--piece-size", "32768"]);
            torrent
        })
        .collect();
    let (mut seeder, addr) = limited_seeder(&torrents, &seed);
    let out = tmp.path().join("down");
    download(&torrents[1], &out, &addr);
    ccbt_tests::assert_same_tree(&seed.join("album1"), &out.join("album1"));
    assert_still_seeding_without_errors(&mut seeder);
}
