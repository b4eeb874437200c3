//! The rest of `btbt`'s client commands against a real daemon holding real data:
//! status, limits, files, torrent set (sequential, move), trackers, reannounce,
//! force-start, `--all`, ids by hash prefix; the moved torrent keeps seeding from
//! its new place to a ccbt leecher, byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::daemon_runs::{num, wait_until, DaemonOpts, DaemonUnderTest};
use ccbt_tests::{assert_same_tree, btbt_create, write_random_file, Downloader};
use serde_json::Value;

const TRACKER: &str = "http://127.0.0.1:9/announce";

fn priorities(daemon: &DaemonUnderTest, id: &str) -> Vec<String> {
    let files = daemon.btbt(&["files", "list", id, "--json"]).json();
    files
        .as_array()
        .unwrap_or_else(|| panic!("files list --json prints an array: {files}"))
        .iter()
        .map(|f| f["priority"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn daemon_client_commands_change_a_seeding_torrent_and_the_session() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d");
    let album = opts.download_dir.join("album");
    write_random_file(&album.join("a.bin"), 1 << 20, 91);
    write_random_file(&album.join("sub/b.bin"), 700_001, 92);
    let torrent = tmp.path().join("album.torrent");
    let hash = btbt_create(&album, &torrent, &["--piece-size", "65536"]);
    let pristine = tmp.path().join("pristine");
    std::fs::create_dir_all(&pristine).unwrap();
    assert!(std::process::Command::new("cp")
        .arg("-r")
        .arg(&album)
        .arg(&pristine)
        .status()
        .unwrap()
        .success());
    let mut daemon = DaemonUnderTest::start(opts);

    daemon
        .btbt(&["download", torrent.to_str().unwrap(), "--label", "music"])
        .ok();
    // An id by a unique prefix of its info-hash.
    let shown = daemon.btbt(&["show", &hash[..8], "--json"]).json();
    assert_eq!(shown["info_hash"], hash.as_str());
    assert_eq!(shown["labels"], serde_json::json!(["music"]), "{shown}");
    let id = shown["id"].to_string();
    daemon.wait_state(&id, "seeding", Duration::from_secs(30));
    let table = daemon.btbt(&["list"]);
    assert!(
        table.ok().contains("album"),
        "list prints the torrent:\n{}",
        table.stdout
    );

    let status = daemon.btbt(&["status", "--json"]).json();
    assert!(
        status.to_string().contains("\"torrents\":1"),
        "status --json counts one torrent: {status}"
    );

    // Global limits: set, printed, split over the one shard, cleared.
    daemon.btbt(&["limits", "--down", "2M", "--up", "1M"]).ok();
    let limits = daemon.btbt(&["limits", "--json"]).json();
    assert_eq!(limits["download_limit"], 2 << 20, "{limits}");
    assert_eq!(limits["upload_limit"], 1 << 20, "{limits}");
    let stats = daemon.get("/api/v1/stats").ok();
    assert_eq!(
        stats["shards"][0]["download_share"],
        2 << 20,
        "one shard has the whole budget: {stats}"
    );
    daemon.btbt(&["limits", "--down", "none", "--up", "none"]).ok();
    let cleared = daemon.get("/api/v1/session").ok();
    assert!(
        cleared["download_limit"].is_null() && cleared["upload_limit"].is_null(),
        "{cleared}"
    );

    // Files: deselect, priority, select.
    assert_eq!(priorities(&daemon, &id), ["normal", "normal"]);
    daemon.btbt(&["files", "deselect", &id, "1"]).ok();
    assert_eq!(priorities(&daemon, &id), ["normal", "skip"]);
    daemon.btbt(&["files", "priority", &id, "0", "high"]).ok();
    daemon.btbt(&["files", "select", &id, "1"]).ok();
    assert_eq!(priorities(&daemon, &id), ["high", "normal"]);

    // Settings and trackers.
    daemon.btbt(&["torrent", "set", &id, "--sequential", "on"]).ok();
    assert_eq!(daemon.torrent(&id)["sequential"], true);
    daemon.btbt(&["torrent", "add-tracker", &id, TRACKER]).ok();
    let trackers: Vec<Value> = daemon
        .get(&format!("/api/v1/torrents/{id}/trackers"))
        .ok()
        .as_array()
        .unwrap()
        .clone();
    assert!(trackers.iter().any(|t| t["url"] == TRACKER), "{trackers:?}");
    daemon.btbt(&["torrent", "reannounce", &id]).ok();
    daemon.btbt(&["torrent", "remove-tracker", &id, TRACKER]).ok();
    let trackers = daemon.get(&format!("/api/v1/torrents/{id}/trackers")).ok();
    assert!(!trackers.to_string().contains(TRACKER), "{trackers}");

    // --all and force-start.
    daemon.btbt(&["torrent", "pause", "--all"]).ok();
    daemon.wait_state(&id, "paused", Duration::from_secs(20));
    daemon.btbt(&["torrent", "resume", "--all"]).ok();
    daemon.wait_state(&id, "seeding", Duration::from_secs(20));
    daemon.btbt(&["torrent", "force-start", &id]).ok();
    assert_eq!(daemon.torrent(&id)["force_started"], true);

    // Move the data; the torrent seeds from the new place.
    let moved = tmp.path().join("moved");
    daemon
        .btbt(&["torrent", "set", &id, "--move", moved.to_str().unwrap()])
        .ok();
    let after = daemon.wait_torrent(&id, "moved and seeding", Duration::from_secs(30), |t| {
        t["download_dir"] == moved.display().to_string() && t["state"] == "seeding"
    });
    assert_eq!(num(&after, "verified_bytes"), (1 << 20) + 700_001, "{after}");
    assert_same_tree(&pristine.join("album"), &moved.join("album"));
    wait_until("the old copy gone", Duration::from_secs(10), || {
        (!album.exists()).then_some(())
    });

    let leecher_dir = tmp.path().join("leecher");
    let mut leecher = Downloader::new(&torrent, &leecher_dir).peer(daemon.listen()).spawn();
    leecher.wait_success("a download from the moved torrent", Duration::from_secs(60));
    assert_same_tree(&pristine.join("album"), &leecher_dir.join("album"));
    daemon.terminate();
}
