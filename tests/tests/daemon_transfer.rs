//! Real data through the daemon: one daemon seeds to another given `--peer`, the
//! client commands drive the download (list, show, pause, resume, verify, remove),
//! and a python3-libtorrent seeder fills a daemon byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::time::Duration;

use ccbt_tests::assert_same_file;
use ccbt_tests::clients::{Client, Libtorrent, Opts, Swarm};
use ccbt_tests::daemon_runs::{num, payload_torrent, wait_until, DaemonOpts, DaemonUnderTest};
use serde_json::{json, Value};

const LEN: u64 = 8 << 20;
const PIECE: u64 = 64 * 1024;
const SEEDER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const LEECHER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);

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

#[test]
fn daemon_seeds_to_daemon_and_the_torrent_commands_act_on_the_download() {
    let tmp = tempfile::tempdir().unwrap();
    let seeder_opts = DaemonOpts::new(tmp.path(), "seeder").listen_ip(SEEDER_IP);
    let (torrent, hash) = payload_torrent(
        &seeder_opts.download_dir,
        "payload.bin",
        LEN,
        11,
        PIECE,
        &["--tracker", "http://127.0.0.1:9/announce"],
    );
    let source = seeder_opts.download_dir.join("payload.bin");
    let mut seeder = DaemonUnderTest::start(seeder_opts);
    seeder.btbt(&["download", torrent.to_str().unwrap()]).ok();
    let seeding = listed(&seeder, &hash);
    seeder.wait_state(&seeding["id"].to_string(), "seeding", Duration::from_secs(60));

    let mut leecher = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "leecher").listen_ip(LEECHER_IP));
    let mut events = leecher.events();
    let out = tmp.path().join("out");
    let peer = seeder.listen().to_string();
    leecher
        .btbt(&[
            "download",
            torrent.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--paused",
            "--peer",
            &peer,
        ])
        .ok();
    let id = listed(&leecher, &hash)["id"].to_string();
    leecher.wait_state(&id, "paused", Duration::from_secs(20));

    // Slowed, so that it is still downloading while we look at it.
    leecher.btbt(&["torrent", "set", &id, "--down", "1M"]).ok();
    leecher.btbt(&["torrent", "resume", &id]).ok();
    leecher.wait_torrent(&id, "bytes verified", Duration::from_secs(60), |t| {
        t["state"] == "downloading" && num(t, "verified_bytes") > 0
    });

    let row = listed(&leecher, &hash);
    for key in [
        "id",
        "info_hash",
        "name",
        "state",
        "progress",
        "verified_bytes",
        "total_bytes",
        "download_rate",
        "upload_rate",
        "uploaded",
        "ratio",
        "peers",
        "eta_secs",
        "labels",
        "download_dir",
        "error",
    ] {
        assert!(row.get(key).is_some(), "list --json has {key}: {row}");
    }
    assert_eq!(row["name"], "payload.bin");
    assert_eq!(row["state"], "downloading", "{row}");
    assert_eq!(row["total_bytes"], LEN, "{row}");
    let progress = row["progress"].as_f64().unwrap();
    assert!(progress > 0.0 && progress < 1.0, "{row}");
    assert_eq!(row["download_dir"], out.display().to_string(), "{row}");
    assert!(row["labels"].is_array() && row["error"].is_null(), "{row}");

    let show = leecher.btbt(&["show", &id, "--json"]).json();
    assert_eq!(show["files"][0]["path"], "payload.bin", "{show}");
    assert_eq!(show["files"][0]["length"], LEN, "{show}");
    assert_eq!(show["num_pieces"], LEN / PIECE, "{show}");
    let peers = show["peers_list"].as_array().expect("show --json has peers_list");
    assert!(
        peers.iter().any(|p| p["addr"] == peer.as_str()),
        "the seeder {peer} is among the peers: {show}"
    );
    let trackers = show["trackers"].as_array().expect("show --json has trackers");
    assert_eq!(trackers.len(), 1, "{show}");
    assert_eq!(trackers[0]["url"], "http://127.0.0.1:9/announce", "{show}");
    // Nothing listens on port 9: the announce fails, and the event bus says so.
    let failed = events.wait("tracker_error", Duration::from_secs(30), |e| {
        e["kind"] == "tracker_error" && e["info_hash"] == hash.as_str()
    });
    assert!(failed["message"].as_str().is_some_and(|m| !m.is_empty()), "{failed}");
    events.wait("added", Duration::from_secs(1), |e| {
        e["kind"] == "added" && e["info_hash"] == hash.as_str()
    });

    // Paused: no peers, no more verified bytes.
    leecher.btbt(&["torrent", "pause", &id]).ok();
    let paused = leecher.wait_state(&id, "paused", Duration::from_secs(20));
    leecher.wait_torrent(&id, "its peers gone", Duration::from_secs(10), |t| num(t, "peers") == 0);
    // The pieces in flight when the pause came may still land; then nothing more.
    std::thread::sleep(Duration::from_secs(1));
    let at_pause = leecher.torrent(&id);
    std::thread::sleep(Duration::from_secs(2));
    let later = leecher.torrent(&id);
    assert_eq!(later["state"], "paused", "{later}");
    assert_eq!(
        num(&later, "verified_bytes"),
        num(&at_pause, "verified_bytes"),
        "no bytes arrive while paused: {paused} then {later}"
    );
    assert!(num(&later, "verified_bytes") < LEN, "paused before the end: {later}");

    // Resumed without the limit: complete and byte-identical.
    leecher
        .patch(&format!("/api/v1/torrents/{id}"), &json!({ "download_limit": "none" }))
        .ok();
    leecher.btbt(&["torrent", "resume", &id]).ok();
    leecher.wait_state(&id, "seeding", Duration::from_secs(90));
    let downloaded = out.join("payload.bin");
    assert_same_file(&source, &downloaded);

    // A byte changed behind its back: verify finds the piece bad and fetches it again.
    let before = leecher.torrent(&id);
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(&downloaded).unwrap();
        f.seek(SeekFrom::Start(3 * PIECE + 100)).unwrap();
        let original = std::fs::read(&source).unwrap()[(3 * PIECE + 100) as usize];
        f.write_all(&[original ^ 0xff]).unwrap();
    }
    leecher.btbt(&["torrent", "verify", &id]).ok();
    leecher.wait_torrent(&id, "the bad piece fetched again", Duration::from_secs(60), |t| {
        t["state"] == "seeding" && num(t, "downloaded") >= num(&before, "downloaded") + PIECE
    });
    assert_same_file(&source, &downloaded);
    let from_seeder = seeder.torrent(&seeding["id"].to_string());
    assert!(
        num(&from_seeder, "uploaded") >= LEN,
        "the seeder counts its upload: {from_seeder}"
    );

    leecher.btbt(&["torrent", "remove", &id, "--delete-data"]).ok();
    wait_until("the downloaded file deleted", Duration::from_secs(20), || {
        (!downloaded.exists()).then_some(())
    });
    assert!(leecher.list().is_empty(), "removed from the list");
    assert!(source.exists(), "the seeder's data is untouched");
    leecher.terminate();
    seeder.terminate();
}

#[test]
fn daemon_python_libtorrent_seeds_to_the_daemon_byte_identical() {
    let swarm = Swarm::single(6_000_000, 16);
    let lt = Libtorrent::start_seeder(
        &swarm.torrent,
        &swarm.seed_dir,
        &Opts {
            work_root: Some(swarm.dir.path().join("work")),
            ..Opts::default()
        }
        .with_listen_ip(SEEDER_IP),
    );
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(swarm.dir.path(), "d").listen_ip(LEECHER_IP));
    let peer = lt.listen_addr().to_string();
    let added = daemon.add_torrent(&swarm.torrent, &[("peer", peer.as_str())]);
    assert_eq!(added["info_hash"], swarm.info_hash.as_str());
    let id = added["id"].to_string();
    let done = daemon.wait_state(&id, "seeding", Duration::from_secs(90));
    assert_eq!(num(&done, "verified_bytes"), 6_000_000, "{done}");
    assert_eq!(done["progress"], 1.0, "{done}");
    swarm.assert_copy(&daemon.opts.download_dir, Duration::from_secs(5));
    assert!(lt.is_running(), "libtorrent still runs");
    daemon.terminate();
}
