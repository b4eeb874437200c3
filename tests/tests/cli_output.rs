//! What ccbt prints when a torrent fails or the run is interrupted: one plain
//! error line (no colour codes when stderr is not a terminal), and in `--json`
//! mode a `summary` line however the run ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::{btbt_create, lines_of, write_random_file, Downloader, Proc};

/// A torrent whose file cannot be opened in `out`: a directory stands where its
/// file should be, so the torrent fails on its own disk error.
fn failing_download(tmp: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let content = tmp.join("src").join("payload.bin");
    write_random_file(&content, 200_000, 9);
    let torrent = tmp.join("payload.torrent");
    btbt_create(&content, &torrent, &["--piece-size", "16384"]);
    let out = tmp.join("out");
    std::fs::create_dir_all(out.join("payload.bin")).unwrap();
    (torrent, out)
}

#[test]
fn a_torrent_error_is_printed_once_without_colour_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let (torrent, out) = failing_download(tmp.path());
    for json in [false, true] {
        let mut args = vec![
            torrent.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ];
        if json {
            args.push("--json");
        }
        let mut p = Proc::spawn("ccbt", &args);
        let status = p.wait_exit(Duration::from_secs(30));
        let stderr = p.stderr();
        assert_eq!(status.code(), Some(1), "a disk error is a runtime failure: {stderr}");
        assert!(
            !stderr.contains('\x1b'),
            "no escape codes in a piped stderr: {stderr:?}"
        );
        let mentions = stderr.matches("is not a regular file").count();
        assert_eq!(mentions, 1, "the error is printed once (json: {json}): {stderr}");
        assert!(stderr.contains("payload.bin"), "the error names the file: {stderr}");
        if json {
            assert_eq!(lines_of(&p, "error").count(), 1, "one error line on stdout");
            assert!(p.last_of("summary").is_some(), "a summary after a failure");
        }
    }
}

#[test]
fn json_summary_is_printed_when_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("src").join("wanted.bin");
    write_random_file(&content, 300_000, 3);
    let torrent = tmp.path().join("wanted.torrent");
    btbt_create(&content, &torrent, &["--piece-size", "16384"]);
    // No peer: the download waits until interrupted.
    let out = tmp.path().join("out");
    let mut p = Downloader::new(&torrent, &out).spawn();
    p.wait_json("started", Duration::from_secs(20), |v| v["type"] == "started");
    p.signal(15);
    let status = p.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{}", p.stderr());
    let summary = p.last_of("summary").expect("a summary line after SIGTERM");
    assert_eq!(summary["bytes"], 0);
    assert_eq!(summary["verified_bytes"], 0);
    assert!(summary["seconds"].as_f64().unwrap() > 0.0, "{summary}");
}
