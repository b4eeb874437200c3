//! `kill -9` of a daemon holding three torrents (one complete, one half done, one
//! paused), then a restart on the same state dir: all three come back in their
//! states, the complete one seeds without hashing a piece, the half one continues
//! from a ccbt seeder (found again through the tracker) and ends byte-identical,
//! the paused one stays paused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::clients::Swarm;
use ccbt_tests::daemon_runs::{num, payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::start_seeder;
use serde_json::json;

const HALF_LEN: u64 = 16 << 20;
const SLOW: u64 = 1 << 20;

#[test]
fn daemon_kill9_and_restart_bring_back_complete_half_and_paused_torrents() {
    // The half-done torrent's seeder: one-shot ccbt, announced to opentracker.
    let swarm = Swarm::single(HALF_LEN, 16);
    let (_seeder, seeder_addr) = start_seeder(&[&swarm.torrent], &swarm.seed_dir, &[]);
    swarm.wait_seeders(1, Duration::from_secs(30));

    let root = swarm.dir.path().join("daemon");
    let opts = DaemonOpts::new(&root, "d");
    let (complete_torrent, complete_hash) =
        payload_torrent(&opts.download_dir, "complete.bin", 4 << 20, 21, 65536, &[]);
    let (paused_torrent, paused_hash) = payload_torrent(&root.join("elsewhere"), "paused.bin", 1 << 20, 22, 65536, &[]);
    let mut daemon = DaemonUnderTest::start(opts);

    let complete = daemon.add_torrent(&complete_torrent, &[]);
    let complete_id = complete["id"].to_string();
    daemon.wait_state(&complete_id, "seeding", Duration::from_secs(60));
    let paused = daemon.add_torrent(&paused_torrent, &[("paused", "true")]);
    let paused_id = paused["id"].to_string();
    daemon.wait_state(&paused_id, "paused", Duration::from_secs(20));

    let half = daemon.add_torrent(&swarm.torrent, &[("paused", "true"), ("peer", seeder_addr.as_str())]);
    let half_id = half["id"].to_string();
    daemon
        .patch(
            &format!("/api/v1/torrents/{half_id}"),
            &json!({ "download_limit": SLOW }),
        )
        .ok();
    daemon.btbt(&["torrent", "resume", &half_id]).ok();
    let at_kill = daemon.wait_torrent(&half_id, "progress between 0.2 and 0.8", Duration::from_secs(60), |t| {
        let p = t["progress"].as_f64().unwrap_or(0.0);
        assert!(p <= 0.8, "the limit did not hold the download back: {t}");
        p >= 0.25
    });
    daemon.kill9();

    let port_wait = daemon.restart();
    eprintln!("the peer port was free again {port_wait:?} after the kill");
    let ids: Vec<String> = daemon.list().iter().map(|t| t["id"].to_string()).collect();
    assert_eq!(ids.len(), 3, "all three torrents are back: {ids:?}");

    let seeding = daemon.wait_state(&complete_id, "seeding", Duration::from_secs(20));
    assert_eq!(seeding["info_hash"], complete_hash.as_str());
    assert_eq!(num(&seeding, "verified_bytes"), 4 << 20, "{seeding}");
    let check = &seeding["last_check"];
    assert_eq!(
        check["hashed_pieces"], 0,
        "the complete torrent seeds without a recheck: {seeding}"
    );
    assert_eq!(
        check["trusted_pieces"], 64,
        "every piece trusted from the record: {seeding}"
    );
    assert!(check["record_problem"].is_null(), "{seeding}");

    let still_paused = daemon.torrent(&paused_id);
    assert_eq!(still_paused["info_hash"], paused_hash.as_str());
    assert_eq!(
        still_paused["state"], "paused",
        "the paused one stays paused: {still_paused}"
    );

    let resumed = daemon.torrent(&half_id);
    assert_eq!(resumed["info_hash"], swarm.info_hash.as_str());
    assert_eq!(
        num(&resumed, "download_limit"),
        SLOW,
        "the per-torrent limit is part of the saved session: {resumed}"
    );
    assert!(
        resumed["state"] == "downloading" || resumed["state"] == "checking",
        "the half one continues: {resumed}"
    );
    daemon
        .patch(
            &format!("/api/v1/torrents/{half_id}"),
            &json!({ "download_limit": "none" }),
        )
        .ok();
    let done = daemon.wait_state(&half_id, "seeding", Duration::from_secs(90));
    assert_eq!(num(&done, "verified_bytes"), HALF_LEN, "{done}");
    assert!(
        num(&at_kill, "verified_bytes") < HALF_LEN,
        "the kill landed before the end: {at_kill}"
    );
    swarm.assert_copy(&daemon.opts.download_dir, Duration::from_secs(5));
    assert_eq!(daemon.torrent(&paused_id)["state"], "paused");
    daemon.terminate();
}

#[test]
fn an_add_answered_survives_a_kill9_right_after_the_answer() {
    // The answer to an add comes only once the session file holding it is written:
    // a kill -9 at once must not lose it, nor its label and paused state.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("daemon");
    let opts = DaemonOpts::new(&root, "d");
    let (torrent, hash) = payload_torrent(&root.join("data"), "quick.bin", 1 << 20, 23, 65536, &[]);
    let mut daemon = DaemonUnderTest::start(opts);
    let added = daemon.add_torrent(&torrent, &[("paused", "true"), ("label", "kept")]);
    daemon.kill9();
    daemon.restart();
    let list = daemon.list();
    assert_eq!(list.len(), 1, "the add survived: {list:?}");
    assert_eq!(list[0]["info_hash"], json!(hash), "{list:?}");
    assert_eq!(list[0]["id"], added["id"], "{list:?}");
    assert_eq!(list[0]["state"], json!("paused"), "{list:?}");
    assert_eq!(list[0]["labels"], json!(["kept"]), "{list:?}");
}
