//! The DHT against libtorrent on loopback, with no tracker and no `--peer`: a small
//! DHT of libtorrent nodes (their loopback restrictions off, see
//! `tests/scripts/lt_dht.py`) and ccbt, where each finds the other's torrent only
//! through `get_peers`/`announce_peer`. Plus: a private torrent (BEP 27) never
//! reaches the DHT.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ccbt_tests::clients::free_port;
use ccbt_tests::{assert_same_file, btbt_create, spawn_seeder, write_random_file, Downloader, Proc};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(120);
const PAYLOAD: u64 = 3 << 20;

/// A libtorrent session with its DHT on at 127.0.0.1:`port`, bootstrapped from
/// `bootstrap`, optionally with a torrent (seeding what `save_path` holds).
fn lt_dht(port: u16, bootstrap: &[String], torrent: Option<(&Path, &Path)>) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_dht.py");
    let mut args = json!({
        "listen": format!("127.0.0.1:{port}"),
        "bootstrap": bootstrap,
    });
    if let Some((t, dir)) = torrent {
        std::fs::create_dir_all(dir).unwrap();
        args["torrent"] = json!(t);
        args["save_path"] = json!(dir);
    }
    let script = script.display().to_string();
    let args = args.to_string();
    let mut p = Proc::spawn_program("libtorrent-dht", Path::new("/usr/bin/python3"), &[&script, &args]);
    p.wait_json("listening", Duration::from_secs(30), |v| v["type"] == "listening");
    p
}

/// A payload and its trackerless torrent: `(seed dir, payload, torrent, info-hash)`.
fn payload(dir: &Path, name: &str, seed: u64, extra: &[&str]) -> (PathBuf, PathBuf, PathBuf, String) {
    let seed_dir = dir.join(format!("seed-{name}"));
    let file = seed_dir.join(format!("{name}.bin"));
    write_random_file(&file, PAYLOAD, seed);
    let torrent = dir.join(format!("{name}.torrent"));
    let hash = btbt_create(&file, &torrent, extra);
    let hash = hash
        .split_whitespace()
        .find(|w| w.len() == 40)
        .unwrap_or(&hash)
        .to_string();
    (seed_dir, file, torrent, hash)
}

fn wait_announce(node: &mut Proc, hash: &str, port: Option<u16>) -> serde_json::Value {
    node.wait_json("a DHT announce", Duration::from_secs(90), |v| {
        v["type"] == "dht_announce" && v["info_hash"] == hash && port.map_or(true, |p| v["port"] == p)
    })
}

#[test]
fn ccbt_finds_a_libtorrent_seeder_through_the_dht() {
    let dir = tempfile::tempdir().unwrap();
    let (seed_dir, file, torrent, hash) = payload(dir.path(), "lt-seeds", 1, &[]);
    let router_port = free_port();
    let router = format!("127.0.0.1:{router_port}");
    let mut node = lt_dht(router_port, &[], None);
    let seeder_port = free_port();
    let mut seeder = lt_dht(seeder_port, &[router.clone()], Some((&torrent, &seed_dir)));
    seeder.wait_json("seeding", Duration::from_secs(60), |v| v["type"] == "complete");
    wait_announce(&mut node, &hash, Some(seeder_port));
    let out = dir.path().join("out");
    let mut ccbt = Downloader::new(&torrent, &out)
        .args(&["--dht-bootstrap", &router])
        .run(TIMEOUT);
    assert_same_file(&file, &out.join("lt-seeds.bin"));
    // ccbt's own node asked the router: libtorrent saw its get_peers.
    node.wait_json("ccbt's get_peers", Duration::from_secs(10), |v| {
        v["type"] == "dht_get_peers" && v["info_hash"] == hash
    });
    ccbt.drain(Duration::from_secs(1));
}

#[test]
fn libtorrent_finds_a_ccbt_seeder_through_the_dht() {
    let dir = tempfile::tempdir().unwrap();
    let (seed_dir, file, torrent, hash) = payload(dir.path(), "ccbt-seeds", 2, &[]);
    let router_port = free_port();
    let router = format!("127.0.0.1:{router_port}");
    let mut node = lt_dht(router_port, &[], None);
    let mut ccbt = spawn_seeder(&[&torrent], &seed_dir, "127.0.0.1:0", &["--dht-bootstrap", &router]);
    let listen = ccbt.listen_addr();
    let ccbt_port: u16 = listen.rsplit(':').next().unwrap().parse().unwrap();
    ccbt.wait_json("seeding", Duration::from_secs(60), |v| v["type"] == "complete");
    // ccbt announced itself, under its peer port, to the only other node.
    wait_announce(&mut node, &hash, Some(ccbt_port));
    let out = dir.path().join("out");
    let mut leecher = lt_dht(free_port(), &[router], Some((&torrent, &out)));
    leecher.wait_json("libtorrent's download", TIMEOUT, |v| v["type"] == "complete");
    assert_same_file(&file, &out.join("ccbt-seeds.bin"));
}

#[test]
fn a_private_torrent_never_reaches_the_dht() {
    let dir = tempfile::tempdir().unwrap();
    let (public_dir, _, public, public_hash) = payload(dir.path(), "public", 3, &[]);
    let (private_dir, _, private, private_hash) = payload(dir.path(), "private", 4, &["--private"]);
    // Both payloads in one data folder, seeded by one ccbt.
    std::fs::rename(private_dir.join("private.bin"), public_dir.join("private.bin")).unwrap();
    let router_port = free_port();
    let router = format!("127.0.0.1:{router_port}");
    let mut node = lt_dht(router_port, &[], None);
    let mut ccbt = spawn_seeder(
        &[&public, &private],
        &public_dir,
        "127.0.0.1:0",
        &["--dht-bootstrap", &router],
    );
    ccbt.listen_addr();
    // The public torrent is looked up and announced: the DHT works...
    wait_announce(&mut node, &public_hash, None);
    // ...and for a while after (both were due together), nothing about the private one.
    let ticks = Cell::new(0);
    node.wait_json("a few more seconds", Duration::from_secs(30), |v| {
        if v["type"] == "status" {
            ticks.set(ticks.get() + 1);
        }
        ticks.get() >= 20
    });
    let leaked: Vec<_> = node
        .seen
        .iter()
        .filter(|v| v["info_hash"] == private_hash.as_str())
        .collect();
    assert!(leaked.is_empty(), "the private torrent reached the DHT: {leaked:?}");
    assert!(node
        .seen
        .iter()
        .any(|v| v["type"] == "dht_get_peers" && v["info_hash"] == public_hash));
}
