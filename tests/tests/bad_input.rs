//! Hostile or broken input gets a clear error naming the problem, and nothing is
//! written outside the download directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;

use ccbt_engine::bencode::{encode, Value};
use ccbt_tests::{bin, btbt_create, write_random_file};

fn torrent_with_paths(paths: &[&[&str]]) -> Vec<u8> {
    let files: Vec<Value> = paths
        .iter()
        .map(|p| {
            let mut f = BTreeMap::new();
            f.insert(b"length".to_vec(), Value::Int(5));
            f.insert(
                b"path".to_vec(),
                Value::List(p.iter().map(|c| Value::Bytes(c.as_bytes().to_vec())).collect()),
            );
            Value::Dict(f)
        })
        .collect();
    let total = 5 * paths.len();
    let pieces = total.div_ceil(16384);
    let mut info = BTreeMap::new();
    info.insert(b"files".to_vec(), Value::List(files));
    info.insert(b"name".to_vec(), Value::Bytes(b"evil".to_vec()));
    info.insert(b"piece length".to_vec(), Value::Int(16384));
    info.insert(b"pieces".to_vec(), Value::Bytes(vec![0; 20 * pieces]));
    let mut top = BTreeMap::new();
    top.insert(b"info".to_vec(), Value::Dict(info));
    encode(&Value::Dict(top))
}

fn run_ccbt(args: &[&str]) -> (i32, String) {
    let out = Command::new(bin("ccbt")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_refused(paths: &[&[&str]], must_mention: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = tmp.path().join("evil.torrent");
    std::fs::write(&torrent, torrent_with_paths(paths)).unwrap();
    let out_dir = tmp.path().join("a/b/out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let (code, stderr) = run_ccbt(&[
        torrent.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains(must_mention),
        "error should name {must_mention:?}: {stderr}"
    );
    assert!(stderr.contains("evil.torrent"), "error should name the file: {stderr}");
    assert_eq!(
        std::fs::read_dir(&out_dir).unwrap().count(),
        0,
        "nothing written in the output dir"
    );
    for dir in [tmp.path().join("a/b"), tmp.path().join("a"), tmp.path().to_path_buf()] {
        assert!(
            !dir.join("escape.txt").exists(),
            "nothing written outside the output dir"
        );
    }
}

#[test]
fn dot_dot_path_is_refused() {
    assert_refused(&[&["ok.txt"], &["..", "escape.txt"]], "../escape.txt");
}

#[test]
fn deep_dot_dot_path_is_refused() {
    assert_refused(&[&["sub", "..", "..", "..", "escape.txt"]], "escape.txt");
}

#[test]
fn absolute_path_is_refused() {
    assert_refused(&[&["/tmp", "escape.txt"]], "escape.txt");
}

#[test]
fn garbage_torrent_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = tmp.path().join("garbage.torrent");
    std::fs::write(&torrent, b"d4:infoi3e").unwrap();
    let (code, stderr) = run_ccbt(&[torrent.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("garbage.torrent"), "{stderr}");
}

#[test]
fn missing_field_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = tmp.path().join("nopieces.torrent");
    std::fs::write(&torrent, b"d4:infod6:lengthi5e4:name1:x12:piece lengthi16384eee").unwrap();
    let (code, stderr) = run_ccbt(&[torrent.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("pieces"), "{stderr}");
}

#[test]
fn a_magnet_without_an_info_hash_names_xt() {
    // A good magnet now downloads (tests/tests/magnet_download.rs); a bad one is bad input.
    let (code, stderr) = run_ccbt(&["magnet:?dn=nohash", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("xt"), "{stderr}");
}

#[test]
fn verify_reports_valid_and_corrupt_data() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("data");
    write_random_file(&content.join("x.bin"), 200_000, 1);
    write_random_file(&content.join("y.bin"), 100_000, 2);
    let torrent = tmp.path().join("d.torrent");
    btbt_create(&content, &torrent, &["--piece-size", "16384"]);
    let verify = || {
        Command::new(bin("btbt"))
            .args([
                "verify",
                torrent.to_str().unwrap(),
                "--data",
                tmp.path().to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let ok = verify();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("19/19 pieces valid"));
    let mut bytes = std::fs::read(content.join("y.bin")).unwrap();
    bytes[50_000] ^= 1;
    std::fs::write(content.join("y.bin"), bytes).unwrap();
    let bad = verify();
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(out.contains("18/19 pieces valid"), "{out}");
    assert!(out.contains("incomplete: data/y.bin"), "{out}");
    assert!(!out.contains("x.bin"), "{out}");
}
