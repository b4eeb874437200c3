//! Magnets in the daemon: `btbt magnet` fetches the metadata from a libtorrent
//! seeder found through opentracker and downloads byte-identical; the fetched
//! `.torrent` is kept so a restart does not fetch again; a magnet nobody serves
//! survives `kill -9` in state `metadata`; pause, resume and remove in that state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use ccbt_tests::clients::{Libtorrent, Swarm};
use ccbt_tests::daemon_runs::{num, DaemonOpts, DaemonUnderTest};
use serde_json::{json, Value};

const SEEDER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const LEECHER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
/// A hash no one on this machine serves.
const NOBODY_HASH: &str = "0123456789abcdef0123456789abcdef01234567";

fn saved(state_dir: &Path, hash: &str, ext: &str) -> bool {
    state_dir.join("torrents").join(format!("{hash}.{ext}")).is_file()
}

/// The torrent with `info_hash` in `btbt list --json`.
fn listed(daemon: &DaemonUnderTest, info_hash: &str) -> Value {
    let list = daemon.btbt(&["list", "--json"]).json();
    list.as_array()
        .expect("list --json prints an array")
        .iter()
        .find(|t| t["info_hash"] == info_hash)
        .cloned()
        .unwrap_or_else(|| panic!("{info_hash} not in list --json: {list}"))
}

/// libtorrent seeds `swarm` and has announced to its tracker; the daemon gets only
/// a magnet naming the tracker, fetches the metadata from libtorrent, downloads
/// and seeds. After a restart the saved `.torrent` is used: no metadata phase.
fn magnet_through_the_tracker(swarm: &Swarm) {
    let _lt = Libtorrent::start_seeder(&swarm.torrent, &swarm.seed_dir, &swarm.opts().with_listen_ip(SEEDER_IP));
    swarm.wait_seeders(1, Duration::from_secs(30));
    let opts = DaemonOpts::new(swarm.dir.path(), "d").listen_ip(LEECHER_IP);
    let state_dir = opts.state_dir.clone();
    let mut daemon = DaemonUnderTest::start(opts);
    let mut events = daemon.events();
    let out = swarm.out_dir("ccbt");
    let link = format!(
        "magnet:?xt=urn:btih:{}&dn=from-the-link&tr={}",
        swarm.info_hash,
        swarm.tracker.announce_url()
    );
    let added = daemon
        .btbt(&["magnet", &link, "-o", out.to_str().unwrap(), "--label", "tv", "--json"])
        .json();
    assert_eq!(added[0]["info_hash"], swarm.info_hash.as_str(), "{added}");
    assert_eq!(
        added[0]["name"], "from-the-link",
        "the link's dn until the metadata: {added}"
    );
    let id = added[0]["id"].to_string();

    let received = events.wait("metadata_received", Duration::from_secs(60), |e| {
        e["kind"] == "metadata_received"
    });
    assert_eq!(received["name"], swarm.name.as_str(), "{received}");
    assert_eq!(received["info_hash"], swarm.info_hash.as_str());
    let done = daemon.wait_state(&id, "seeding", Duration::from_secs(120));
    assert_eq!(done["name"], swarm.name.as_str());
    assert_eq!(done["labels"], json!(["tv"]));
    assert!(done["metadata"].is_null(), "{done}");
    assert_eq!(num(&done, "verified_bytes"), num(&done, "total_bytes"));
    swarm.assert_copy(&out, Duration::from_secs(10));
    let files = daemon.get(&format!("/api/v1/torrents/{id}/files")).ok();
    assert!(!files.as_array().unwrap().is_empty(), "{files}");

    // The fetched metadata is kept as a .torrent (with the link's tracker); the
    // link is no longer needed.
    assert!(saved(&state_dir, &swarm.info_hash, "torrent"));
    assert!(!saved(&state_dir, &swarm.info_hash, "magnet"));
    let kept = ccbt_engine::metainfo::Metainfo::from_bytes(
        &std::fs::read(state_dir.join("torrents").join(format!("{}.torrent", swarm.info_hash))).unwrap(),
    )
    .unwrap();
    assert_eq!(kept.info_hash.to_hex(), swarm.info_hash);
    assert_eq!(kept.announce.as_deref(), Some(swarm.tracker.announce_url().as_str()));

    // A restart starts from the saved .torrent: checked and seeding, never back in
    // the metadata state.
    daemon.terminate();
    daemon.restart();
    let again = daemon.wait_torrent(&id, "seeding after the restart", Duration::from_secs(60), |t| {
        assert_ne!(t["state"], "metadata", "a restart fetched the metadata again: {t}");
        t["state"] == "seeding"
    });
    assert_eq!(again["name"], swarm.name.as_str());
    assert_eq!(listed(&daemon, &swarm.info_hash)["state"], "seeding");
    daemon.terminate();
}

#[test]
fn btbt_magnet_fetches_the_metadata_from_libtorrent_and_downloads_one_file() {
    magnet_through_the_tracker(&Swarm::single(3_000_000, 16));
}

