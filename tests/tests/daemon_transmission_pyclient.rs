//! The download manager's flow (what Sonarr/Radarr do through their Transmission
//! client) run by the PyPI `transmission-rpc` client against a ccbt daemon: add a
//! torrent with a label and a download dir, poll until it is complete (downloaded
//! from a real seeder found through a tracker), set a ratio limit, see the torrent
//! stop (status 0) once a downloader took enough from it, and remove it with its data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ccbt_tests::clients::{Opentracker, Opts};
use ccbt_tests::daemon_runs::{payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::{assert_same_file, pyenv, start_seeder_on, Downloader};

const LEN: u64 = 4 << 20;
const PIECE: u64 = 64 * 1024;
/// The whole script may take this long.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

const SCRIPT: &str = r#"
import sys, time
from transmission_rpc import Client

port, torrent, save = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def until(what, pred, limit=120):
    deadline = time.time() + limit
    while True:
        t = pred()
        if t is not None:
            return t
        if time.time() > deadline:
            print("TIMEOUT", what, flush=True)
            sys.exit(3)
        time.sleep(0.2)

c = Client(host="127.0.0.1", port=port, timeout=30)
session = c.get_session()
print("SESSION", session.version, session.rpc_version, flush=True)
with open(torrent, "rb") as f:
    added = c.add_torrent(f, download_dir=save, labels=["sonarr"])
print("ADDED", added.id, added.hashString, flush=True)

def complete():
    t = c.get_torrent(added.id)
    return t if t.percent_done >= 1.0 and t.status == "seeding" else None

t = until("completion", complete)
print("COMPLETE", t.download_dir, ",".join(t.labels), t.left_until_done, flush=True)
c.change_torrent(added.id, seed_ratio_limit=0.5, seed_ratio_mode=1)
t = c.get_torrent(added.id)
print("LIMIT", t.seed_ratio_limit, int(t.seed_ratio_mode), flush=True)

def stopped():
    t = c.get_torrent(added.id)
    return t if t.status == "stopped" else None

t = until("the ratio stop", stopped)
print("STOPPED", t.ratio, t.is_finished, flush=True)
c.remove_torrent(added.id, delete_data=True)
print("REMOVED", len(c.get_torrents()), flush=True)
"#;

/// The script's process, killed by its pid if the test ends early.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn transmission_rpc_client_runs_the_download_manager_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let tracker = Opentracker::start_with(&Opts::default());
    let seed_dir = tmp.path().join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let (torrent, hash) = payload_torrent(
        &seed_dir,
        "episode.mkv",
        LEN,
        21,
        PIECE,
        &["--tracker", &tracker.announce_url()],
    );
    tracker.allow(&hash);
    // Everyone on 127.0.0.1: opentracker hands out the address an announce came from.
    let (seeder, _seeder_addr) = start_seeder_on(&[&torrent], &seed_dir, "127.0.0.1:0", &[]);

    let daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "ccbt"));
    let save = tmp.path().join("tv");
    std::fs::create_dir_all(&save).unwrap();
    let script = tmp.path().join("arr_flow.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut child = KillOnDrop(
        Command::new(pyenv::python())
            .arg(&script)
            .arg(daemon.opts.api_port.to_string())
            .arg(&torrent)
            .arg(&save)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the venv's python"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let mut seen: Vec<String> = Vec::new();
    let next = |prefix: &str, seen: &mut Vec<String>| -> String {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                    assert!(!line.starts_with("TIMEOUT"), "the script gave up: {seen:?}");
                }
                Err(_) => panic!("no {prefix} line from the script; saw {seen:?}"),
            }
        }
    };
    let session = next("SESSION", &mut seen);
    assert!(session.starts_with("SESSION 4.0.6 (ccbt"), "{session}");
    let added = next("ADDED", &mut seen);
    assert!(added.ends_with(&hash), "{added}");
    let complete = next("COMPLETE", &mut seen);
    assert_eq!(complete, format!("COMPLETE {} sonarr 0", save.display()));
    assert_same_file(&seed_dir.join("episode.mkv"), &save.join("episode.mkv"));
    let limit = next("LIMIT", &mut seen);
    assert_eq!(limit, "LIMIT 0.5 1", "{limit}");

    // The only source left is the daemon: a downloader takes the payload from it
    // until the daemon's upload passes the ratio limit of 0.5 and it stops seeding.
    drop(seeder);
    let out = tmp.path().join("leech");
    let leecher = Downloader::new(&torrent, &out).peer(daemon.listen()).spawn();
    let stopped = next("STOPPED", &mut seen);
    drop(leecher);
    let fields: Vec<&str> = stopped.split(' ').collect();
    let ratio: f64 = fields[1].parse().unwrap();
    assert!(ratio >= 0.5, "{stopped}");
    assert_eq!(
        fields[2], "True",
        "a torrent stopped by its ratio is finished: {stopped}"
    );
    let removed = next("REMOVED", &mut seen);
    assert_eq!(removed, "REMOVED 0");
    assert!(!save.join("episode.mkv").exists(), "the data is deleted");
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert!(status.success(), "the script failed: {seen:?}\n{err}");
    let _ = (daemon, tracker);
}
