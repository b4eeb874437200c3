//! Bad command-line input is exit 2 with a message naming the source or the flag,
//! and never a hang: devices, FIFOs without a writer, oversized files, unparsable
//! peers, shard counts and rate limits out of bounds. A start-up interrupted by
//! SIGINT exits promptly with 130.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ccbt_engine::bencode::{encode, Value};
use ccbt_tests::{bin, btbt_create, write_random_file, Downloader, Proc};

/// Runs ccbt to its end (every case here ends on its own within seconds) and
/// returns the exit code, stderr and how long it took.
fn run_ccbt(args: &[&str]) -> (i32, String, Duration) {
    let start = Instant::now();
    let out = Command::new(bin("ccbt")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

fn assert_bad_input(args: &[&str], must_mention: &[&str]) {
    let (code, stderr, _) = run_ccbt(args);
    assert_eq!(code, 2, "bad input is exit 2: {stderr}");
    for m in must_mention {
        assert!(stderr.contains(m), "error should mention {m:?}: {stderr}");
    }
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
}

/// A complete single-file torrent and its data in `dir`; returns the torrent path.
fn small_seeded_torrent(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    write_random_file(&data.join("small.bin"), 100_000, 5);
    let torrent = dir.join("small.torrent");
    btbt_create(&data.join("small.bin"), &torrent, &["--piece-size", "16384"]);
    torrent
}

#[test]
fn a_character_device_is_refused_at_once() {
    let (code, stderr, took) = run_ccbt(&["/dev/zero", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/dev/zero: a character device"), "{stderr}");
    assert!(took < Duration::from_secs(5), "refused up front, not read: {took:?}");
}

#[test]
fn a_file_over_64_mib_is_refused_by_the_capped_read() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.torrent");
    // Sparse: 65 MiB long, a few blocks on disk.
    std::fs::File::create(&big).unwrap().set_len(65 << 20).unwrap();
    assert_bad_input(&[big.to_str().unwrap()], &["big.torrent", "larger than 64 MiB"]);
}

#[test]
fn a_fifo_without_a_writer_is_refused_not_waited_on_forever() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("nobody.torrent");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut p = Proc::spawn("ccbt", &[fifo.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let status = p.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(2), "{}", p.stderr());
    assert!(
        p.stderr().contains("nobody.torrent: a FIFO with nothing writing to it"),
        "{}",
        p.stderr()
    );
}

#[test]
fn a_torrent_from_a_pipe_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = small_seeded_torrent(tmp.path());
    // `<(cat …)` hands ccbt a pipe (/dev/fd/N) with its writer already running.
    let script = format!(
        "exec {} <(cat {}) -o {} --listen 127.0.0.1:0 --json",
        bin("ccbt").display(),
        torrent.display(),
        tmp.path().join("data").display()
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(r#""type":"complete""#), "{stdout}");
}

#[test]
fn a_peer_that_is_not_an_address_is_bad_input() {
    assert_bad_input(
        &["x.torrent", "--peer", "not-an-address", "--listen", "127.0.0.1:0"],
        &["--peer not-an-address", "HOST:PORT"],
    );
    assert_bad_input(
        &["x.torrent", "--peer", "127.0.0.1:0", "--listen", "127.0.0.1:0"],
        &["--peer 127.0.0.1:0", "port 0"],
    );
}

#[test]
fn a_peer_given_by_host_name_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = small_seeded_torrent(tmp.path());
    let (code, stderr, _) = run_ccbt(&[
        torrent.to_str().unwrap(),
        "-o",
        tmp.path().join("data").to_str().unwrap(),
        "--peer",
        "localhost:9",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 0, "complete data with a named peer exits 0: {stderr}");
}

#[test]
fn shard_counts_beyond_the_bound_are_refused() {
    for n in ["0", "257", "100000"] {
        let flag = format!("--shards {n}");
        assert_bad_input(
            &["x.torrent", "--shards", n, "--listen", "127.0.0.1:0"],
            &[&flag, "must be between 1 and"],
        );
    }
    assert_bad_input(&["demo", "--shards", "100000"], &["--shards 100000"]);
}

#[test]
fn demo_piece_size_is_checked_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().to_str().unwrap();
    for bad in ["1000", "0", "8G"] {
        assert_bad_input(
            &["demo", "--size", "1M", "--piece-size", bad, "--workdir", work],
            &["--piece-size", "power of two"],
        );
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "no payload written");
}

#[test]
fn rate_limits_below_one_block_a_second_are_refused() {
    assert_bad_input(
        &["x.torrent", "--download-limit", "100", "--listen", "127.0.0.1:0"],
        &["--download-limit 100", "16K"],
    );
    assert_bad_input(
        &["x.torrent", "--upload-limit", "1K", "--listen", "127.0.0.1:0"],
        &["--upload-limit 1024"],
    );
}

/// A single-file torrent of `len` bytes whose piece hashes match nothing, so
/// every piece is rechecked and none is ever complete.
fn unfinishable_torrent(len: u64, piece: u64) -> Vec<u8> {
    let pieces = len.div_ceil(piece) as usize;
    let mut info = BTreeMap::new();
    info.insert(b"length".to_vec(), Value::Int(len as i64));
    info.insert(b"name".to_vec(), Value::Bytes(b"zeros.bin".to_vec()));
    info.insert(b"piece length".to_vec(), Value::Int(piece as i64));
    info.insert(b"pieces".to_vec(), Value::Bytes(vec![0xab; 20 * pieces]));
    let mut top = BTreeMap::new();
    top.insert(b"info".to_vec(), Value::Dict(info));
    encode(&Value::Dict(top))
}

#[test]
fn sigint_during_start_up_exits_130_promptly_with_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = tmp.path().join("zeros.torrent");
    let len = 4u64 << 30;
    std::fs::write(&torrent, unfinishable_torrent(len, 4 << 20)).unwrap();
    // 4 GiB of existing (sparse) data to recheck: the signal lands in the
    // recheck, or, where holes are skipped, in a download with no peer.
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::File::create(data.join("zeros.bin"))
        .unwrap()
        .set_len(len)
        .unwrap();
    let shards = std::thread::available_parallelism().map_or(2, |n| n.get()) * 4;
    let shards = shards.min(256).to_string();
    let mut p = Downloader::new(&torrent, &data).args(&["--shards", &shards]).spawn();
    p.listen_addr();
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    p.signal(2);
    let status = p.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{}", p.stderr());
    assert!(signalled.elapsed() < Duration::from_secs(20), "exit within the bound");
    let summary = p.last_of("summary").expect("a summary line on SIGINT");
    assert_eq!(summary["bytes"], 0, "{summary}");
    assert!(p.stderr().contains("interrupted"), "{}", p.stderr());
}