#[test]
fn btbt_magnet_fetches_the_metadata_from_libtorrent_and_downloads_many_files() {
    let files: Vec<(String, u64)> = (0..24)
        .map(|i| (format!("d{}/f{i}.bin", i % 3), 1_000 + i * 7_919))
        .collect();
    let refs: Vec<(&str, u64)> = files.iter().map(|(p, l)| (p.as_str(), *l)).collect();
    magnet_through_the_tracker(&Swarm::multi(&refs, 15));
}

/// A magnet no peer serves stays in `metadata`; `kill -9` and a restart bring it
/// back in that state from its saved link; pause and resume move it out and in;
/// remove deletes the saved link.
#[test]
fn a_magnet_without_peers_survives_kill9_in_the_metadata_state() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d");
    let state_dir = opts.state_dir.clone();
    let mut daemon = DaemonUnderTest::start(opts);
    let link = format!("magnet:?xt=urn:btih:{NOBODY_HASH}&dn=nobody&x.pe=127.0.0.1:9");
    let added = daemon
        .post("/api/v1/torrents", &json!({"magnet": link, "labels": ["x"]}))
        .ok();
    let id = added["id"].to_string();
    assert_eq!(added["name"], "nobody");
    let t = daemon.wait_state(&id, "metadata", Duration::from_secs(20));
    assert_eq!(num(&t, "total_bytes"), 0);
    assert_eq!(t["progress"], 0.0);
    assert!(t["metadata"].is_object(), "{t}");
    assert!(saved(&state_dir, NOBODY_HASH, "magnet"));
    assert!(!saved(&state_dir, NOBODY_HASH, "torrent"));
    let show = daemon.btbt(&["show", &id]).ok().to_string();
    assert!(show.contains("  metadata     asked "), "{show}");
    let list = daemon.btbt(&["list"]).ok().to_string();
    assert!(list.contains("metadata ("), "{list}");

    // The same magnet again, or as another spelling of its hash, is a duplicate.
    let dup = daemon
        .post(
            "/api/v1/torrents",
            &json!({"magnet": format!("magnet:?xt=urn:btih:{}", NOBODY_HASH.to_uppercase())}),
        )
        .expect_error(409, "duplicate");
    assert!(dup.contains(NOBODY_HASH), "{dup}");
    // Files are unknown until the metadata arrives.
    daemon
        .request(
            "PATCH",
            &format!("/api/v1/torrents/{id}/files"),
            Some("application/json"),
            br#"{"files":[0],"priority":"skip"}"#,
        )
        .expect_error(409, "conflict");
    // A v2-only link is refused by name.
    let v2 = daemon
        .post(
            "/api/v1/torrents",
            &json!({"magnet": "magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e"}),
        )
        .expect_error(400, "unsupported");
    assert!(v2.contains("btmh"), "{v2}");

    // An add is answered only once the session file holding it is on disk, so
    // a kill -9 straight after the answer keeps the magnet.
    assert!(state_dir.join("session.rkyv").is_file());
    daemon.kill9();
    daemon.restart();
    let back = daemon.wait_state(&id, "metadata", Duration::from_secs(20));
    assert_eq!(back["name"], "nobody");
    assert_eq!(back["labels"], json!(["x"]));
    assert_eq!(back["info_hash"], NOBODY_HASH);

    daemon.btbt(&["torrent", "pause", &id]).ok();
    daemon.wait_state(&id, "paused", Duration::from_secs(20));
    daemon.terminate();
    daemon.restart();
    daemon.wait_state(&id, "paused", Duration::from_secs(20));
    daemon.btbt(&["torrent", "resume", &id]).ok();
    daemon.wait_state(&id, "metadata", Duration::from_secs(20));

    daemon.btbt(&["torrent", "remove", &id]).ok();
    assert!(daemon.list().is_empty());
    daemon.terminate();
    assert!(
        !saved(&state_dir, NOBODY_HASH, "magnet"),
        "remove deletes the saved link"
    );
    daemon.restart();
    assert!(daemon.list().is_empty(), "a removed magnet stays removed");
    daemon.terminate();
}

/// Added paused, a magnet does not fetch: it waits as `paused` until resumed.
#[test]
fn a_paused_magnet_does_not_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d"));
    let link = format!("magnet:?xt=urn:btih:{NOBODY_HASH}");
    let added = daemon.btbt(&["magnet", &link, "--paused", "--json"]).json();
    let id = added[0]["id"].to_string();
    assert_eq!(added[0]["name"], NOBODY_HASH, "no dn: the hash is the name");
    let t = daemon.wait_state(&id, "paused", Duration::from_secs(10));
    assert!(t["shard"].is_null(), "a paused magnet is on no shard: {t}");
    assert!(t["metadata"].is_null(), "{t}");
    daemon.btbt(&["torrent", "resume", &id]).ok();
    let running = daemon.wait_state(&id, "metadata", Duration::from_secs(10));
    assert!(running["shard"].is_number(), "{running}");
    daemon.terminate();
}
