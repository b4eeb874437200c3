//! The IP filter end to end, with python3-libtorrent peers on their own loopback
//! addresses (all of 127/8 is loopback) and a real opentracker:
//! - lists in three formats (a P2P file, a gzip eMule file named `.txt`, a CIDR
//!   file) load, and their malformed lines are reported with line numbers;
//! - a libtorrent seeder on a blocked address is never dialled, whether the
//!   tracker or the user (`peer=`) offers it, while an unblocked seeder serves
//!   the whole torrent byte-identical;
//! - a libtorrent downloader on the blocked address cannot connect in (refused at
//!   accept), until the list file is edited: the daemon reloads it by itself and
//!   the same downloader then gets every byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use ccbt_tests::clients::{Client, Libtorrent, Swarm};
use ccbt_tests::daemon_runs::{num, wait_until, DaemonOpts, DaemonUnderTest};
use serde_json::Value;

const BLOCKED_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const OPEN_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const DAEMON_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);
const LEN: u64 = 3_000_000;

fn gzip_file(plain: &Path, out: &Path) {
    let gz = std::process::Command::new("gzip")
        .args(["-n", "-c"])
        .arg(plain)
        .output()
        .expect("gzip runs");
    assert!(gz.status.success(), "gzip: {}", String::from_utf8_lossy(&gz.stderr));
    std::fs::write(out, gz.stdout).unwrap();
}

/// Replaces a file in one step, as a list updater should.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn blocked_counts(daemon: &DaemonUnderTest) -> Value {
    daemon.get("/api/v1/stats").ok()["ip_filter_blocked"].clone()
}

