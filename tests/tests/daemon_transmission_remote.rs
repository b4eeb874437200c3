//! The real `transmission-remote` (Debian transmission-cli 3.00) drives a ccbt
//! daemon through `/transmission/rpc`: add, list, info, files, peers, stop, start,
//! verify, ratio, labels, move, session info, remove (with and without the data).
//! Its output is checked, and each effect through the native API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use ccbt_tests::daemon_runs::{payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::transmission_rpc::{transmission_remote, RemoteRun};

const LEN: u64 = 3 << 20;
const PIECE: u64 = 64 * 1024;
const WAIT: Duration = Duration::from_secs(60);

/// transmission-remote pointed at one daemon's API port.
struct Remote<'a> {
    port: u16,
    home: &'a Path,
}

impl Remote<'_> {
    fn run(&self, args: &[&str]) -> RemoteRun {
        transmission_remote(self.port, self.home, args)
    }
}

#[test]
fn transmission_remote_drives_the_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "ccbt");
    let data = opts.download_dir.clone();
    std::fs::create_dir_all(&data).unwrap();
    let (torrent, hash) = payload_torrent(&data, "show.mkv", LEN, 5, PIECE, &[]);
    let mut daemon = DaemonUnderTest::start(opts);
    let home = tmp.path().join("remote-home");
    std::fs::create_dir_all(&home).unwrap();
    let remote = Remote {
        port: daemon.opts.api_port,
        home: &home,
    };

    // -a: the .torrent is read by transmission-remote and sent as metainfo.
    remote.run(&["-a", torrent.to_str().unwrap()]).responded_success();
    let listed = daemon.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["info_hash"], hash.as_str());
    let id = listed[0]["id"].to_string();
    daemon.wait_state(&id, "seeding", WAIT);
    // The same torrent again is a duplicate, still a success.
    remote.run(&["-a", torrent.to_str().unwrap()]).responded_success();
    assert_eq!(daemon.list().len(), 1);

    // -l: one line per torrent and a sum.
    let list = remote.run(&["-l"]);
    let line = list
        .ok()
        .lines()
        .find(|l| l.contains("show.mkv"))
        .unwrap_or_else(|| panic!("-l lists the torrent: {}", list.stdout));
    assert!(line.contains("100%"), "{line}");
    assert!(line.contains("Seeding") || line.contains("Idle"), "{line}");
    assert!(list.stdout.contains("Sum:"), "{}", list.stdout);

    // -i: the details.
    let info = remote.run(&["-t", &id, "-i"]);
    let info = info.ok();
    for needle in [
        "Name: show.mkv".to_string(),
        format!("Hash: {hash}"),
        "Percent Done: 100%".to_string(),
        format!("Location: {}", data.display()),
    ] {
        assert!(info.contains(&needle), "-i shows {needle:?}:\n{info}");
    }

    // -f: the files; -pi: the peers (none).
    let files = remote.run(&["-t", &id, "-f"]);
    assert!(files.ok().contains("show.mkv (1 files)"), "{}", files.stdout);
    assert!(
        files.stdout.lines().any(|l| l.contains("100%") && l.contains("Yes")),
        "{}",
        files.stdout
    );
    let peers = remote.run(&["-t", &id, "-pi"]);
    assert!(peers.ok().contains("Address"), "{}", peers.stdout);

    // -S / -s: stop and start.
    remote.run(&["-t", &id, "-S"]).responded_success();
    daemon.wait_state(&id, "paused", WAIT);
    let stopped = remote.run(&["-l"]);
    assert!(
        stopped
            .ok()
            .lines()
            .any(|l| l.contains("show.mkv") && l.contains("Stopped")),
        "{}",
        stopped.stdout
    );
    remote.run(&["-t", &id, "-s"]).responded_success();
    daemon.wait_state(&id, "seeding", WAIT);

    // -v: verify hashes everything again and ends seeding.
    remote.run(&["-t", &id, "-v"]).responded_success();
    daemon.wait_torrent(&id, "a new check", WAIT, |t| {
        t["last_check"]["hashed_pieces"].as_u64() == Some(LEN / PIECE) && t["state"] == "seeding"
    });

    // -sr: the torrent's own ratio; -L: labels.
    remote.run(&["-t", &id, "-sr", "1.5"]).responded_success();
    let t = daemon.torrent(&id);
    assert_eq!(t["ratio_limit"], 1.5, "{t}");
    remote.run(&["-t", &id, "-L", "tv,hd"]).responded_success();
    assert_eq!(daemon.torrent(&id)["labels"], serde_json::json!(["tv", "hd"]));

    // --move: the data moves and the torrent goes on from there.
    let moved_to = tmp.path().join("moved");
    std::fs::create_dir_all(&moved_to).unwrap();
    remote
        .run(&["-t", &id, "--move", moved_to.to_str().unwrap()])
        .responded_success();
    daemon.wait_torrent(&id, "the move", WAIT, |t| {
        t["download_dir"] == moved_to.to_str().unwrap() && t["state"] == "seeding"
    });
    assert!(moved_to.join("show.mkv").exists());
    assert!(!data.join("show.mkv").exists());

    // -si: the session.
    let session = remote.run(&["-si"]);
    let session = session.ok();
    assert!(session.contains("RPC version: 17"), "{session}");
    assert!(session.contains("Daemon version: 4.0.6 (ccbt"), "{session}");
    assert!(
        session.contains(&format!("Listenport: {}", daemon.listen().port())),
        "{session}"
    );

    // -r keeps the data; --remove-and-delete deletes it.
    remote.run(&["-t", &id, "-r"]).responded_success();
    assert!(daemon.list().is_empty());
    assert!(moved_to.join("show.mkv").exists(), "-r keeps the data");
    remote
        .run(&["-a", torrent.to_str().unwrap(), "-w", moved_to.to_str().unwrap()])
        .responded_success();
    let again = daemon.list();
    assert_eq!(again.len(), 1);
    let id = again[0]["id"].to_string();
    daemon.wait_state(&id, "seeding", WAIT);
    remote.run(&["-t", &id, "--remove-and-delete"]).responded_success();
    assert!(daemon.list().is_empty());
    assert!(
        !moved_to.join("show.mkv").exists(),
        "--remove-and-delete deletes the data"
    );
    daemon.terminate();
}

