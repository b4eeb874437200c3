//! Automation in the daemon: the active-download limit queues the rest and
//! `queue reorder` changes the order; a seed-time or ratio limit stops a seeding
//! torrent as `finished`, for real; a completion hook runs with the torrent's hash
//! in its environment; the watch directory adds a dropped `.torrent` and marks a
//! broken one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use ccbt_tests::daemon_runs::{num, payload_torrent, wait_until, DaemonOpts, DaemonUnderTest};
use ccbt_tests::{assert_same_file, start_seeder, Downloader};
use serde_json::{json, Value};

/// A path as a TOML basic string.
fn toml_path(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

fn states(daemon: &DaemonUnderTest) -> Vec<(String, String)> {
    daemon
        .list()
        .iter()
        .map(|t| (t["id"].to_string(), t["state"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn daemon_one_active_download_queues_the_others_until_it_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let (x, _) = payload_torrent(&seed, "x.bin", 2 << 20, 31, 65536, &[]);
    let (y, _) = payload_torrent(&seed, "y.bin", 2 << 20, 32, 65536, &[]);
    let (z, _) = payload_torrent(&seed, "z.bin", 2 << 20, 33, 65536, &[]);
    let (_seeder, peer) = start_seeder(&[&x, &y, &z], &seed, &[]);
    let mut daemon =
        DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").config("[queue]\nmax_active_downloads = 1\n"));
    let session = daemon.get("/api/v1/session").ok();
    assert_eq!(session["max_active_downloads"], 1, "{session}");

    // x first and slowed, so the other two wait behind it.
    let x_id = daemon.add_torrent(&x, &[("paused", "true"), ("peer", peer.as_str())])["id"].to_string();
    daemon
        .patch(
            &format!("/api/v1/torrents/{x_id}"),
            &json!({ "download_limit": 256 * 1024 }),
        )
        .ok();
    daemon.btbt(&["torrent", "resume", &x_id]).ok();
    daemon.wait_state(&x_id, "downloading", Duration::from_secs(30));
    let y_id = daemon.add_torrent(&y, &[("peer", peer.as_str())])["id"].to_string();
    let z_id = daemon.add_torrent(&z, &[("peer", peer.as_str())])["id"].to_string();
    for id in [&y_id, &z_id] {
        daemon.wait_torrent(id, "queued", Duration::from_secs(20), |t| {
            assert_eq!(
                num(t, "verified_bytes"),
                0,
                "torrent {id} downloads while x holds the only download slot: {t}"
            );
            t["state"] == "queued"
        });
    }

    // Unlimited now: they complete one after the other, never two at once.
    daemon
        .patch(
            &format!("/api/v1/torrents/{x_id}"),
            &json!({ "download_limit": "none" }),
        )
        .ok();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let now = states(&daemon);
        let downloading = now.iter().filter(|(_, s)| s == "downloading").count();
        assert!(downloading <= 1, "at most one active download: {now:?}");
        if now.iter().all(|(_, s)| s == "seeding") {
            break;
        }
        assert!(Instant::now() < deadline, "not all complete in time: {now:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for name in ["x.bin", "y.bin", "z.bin"] {
        assert_same_file(&seed.join(name), &daemon.opts.download_dir.join(name));
    }
    daemon.terminate();
}

/// The ids of `GET /api/v1/queue`, in order.
fn queue_order(daemon: &DaemonUnderTest) -> Vec<String> {
    match daemon.get("/api/v1/queue").ok() {
        Value::Array(items) => items.iter().map(|t| t["id"].to_string()).collect(),
        other => panic!("GET /api/v1/queue is not an array: {other}"),
    }
}

#[test]
fn daemon_queue_reorder_changes_which_torrent_downloads() {
    // No peers anywhere: each torrent stays where the queue puts it.
    let tmp = tempfile::tempdir().unwrap();
    let made = tmp.path().join("made");
    let mut daemon =
        DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").config("[queue]\nmax_active_downloads = 1\n"));
    let mut ids = Vec::new();
    for (i, name) in ["x.bin", "y.bin", "z.bin"].iter().enumerate() {
        let (torrent, _) = payload_torrent(&made, name, 1 << 20, 80 + i as u64, 65536, &[]);
        ids.push(daemon.add_torrent(&torrent, &[])["id"].to_string());
    }
    let (x, y, z) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    daemon.wait_state(&x, "downloading", Duration::from_secs(20));
    daemon.wait_state(&y, "queued", Duration::from_secs(20));
    daemon.wait_state(&z, "queued", Duration::from_secs(20));
    assert_eq!(queue_order(&daemon), vec![x.clone(), y.clone(), z.clone()]);
    let listed = daemon.btbt(&["queue", "list"]);
    let text = listed.ok();
    let (px, py, pz) = (text.find("x.bin"), text.find("y.bin"), text.find("z.bin"));
    assert!(
        px.is_some() && px < py && py < pz,
        "queue list prints the order x, y, z:\n{text}"
    );

    daemon.btbt(&["queue", "reorder", &z, "top"]).ok();
    assert_eq!(queue_order(&daemon), vec![z.clone(), x.clone(), y.clone()]);
    assert_eq!(daemon.torrent(&z)["queue_position"], 0);
    daemon.wait_state(&z, "downloading", Duration::from_secs(20));
    daemon.wait_state(&x, "queued", Duration::from_secs(20));

    daemon.btbt(&["queue", "reorder", &z, "bottom"]).ok();
    assert_eq!(queue_order(&daemon), vec![x.clone(), y.clone(), z.clone()]);
    daemon.btbt(&["queue", "reorder", &y, "1"]).ok();
    assert_eq!(
        queue_order(&daemon),
        vec![y.clone(), x.clone(), z.clone()],
        "position 1 is the top"
    );
    daemon.wait_state(&y, "downloading", Duration::from_secs(20));
    daemon.wait_state(&z, "queued", Duration::from_secs(20));
    let x_now = daemon.wait_state(&x, "queued", Duration::from_secs(20));
    assert_eq!(x_now["queue_position"], 1, "{x_now}");
    daemon.terminate();
}

#[test]
fn daemon_seed_time_limit_stops_a_seeding_torrent_as_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d").config("[seeding]\nseed_time_limit = \"3s\"\n");
    let (torrent, _) = payload_torrent(&opts.download_dir, "seeded.bin", 1 << 20, 41, 65536, &[]);
    let mut daemon = DaemonUnderTest::start(opts);
    assert_eq!(daemon.get("/api/v1/session").ok()["seed_time_limit_secs"], 3);
    let mut events = daemon.events();
    let id = daemon.add_torrent(&torrent, &[])["id"].to_string();
    daemon.wait_state(&id, "seeding", Duration::from_secs(30));
    let finished = daemon.wait_state(&id, "finished", Duration::from_secs(30));
    let id_num: u64 = id.parse().unwrap();
    events.wait("state_changed to finished", Duration::from_secs(10), |e| {
        e["kind"] == "state_changed" && e["id"] == id_num && e["state"] == "finished"
    });
    events.wait("limit_reached", Duration::from_secs(10), |e| {
        e["kind"] == "limit_reached" && e["id"] == id_num
    });
    assert!(
        finished["queue_position"].is_null(),
        "a finished torrent leaves the queue: {finished}"
    );
    assert_eq!(finished["progress"], 1.0, "{finished}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(daemon.torrent(&id)["state"], "finished", "it stays stopped");
    daemon.terminate();
}

#[test]
fn daemon_ratio_limit_stops_the_upload_for_real() {
    const LEN: u64 = 8 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d");
    let (torrent, _) = payload_torrent(&opts.download_dir, "shared.bin", LEN, 42, 65536, &[]);
    let mut daemon = DaemonUnderTest::start(opts);
    let id = daemon.add_torrent(&torrent, &[("paused", "true")])["id"].to_string();
    // Uploading at 1 MiB/s, so the limit is crossed while the leecher still needs data.
    daemon
        .btbt(&["torrent", "set", &id, "--ratio-limit", "0.5", "--up", "1M"])
        .ok();
    let set = daemon.torrent(&id);
    assert_eq!(set["ratio_limit"], 0.5, "{set}");
    assert_eq!(set["upload_limit"], 1 << 20, "{set}");
    daemon.btbt(&["torrent", "resume", &id]).ok();
    daemon.wait_state(&id, "seeding", Duration::from_secs(30));

    let mut leecher = Downloader::new(&torrent, &tmp.path().join("leecher"))
        .peer(daemon.listen())
        .spawn();
    let finished = daemon.wait_state(&id, "finished", Duration::from_secs(60));
    assert!(
        num(&finished, "uploaded") >= LEN / 2 && num(&finished, "uploaded") < LEN,
        "stopped at ratio 0.5, before the whole torrent went out: {finished}"
    );
    daemon.wait_torrent(&id, "its peers gone", Duration::from_secs(10), |t| num(t, "peers") == 0);
    // What was being sent when the limit was reached may still be counted; then nothing more.
    std::thread::sleep(Duration::from_secs(1));
    let at_stop = daemon.torrent(&id);
    std::thread::sleep(Duration::from_secs(2));
    let later = daemon.torrent(&id);
    assert_eq!(later["state"], "finished");
    assert_eq!(
        num(&later, "uploaded"),
        num(&at_stop, "uploaded"),
        "nothing uploaded after the stop"
    );
    assert!(
        leecher.is_running(),
        "the leecher could not finish from a stopped seeder"
    );
    daemon.terminate();
}

#[test]
fn daemon_hooks_run_on_added_and_once_on_completion_with_the_torrents_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let (torrent, hash) = payload_torrent(&seed, "hooked.bin", 1 << 20, 51, 65536, &[]);
    let (_seeder, peer) = start_seeder(&[&torrent], &seed, &[]);
    let env_file = tmp.path().join("completed.env");
    let runs_file = tmp.path().join("completed.runs");
    let added_file = tmp.path().join("added.env");
    let script = tmp.path().join("on-completed.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv > {0}.tmp && mv {0}.tmp {0}\necho \"$TR_TORRENT_HASH\" >> {1}\n",
            env_file.display(),
            runs_file.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let on_added = format!("env > {0}.tmp && mv {0}.tmp {0}", added_file.display());

    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").config(&format!(
        "[hooks]\non_completed = {}\non_added = {:?}\n",
        toml_path(&script),
        on_added
    )));
    let id = daemon.add_torrent(&torrent, &[("peer", peer.as_str())])["id"].to_string();
    let added = wait_until("the added hook's output", Duration::from_secs(20), || {
        std::fs::read_to_string(&added_file).ok()
    });
    assert!(
        added.contains(&hash),
        "the added hook sees the info-hash {hash}:\n{added}"
    );
    daemon.wait_state(&id, "seeding", Duration::from_secs(60));
    let env = wait_until("the completed hook's output", Duration::from_secs(20), || {
        std::fs::read_to_string(&env_file).ok()
    });
    assert!(env.contains(&hash), "the hook sees the info-hash {hash}:\n{env}");
    assert!(env.contains("hooked.bin"), "the hook sees the name:\n{env}");
    assert!(
        env.contains(&daemon.opts.download_dir.display().to_string()),
        "the hook sees the directory:\n{env}"
    );
    assert_same_file(&seed.join("hooked.bin"), &daemon.opts.download_dir.join("hooked.bin"));

    // A restart that finds the torrent complete does not complete it again.
    daemon.terminate();
    daemon.restart();
    daemon.wait_state(&id, "seeding", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    let runs = std::fs::read_to_string(&runs_file).unwrap();
    assert_eq!(
        runs.lines().collect::<Vec<_>>(),
        vec![hash.as_str()],
        "the completed hook ran once"
    );
    daemon.terminate();
}

#[test]
fn daemon_watch_dir_adds_a_dropped_torrent_and_marks_a_broken_one() {
    let tmp = tempfile::tempdir().unwrap();
    let watch = tmp.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    let (torrent, hash) = payload_torrent(&tmp.path().join("made"), "dropped.bin", 300_000, 61, 16384, &[]);
    let daemon = DaemonUnderTest::start(
        DaemonOpts::new(tmp.path(), "d").config(&format!("[watch]\ndir = {}\n", toml_path(&watch))),
    );
    let mut events = daemon.events();

    // Dropped whole (written aside, then renamed in), as a careful tool does.
    std::fs::copy(&torrent, watch.join("good.part")).unwrap();
    std::fs::rename(watch.join("good.part"), watch.join("good.torrent")).unwrap();
    std::fs::write(watch.join("bad.part"), b"d4:infod4:name").unwrap();
    std::fs::rename(watch.join("bad.part"), watch.join("bad.torrent")).unwrap();

    wait_until("good.torrent renamed .added", Duration::from_secs(30), || {
        watch.join("good.torrent.added").is_file().then_some(())
    });
    wait_until("bad.torrent renamed .invalid", Duration::from_secs(30), || {
        watch.join("bad.torrent.invalid").is_file().then_some(())
    });
    assert!(!watch.join("good.torrent").exists() && !watch.join("bad.torrent").exists());
    let list = daemon.list();
    assert_eq!(list.len(), 1, "only the good one is added: {list:?}");
    assert_eq!(list[0]["info_hash"], hash.as_str());
    events.wait("added", Duration::from_secs(5), |e| {
        e["kind"] == "added" && e["info_hash"] == hash.as_str()
    });
    let log = daemon.process.stderr();
    assert!(log.contains("bad.torrent"), "the broken file's error is logged:\n{log}");
}

#[test]
fn daemon_idle_limit_stops_a_seed_that_uploads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d").config("[seeding]\nidle_limit = \"1h\"\n");
    let (torrent, _) = payload_torrent(&opts.download_dir, "idle.bin", 1 << 20, 43, 65536, &[]);
    let mut daemon = DaemonUnderTest::start(opts);
    assert_eq!(daemon.get("/api/v1/session").ok()["idle_limit_secs"], 3600);
    let mut events = daemon.events();
    let id = daemon.add_torrent(&torrent, &[])["id"].to_string();
    let seeding = daemon.wait_state(&id, "seeding", Duration::from_secs(30));
    assert_eq!(seeding["idle_limit_secs"], 3600, "the session's default: {seeding}");
    daemon.btbt(&["torrent", "set", &id, "--idle-limit", "3s"]).ok();
    assert_eq!(daemon.torrent(&id)["idle_limit_secs"], 3);
    daemon.wait_state(&id, "finished", Duration::from_secs(30));
    let id_num: u64 = id.parse().unwrap();
    let reached = events.wait("limit_reached", Duration::from_secs(10), |e| {
        e["kind"] == "limit_reached" && e["id"] == id_num
    });
    assert!(
        reached.to_string().contains("idle limit is 3s"),
        "the event names the idle limit: {reached}"
    );
    daemon.terminate();
}