#[test]
fn a_blocked_libtorrent_peer_is_refused_both_ways_until_the_list_file_is_edited() {
    let swarm = Swarm::single(LEN, 16);
    let lists = swarm.dir.path().join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    let p2p = lists.join("blocked.p2p");
    std::fs::write(
        &p2p,
        "# a PeerGuardian list\nTest peers, Inc:127.0.0.2-127.0.0.2\nthis is not a range\n",
    )
    .unwrap();
    let emule_plain = lists.join("emule.dat");
    std::fs::write(
        &emule_plain,
        "010.000.000.000 - 010.000.000.255 , 000 , far away\n010.000.000.007 - 010.000.000.007 , 200 , allowed\n1.2.3 - 1.2.3.4 , 0 , bad\n",
    )
    .unwrap();
    // Gzip under a plain name: the magic bytes decide, not the name.
    let emule = lists.join("emule.txt");
    gzip_file(&emule_plain, &emule);
    let cidr = lists.join("cidr.txt");
    std::fs::write(&cidr, "2001:db8::/32\n192.168.77.0/24\n").unwrap();
    let config = format!(
        "[security]\nip_filter = [{:?}, {:?}, {:?}]\n[dht]\nenabled = false\n[lsd]\nenabled = false\n",
        p2p.display().to_string(),
        emule.display().to_string(),
        cidr.display().to_string()
    );

    let blocked_seeder = Libtorrent::start_seeder(
        &swarm.torrent,
        &swarm.seed_dir,
        &swarm.opts().with_listen_ip(BLOCKED_IP),
    );
    swarm.wait_seeders(1, Duration::from_secs(30));
    let mut daemon = DaemonUnderTest::start(
        DaemonOpts::new(swarm.dir.path(), "d")
            .listen_ip(DAEMON_IP)
            .config(&config),
    );

    // The lists as loaded, with their bad lines by number.
    let status = daemon.btbt(&["filter", "stats", "--json"]).json();
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(
        status["ranges_v4"], 4,
        "127.0.0.2, 10.0.0.0-6, 10.0.0.8-255, 192.168.77/24: {status}"
    );
    assert_eq!(status["ranges_v6"], 1, "{status}");
    let listed = status["lists"].as_array().unwrap();
    assert_eq!(listed[0]["malformed_lines"], 1, "{status}");
    assert_eq!(listed[0]["malformed_examples"][0]["line"], 3, "{status}");
    assert_eq!(
        listed[0]["malformed_examples"][0]["text"], "this is not a range",
        "{status}"
    );
    assert_eq!(listed[1]["compression"], "gzip", "{status}");
    assert_eq!(listed[1]["allowed_ranges"], 1, "{status}");
    assert_eq!(listed[1]["malformed_examples"][0]["line"], 3, "{status}");
    assert_eq!(listed[2]["formats"]["cidr"], 2, "{status}");
    let text = daemon.btbt(&["filter", "stats"]).ok().to_string();
    assert!(
        text.contains("line 3: not an IP address: \"this is not a range\""),
        "{text}"
    );
    assert!(daemon.btbt(&["ipfilter", "test", "127.0.0.2"]).ok().contains("BLOCKED"));
    assert!(daemon.btbt(&["filter", "check", "10.0.0.7"]).ok().contains("allowed"));
    assert!(daemon
        .btbt(&["filter", "test", "10.0.0.8:6881"])
        .ok()
        .contains("BLOCKED"));
    assert!(daemon.btbt(&["filter", "test", "127.0.0.3"]).ok().contains("allowed"));

    // Offered by the user and by the tracker: neither dialled.
    let blocked_addr = blocked_seeder.listen_addr().to_string();
    let added = daemon.add_torrent(&swarm.torrent, &[("peer", blocked_addr.as_str())]);
    let id = added["id"].to_string();
    let counts = wait_until(
        "the tracker's and the user's offers dropped",
        Duration::from_secs(30),
        || {
            let c = blocked_counts(&daemon);
            (num(&c["by_source"], "tracker") >= 1 && num(&c["by_source"], "manual") >= 1).then_some(c)
        },
    );
    assert_eq!(
        num(&counts, "outgoing"),
        0,
        "nothing known got through to a dial: {counts}"
    );
    // Told of the daemon by the tracker, the blocked seeder dials it: refused at accept.
    blocked_seeder.reannounce();
    let deadline = Instant::now() + Duration::from_secs(20);
    while num(&blocked_counts(&daemon), "incoming") == 0 && Instant::now() < deadline {
        blocked_seeder.add_peer(daemon.listen()).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    let t = daemon.torrent(&id);
    assert_eq!(
        num(&t, "verified_bytes"),
        0,
        "nothing came from the blocked seeder: {t}"
    );
    assert_eq!(num(&t, "peers"), 0, "{t}");
    assert_eq!(blocked_seeder.status().uploaded_bytes, 0);

    // An unblocked seeder serves everything.
    let open_seeder = Libtorrent::start_seeder(&swarm.torrent, &swarm.seed_dir, &swarm.opts().with_listen_ip(OPEN_IP));
    daemon.btbt(&["torrent", "reannounce", &id]).ok();
    let open_addr = open_seeder.listen_addr();
    let deadline = Instant::now() + Duration::from_secs(90);
    while daemon.torrent(&id)["state"] != "seeding" {
        assert!(Instant::now() < deadline, "not complete: {}", daemon.torrent(&id));
        if daemon.torrent(&id)["peers"] == 0 {
            open_seeder.add_peer(daemon.listen()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    swarm.assert_copy(&daemon.opts.download_dir, Duration::from_secs(10));
    assert_eq!(
        blocked_seeder.status().uploaded_bytes,
        0,
        "the blocked seeder sent nothing"
    );
    assert!(open_seeder.status().uploaded_bytes >= LEN, "from {open_addr}");
    drop(open_seeder);
    drop(blocked_seeder);

    // A downloader on the blocked address cannot get in...
    let leech_dir = swarm.out_dir("blocked-leecher");
    // Read before the downloader starts: it dials the daemon at once, and
    // libtorrent waits a minute before it dials a peer that failed again.
    let refused_before = num(&blocked_counts(&daemon), "incoming");
    let leecher = Libtorrent::start_downloader(
        &swarm.torrent,
        &leech_dir,
        &swarm.opts().with_listen_ip(BLOCKED_IP).with_peer(daemon.listen()),
    );
    wait_until(
        "the blocked downloader refused at accept",
        Duration::from_secs(30),
        || {
            leecher.add_peer(daemon.listen()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            (num(&blocked_counts(&daemon), "incoming") > refused_before).then_some(())
        },
    );
    assert_eq!(leecher.status().done_bytes, 0);

    // ...until the list no longer names it: the daemon sees the edit by itself.
    replace_file(&p2p, "# emptied\n");
    wait_until("the edited list reloaded", Duration::from_secs(15), || {
        let s = daemon.get("/api/v1/ipfilter").ok();
        (s["ranges_v4"] == 3).then_some(s)
    });
    assert!(daemon.btbt(&["filter", "test", "127.0.0.2"]).ok().contains("allowed"));
    let deadline = Instant::now() + Duration::from_secs(90);
    while !leecher.status().complete {
        assert!(
            Instant::now() < deadline,
            "the unblocked downloader did not finish: {:?}; daemon {}",
            leecher.status(),
            blocked_counts(&daemon)
        );
        leecher.add_peer(daemon.listen()).unwrap();
        std::thread::sleep(Duration::from_secs(1));
    }
    swarm.assert_copy(&leech_dir, Duration::from_secs(10));

    // A reload that cannot read a list is refused and the filter in force stays.
    std::fs::remove_file(&cidr).unwrap();
    let refused = daemon.request("POST", "/api/v1/ipfilter/reload", None, b"");
    let message = refused.expect_error(409, "conflict");
    assert!(message.contains("cidr.txt"), "{message}");
    let s = daemon.get("/api/v1/ipfilter").ok();
    assert_eq!(s["ranges_v4"], 3, "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("cidr.txt"), "{s}");
    daemon.terminate();
}
