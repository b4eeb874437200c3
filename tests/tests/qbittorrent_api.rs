//! The qBittorrent Web API of a real daemon, driven by the PyPI `qbittorrent-api`
//! client as a download manager (Sonarr, Radarr) drives qBittorrent: log in, add a
//! torrent with a category (and its save path) and tags, wait for it to complete
//! from a real `ccbt` seeder, follow `sync/maindata` incrementally, set a share
//! limit and see the torrent stop at it, delete it with its files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ccbt_tests::ccbt_runs::spawn_seeder;
use ccbt_tests::daemon_runs::{payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::pyenv;

const LEN: u64 = 3 << 20;
const PIECE: u64 = 64 * 1024;
const SEEDER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);
const DAEMON_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 6);
/// How long the whole client script may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

const SCRIPT: &str = r#"
import hashlib, sys, time
import qbittorrentapi
import requests

base, torrent_path, save_path, source = sys.argv[1:5]

def wait(what, pred, timeout=120):
    deadline = time.time() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.time() > deadline:
            raise SystemExit("timed out waiting for " + what)
        time.sleep(0.3)

# Auth: no cookie is a 403, a wrong password fails, the right one logs in.
assert requests.get(base + "/api/v2/app/version", timeout=20).status_code == 403
bad = qbittorrentapi.Client(host=base, username="admin", password="nope", REQUESTS_ARGS={"timeout": 20})
try:
    bad.auth_log_in()
    raise SystemExit("a wrong password logged in")
except qbittorrentapi.LoginFailed:
    pass
c = qbittorrentapi.Client(host=base, username="admin", password="s3cret-pass", REQUESTS_ARGS={"timeout": 20})
c.auth_log_in()
assert c.app.version.startswith("v5"), c.app.version
assert c.app.web_api_version >= "2.11", c.app.web_api_version
prefs = c.app.preferences
for key in ("save_path", "max_ratio_enabled", "max_ratio", "max_seeding_time_enabled", "queueing_enabled", "dht"):
    assert key in prefs, key

c.torrents_create_category(name="tv-sonarr", save_path=save_path)
assert c.torrents_categories()["tv-sonarr"]["savePath"] == save_path
full = c.sync_maindata(rid=0)
assert full.get("full_update") is True
assert "tv-sonarr" in full["categories"]

assert c.torrents_add(torrent_files=torrent_path, category="tv-sonarr", tags="hd,auto") == "Ok."
t = wait("the torrent to complete", lambda: next(
    (t for t in c.torrents_info(category="tv-sonarr") if t.progress >= 1 and t.state in ("stalledUP", "uploading")), None))
assert t.save_path == save_path, t.save_path
assert t.category == "tv-sonarr", t.category
assert sorted(x.strip() for x in t.tags.split(",")) == ["auto", "hd"], t.tags
assert t.amount_left == 0 and t.size == t.total_size
files = c.torrents_files(torrent_hash=t.hash)
assert len(files) == 1 and files[0]["progress"] == 1
assert "hd" in c.torrents_tags()
data_file = save_path + "/" + files[0]["name"]
with open(data_file, "rb") as f, open(source, "rb") as g:
    assert hashlib.sha1(f.read()).digest() == hashlib.sha1(g.read()).digest(), "downloaded bytes differ"

# sync/maindata: a full answer, then only the stopped torrent's state.
base_md = c.sync_maindata(rid=0)
assert t.hash in base_md["torrents"]
rid = base_md["rid"]
c.torrents_stop(torrent_hashes=t.hash)
def stopped_delta():
    md = c.sync_maindata(rid=rid)
    got = md.get("torrents", {})
    return md if got.get(t.hash, {}).get("state") == "stoppedUP" else None
md = wait("maindata to show the stop", stopped_delta, 30)
assert not md.get("full_update"), md
assert list(md["torrents"].keys()) == [t.hash], md
assert "name" not in md["torrents"][t.hash], md
rid = md["rid"]
quiet = c.sync_maindata(rid=rid)
assert not quiet.get("torrents") and not quiet.get("full_update"), quiet

# A share limit: resumed, then stopped by its ratio (nothing uploaded yet: ratio 0 >= 0).
c.torrents_start(torrent_hashes=t.hash)
wait("the torrent to run", lambda: c.torrents_info(torrent_hashes=t.hash)[0].state in ("stalledUP", "uploading"), 60)
c.torrents_set_share_limits(ratio_limit=0, seeding_time_limit=-1, inactive_seeding_time_limit=-2, torrent_hashes=t.hash)
after = wait("the ratio limit to stop it", lambda: next(
    (x for x in c.torrents_info(torrent_hashes=t.hash) if x.state == "stoppedUP"), None), 60)
assert after.ratio_limit == 0, after.ratio_limit

# Delete with its files; the next delta names it removed.
rid = c.sync_maindata(rid=0)["rid"]
c.torrents_delete(delete_files=True, torrent_hashes=t.hash)
removed = wait("maindata to show the removal", lambda: (lambda md: md if t.hash in md.get("torrents_removed", []) else None)(c.sync_maindata(rid=rid)), 30)
wait("the files to go", lambda: not __import__("os").path.exists(data_file), 30)
assert c.torrents_info() == []
c.auth_log_out()
print("QBT-FLOW-OK")
"#;

#[test]
fn qbittorrent_api_client_runs_the_download_manager_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let (torrent, _hash) = payload_torrent(
        &seed_dir,
        "episode.mkv",
        LEN,
        21,
        PIECE,
        &["--tracker", "http://127.0.0.1:9/announce"],
    );
    let opts = DaemonOpts::new(tmp.path(), "qbt")
        .listen_ip(DAEMON_IP)
        .config("[api.qbittorrent]\nusername = \"admin\"\npassword = \"s3cret-pass\"\n");
    let daemon = DaemonUnderTest::start(opts);
    // The seeder dials the daemon (and dials again until the daemon has the torrent).
    let daemon_peer = daemon.listen().to_string();
    let seeder_listen = format!("{SEEDER_IP}:0");
    let _seeder = spawn_seeder(
        &[torrent.as_path()],
        &seed_dir,
        &seeder_listen,
        &["--peer", &daemon_peer],
    );

    let save = tmp.path().join("tv");
    let script = tmp.path().join("flow.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let api = daemon.api_url();
    let source = seed_dir.join("episode.mkv");
    let output = run_bounded(
        &pyenv::python(),
        &[
            script.as_os_str(),
            api.as_ref(),
            torrent.as_os_str(),
            save.as_os_str(),
            source.as_os_str(),
        ],
        SCRIPT_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("QBT-FLOW-OK"),
        "the qbittorrent-api flow failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!save.join("episode.mkv").exists(), "deleteFiles left the data on disk");
    assert!(tmp.path().join("qbt-state").join("categories.json").exists());
    assert_dir_has_no_payload(&save);
}

/// Runs `program args` to its end, killed by coreutils `timeout` (its own child
/// only) past `limit`.
fn run_bounded(program: &Path, args: &[&std::ffi::OsStr], limit: Duration) -> std::process::Output {
    Command::new("timeout")
        .args(["-s", "KILL", &limit.as_secs().to_string()])
        .arg(program)
        .args(args)
        .output()
        .expect("run python under timeout")
}

fn assert_dir_has_no_payload(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        let left: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
    }
}