#[test]
fn credentials_are_required_once_configured_and_the_extra_port_serves_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let extra_port = ccbt_tests::clients::free_port();
    let opts = DaemonOpts::new(tmp.path(), "ccbt").config(&format!(
        "[api]\nextra_listen = [\"127.0.0.1:{extra_port}\"]\n[api.transmission]\nusername = \"sonarr\"\npassword = \"s3cret\"\n"
    ));
    let mut daemon = DaemonUnderTest::start(opts);
    let home = tmp.path().join("remote-home");
    std::fs::create_dir_all(&home).unwrap();
    let remote = Remote {
        port: daemon.opts.api_port,
        home: &home,
    };
    let refused = remote.run(&["-l"]);
    assert!(!refused.success, "{refused:?}");
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("401"),
        "{refused:?}"
    );
    let wrong = remote.run(&["-n", "sonarr:nope", "-l"]);
    assert!(!wrong.success, "{wrong:?}");
    let ok = remote.run(&["-n", "sonarr:s3cret", "-si"]);
    assert!(ok.ok().contains("RPC version: 17"), "{}", ok.stdout);
    // The same API on the extra address (as on Transmission's 9091).
    let extra = Remote {
        port: extra_port,
        home: &home,
    };
    let ok = extra.run(&["-n", "sonarr:s3cret", "-si"]);
    assert!(ok.ok().contains("RPC version: 17"), "{}", ok.stdout);
    assert!(
        !extra.run(&["-l"]).success,
        "the extra address asks for the credentials too"
    );
    daemon.terminate();
}

#[test]
fn transmission_remote_adds_a_magnet_that_downloads() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let (torrent, hash) = payload_torrent(&seed_dir, "clip.mkv", LEN, 8, PIECE, &[]);
    let (_seeder, seeder_addr) = ccbt_tests::start_seeder(&[&torrent], &seed_dir, &[]);
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "ccbt"));
    let home = tmp.path().join("remote-home");
    std::fs::create_dir_all(&home).unwrap();
    let remote = Remote {
        port: daemon.opts.api_port,
        home: &home,
    };
    // The seeder's address rides in the link (x.pe), so no tracker or DHT is needed.
    let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=clip.mkv&x.pe={seeder_addr}");
    remote.run(&["-a", &magnet]).responded_success();
    let listed = daemon.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0]["id"].to_string();
    daemon.wait_state(&id, "seeding", WAIT);
    ccbt_tests::assert_same_file(&seed_dir.join("clip.mkv"), &daemon.opts.download_dir.join("clip.mkv"));
    let info = remote.run(&["-t", &id, "-i"]);
    let info = info.ok();
    assert!(info.contains("Name: clip.mkv"), "{info}");
    assert!(info.contains("Percent Done: 100%"), "{info}");
    // The same magnet again is a duplicate, still a success.
    remote.run(&["-a", &magnet]).responded_success();
    assert_eq!(daemon.list().len(), 1);
    daemon.terminate();
}
