//! Peer exchange (BEP 11) with libtorrent: three peers on loopback and no tracker.
//!
//! - S, a ccbt seeder of a two-file torrent (`--no-pex`);
//! - L, libtorrent with PEX on, told to dial S and wanting only the first file (and
//!   `close_redundant_connections` off), so it stays connected to S and never has
//!   the second;
//! - D, a ccbt downloader given only L (`--peer`). The second file exists only at S,
//!   so D completes only by learning S's address from L's `ut_pex` message, and its
//!   status counts that connection under `pex`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use ccbt_tests::{assert_same_tree, btbt_create, start_seeder, write_random_file, Downloader, Proc};

const TIMEOUT: Duration = Duration::from_secs(90);
const FILE_LEN: u64 = 4 * 1024 * 1024;

#[test]
fn ccbt_learns_a_seeder_from_libtorrents_pex_and_completes_from_it() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("seed").join("payload");
    write_random_file(&content.join("first.bin"), FILE_LEN, 101);
    write_random_file(&content.join("second.bin"), FILE_LEN, 102);
    let torrent = tmp.path().join("payload.torrent");
    // No tracker: the only ways to a peer are `--peer` and PEX.
    btbt_create(&content, &torrent, &["--piece-size", "65536"]);

    // S keeps PEX off: told about D by L, it would dial D first, and D would count
    // that connection as incoming rather than learned through PEX.
    let (_seeder, seeder_addr) = start_seeder(&[&torrent], &tmp.path().join("seed"), &["--no-pex"]);

    let l_dir = tmp.path().join("libtorrent");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_extension_peer.py");
    let args = serde_json::json!({
        "torrent": torrent,
        "save_path": l_dir,
        "listen": "127.0.0.1:0",
        "peers": [seeder_addr],
        "pex": true,
        "file_priorities": [4, 0],
    });
    let mut lt = Proc::spawn_program(
        "libtorrent",
        Path::new("/usr/bin/python3"),
        &[script.to_str().unwrap(), &args.to_string()],
    );
    let listening = lt.wait_json("libtorrent listens", TIMEOUT, |v| v["type"] == "listening");
    let l_addr = format!("127.0.0.1:{}", listening["port"]);
    lt.wait_json("libtorrent has the first file", TIMEOUT, |v| v["type"] == "complete");
    assert!(
        !l_dir.join("payload").join("second.bin").exists()
            || std::fs::metadata(l_dir.join("payload").join("second.bin"))
                .unwrap()
                .len()
                < FILE_LEN,
        "libtorrent must not hold the second file"
    );

    let out = tmp.path().join("out");
    // Slow enough that a status line shows the PEX peer while it serves the second file.
    let mut d = Downloader::new(&torrent, &out)
        .peer(&l_addr)
        .args(&["--download-limit", "2M"])
        .spawn();
    let status = d.wait_json("a peer learned through PEX", TIMEOUT, |v| {
        v["type"] == "status" && v["peers_by_source"]["pex"].as_u64().unwrap_or(0) >= 1
    });
    assert_eq!(
        status["peers_by_source"]["manual"], 1,
        "libtorrent, given by --peer: {status}"
    );
    let exit = d.wait_exit(TIMEOUT);
    assert!(exit.success(), "ccbt failed: {}", d.stderr());
    assert_same_tree(&content, &out.join("payload"));
    let last = d.last_of("status").expect("status lines");
    assert!(
        last["extensions"]["pex_addresses_received"].as_u64().unwrap() >= 1,
        "{last}"
    );
}
