//! ccbt seeds (the one-shot `ccbt --seed`, announcing to opentracker on loopback)
//! and libtorrent, rqbit and aria2 each download from a magnet link with only the
//! info-hash and the tracker: the info dictionary comes from ccbt over `ut_metadata`
//! (BEP 9), then the data, checked byte for byte. Both torrent shapes: one large
//! file whose info dictionary spans several 16 KiB metadata pieces, and many small
//! files in nested folders.
//!
//! Magnets on loopback, per client: libtorrent adds `parse_magnet_uri` and dials
//! the tracker's peers; `rqbit download MAGNET` the same; aria2 takes the magnet on
//! its command line (`--bt-metadata-only=false`, `--follow-torrent=mem`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ccbt_tests::clients::{free_port, Daemon, Swarm};
use ccbt_tests::{start_seeder, Proc};

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One 40 MiB file in 32 KiB pieces: a 26 KB info dictionary, two metadata pieces.
    LargeFile,
    /// 40 files in nested folders, 32 KiB pieces.
    ManySmallFiles,
}

fn swarm(shape: Shape) -> Swarm {
    match shape {
        Shape::LargeFile => Swarm::single(40 * 1024 * 1024, 15),
        Shape::ManySmallFiles => {
            let names: Vec<(String, u64)> = (0..40u64)
                .map(|i| {
                    let dir = ["a", "a/b", "c/d/e", "f"][i as usize % 4];
                    (format!("{dir}/file{i:02}.bin"), 1_000 + i * 17_333)
                })
                .collect();
            let files: Vec<(&str, u64)> = names.iter().map(|(n, l)| (n.as_str(), *l)).collect();
            Swarm::multi(&files, 15)
        }
    }
}

fn magnet(swarm: &Swarm) -> String {
    let tracker: String = swarm
        .tracker
        .announce_url()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("magnet:?xt=urn:btih:{}&tr={tracker}", swarm.info_hash)
}

/// ccbt seeding the swarm's torrent; waits until the tracker lists it.
fn ccbt_seeds(swarm: &Swarm) -> Proc {
    let (seeder, _) = start_seeder(&[&swarm.torrent], &swarm.seed_dir, &[]);
    swarm.wait_seeders(1, Duration::from_secs(30));
    seeder
}

/// After a magnet download: the copy is byte-identical and ccbt served metadata pieces.
fn check(swarm: &Swarm, out: &Path, seeder: &mut Proc, who: &str) {
    swarm.assert_copy(out, TIMEOUT);
    let status = seeder.wait_json("metadata served", Duration::from_secs(10), |v| {
        v["type"] == "status" && v["extensions"]["metadata_pieces_served"].as_u64().unwrap_or(0) >= 1
    });
    assert!(seeder.is_running(), "{who}: the seeder still runs");
    assert_eq!(status["violations"]["bad_extension_message"], 0, "{who}: {status}");
}

fn libtorrent_downloads(shape: Shape) {
    let swarm = swarm(shape);
    let mut seeder = ccbt_seeds(&swarm);
    let out = swarm.out_dir("libtorrent");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_extension_peer.py");
    let args = serde_json::json!({
        "magnet": magnet(&swarm),
        "save_path": out,
        "listen": "127.0.0.1:0",
    });
    let mut lt = Proc::spawn_program(
        "libtorrent",
        Path::new("/usr/bin/python3"),
        &[script.to_str().unwrap(), &args.to_string()],
    );
    lt.wait_json("libtorrent has the metadata", TIMEOUT, |v| v["type"] == "metadata");
    lt.wait_json("libtorrent completes", TIMEOUT, |v| v["type"] == "complete");
    check(&swarm, &out, &mut seeder, "libtorrent");
}

fn rqbit_downloads(shape: Shape) {
    let swarm = swarm(shape);
    let mut seeder = ccbt_seeds(&swarm);
    let out = swarm.out_dir("rqbit");
    let work = tempfile::tempdir_in(swarm.dir.path()).unwrap();
    let port = free_port();
    let mut cmd = Command::new("rqbit");
    cmd.args([
        "--listen-ip",
        "127.0.0.1",
        "--listen-port",
        &port.to_string(),
        "--announce-port",
        &port.to_string(),
        "--ipv4-only",
        "--disable-upnp-port-forward",
        "--disable-lsd",
        "--disable-dht",
        "--disable-dht-persistence",
        "download",
        "--disable-http-api",
        "-e",
        "-o",
    ])
    .arg(&out)
    .arg(magnet(&swarm))
    .current_dir(work.path())
    .env("HOME", work.path())
    .env("XDG_CONFIG_HOME", work.path().join("config"))
    .env("XDG_DATA_HOME", work.path().join("data"))
    .env("XDG_CACHE_HOME", work.path().join("cache"))
    .env("RUST_LOG", "info")
    .env("NO_COLOR", "1");
    let rqbit = Daemon::spawn("rqbit", &mut cmd, false);
    // `-e`: rqbit exits once the download is complete.
    let done = ccbt_tests::clients::poll(TIMEOUT, Duration::from_millis(200), || {
        (!rqbit.is_running()).then_some(())
    });
    assert!(done.is_some(), "rqbit did not finish; logs:\n{}", rqbit.logs());
    check(&swarm, &out, &mut seeder, "rqbit");
}

fn aria2_downloads(shape: Shape) {
    let swarm = swarm(shape);
    let mut seeder = ccbt_seeds(&swarm);
    let out = swarm.out_dir("aria2");
    let port = free_port();
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--no-conf=true",
        &format!("--listen-port={port}"),
        "--interface=127.0.0.1",
        "--disable-ipv6=true",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--bt-min-crypto-level=plain",
        "--bt-require-crypto=false",
        "--bt-metadata-only=false",
        "--bt-save-metadata=false",
        "--follow-torrent=mem",
        "--seed-time=0",
        "--file-allocation=falloc",
        "--summary-interval=0",
        "--enable-color=false",
        "--console-log-level=notice",
        &format!("--stop-with-process={}", std::process::id()),
    ])
    .arg(format!("--dir={}", out.display()))
    .arg(magnet(&swarm));
    let aria2 = Daemon::spawn("aria2", &mut cmd, false);
    let done = ccbt_tests::clients::poll(TIMEOUT, Duration::from_millis(200), || {
        (!aria2.is_running()).then_some(())
    });
    assert!(
        done.is_some(),
        "aria2 did not finish; logs:\n{}\n--- the ccbt seeder's stderr:\n{}",
        aria2.logs(),
        seeder.stderr()
    );
    check(&swarm, &out, &mut seeder, "aria2");
}

mod libtorrent {
    use super::*;
    #[test]
    fn large_file() {
        libtorrent_downloads(Shape::LargeFile)
    }
    #[test]
    fn many_small_files() {
        libtorrent_downloads(Shape::ManySmallFiles)
    }
}

mod rqbit {
    use super::*;
    #[test]
    fn large_file() {
        rqbit_downloads(Shape::LargeFile)
    }
    #[test]
    fn many_small_files() {
        rqbit_downloads(Shape::ManySmallFiles)
    }
}

mod aria2 {
    use super::*;
    #[test]
    fn large_file() {
        aria2_downloads(Shape::LargeFile)
    }
    #[test]
    fn many_small_files() {
        aria2_downloads(Shape::ManySmallFiles)
    }
}
