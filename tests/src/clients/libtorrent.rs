//! libtorrent-rasterbar (Debian's `python3-libtorrent`), driven by
//! `tests/scripts/lt_client.py`: JSON arguments in, JSON status lines out,
//! commands (`connect_peer HOST PORT`) on stdin.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Client, Daemon, Kind, Opts, Status, Unsupported};

/// Debian's interpreter: the only one that has the `libtorrent` module.
pub const PYTHON: &str = "/usr/bin/python3";

/// The driver script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_client.py")
}

/// "libtorrent 2.0.8.0".
pub fn version() -> String {
    static V: OnceLock<String> = OnceLock::new();
    super::cached(&V, || {
        let v = super::first_line_of(PYTHON, &["-c", "import libtorrent as lt; print(lt.__version__)"]);
        format!("libtorrent {v}")
    })
}

pub struct Libtorrent {
    daemon: Mutex<Daemon>,
    ip: Ipv4Addr,
    port: u16,
    last: Mutex<Value>,
    _work: tempfile::TempDir,
}

impl Libtorrent {
    /// Seeds `data_dir/<name>`: rechecks it and waits until libtorrent says seeding.
    pub fn start_seeder(torrent: &Path, data_dir: &Path, opts: &Opts) -> Libtorrent {
        super::when_seeding(Self::start(torrent, data_dir, opts), opts)
    }

    /// Downloads into `out_dir/<name>`; keeps seeding after.
    pub fn start_downloader(torrent: &Path, out_dir: &Path, opts: &Opts) -> Libtorrent {
        super::when_active(Self::start(torrent, out_dir, opts), opts)
    }

    fn start(torrent: &Path, dir: &Path, opts: &Opts) -> Libtorrent {
        std::fs::create_dir_all(dir).unwrap();
        let work = super::work_dir("libtorrent", opts);
        let args = json!({
            "outgoing": opts.listen_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            "torrent": torrent,
            "save_path": dir,
            "listen": format!("{}:0", opts.listen_ip()),
            "peers": opts.peers.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        });
        let mut cmd = Command::new(PYTHON);
        cmd.arg(script())
            .arg(args.to_string())
            .current_dir(work.path())
            .env("PYTHONUNBUFFERED", "1");
        let daemon = Daemon::spawn("libtorrent", &mut cmd, true);
        let deadline = Instant::now() + opts.start_timeout();
        let mut port = 0;
        let mut first_status = Value::Null;
        while port == 0 || first_status.is_null() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = daemon.next_line(left.min(Duration::from_millis(500))) else {
                assert!(
                    Instant::now() < deadline && daemon.is_running(),
                    "libtorrent did not start listening; logs:\n{}",
                    daemon.logs()
                );
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            match v["type"].as_str() {
                Some("listening") => port = v["port"].as_u64().unwrap() as u16,
                Some("status") => first_status = v,
                Some("error") => panic!("libtorrent: {}; logs:\n{}", v["msg"], daemon.logs()),
                _ => {}
            }
        }
        Libtorrent {
            daemon: Mutex::new(daemon),
            ip: opts.listen_ip(),
            port,
            last: Mutex::new(first_status),
            _work: work,
        }
    }

    /// Reads every status line printed so far; keeps the newest.
    fn refresh(&self) -> Value {
        let daemon = self.daemon.lock().unwrap();
        let mut last = self.last.lock().unwrap();
        while let Some(line) = daemon.next_line(Duration::ZERO) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["type"] == "status" {
                    *last = v;
                }
            }
        }
        last.clone()
    }

    /// Sends one stdin command to the driver script.
    pub fn command(&self, cmd: &str) {
        self.daemon
            .lock()
            .unwrap()
            .send_line(cmd)
            .unwrap_or_else(|e| panic!("libtorrent: send {cmd:?}: {e}"));
    }

    /// Makes libtorrent announce again now.
    pub fn reannounce(&self) {
        self.command("reannounce");
    }
}

impl Client for Libtorrent {
    fn kind(&self) -> Kind {
        Kind::Libtorrent
    }

    fn listen_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    fn add_peer(&self, peer: SocketAddr) -> Result<(), Unsupported> {
        self.command(&format!("connect_peer {} {}", peer.ip(), peer.port()));
        Ok(())
    }

    fn status(&self) -> Status {
        let v = self.refresh();
        let error = v["error"].as_str().filter(|e| !e.is_empty()).map(String::from);
        Status {
            state: v["state"].as_str().unwrap_or("").to_string(),
            done_bytes: v["total_done"].as_u64().unwrap_or(0),
            total_bytes: v["total_wanted"].as_u64().unwrap_or(0),
            peers: v["peers"].as_u64().unwrap_or(0),
            uploaded_bytes: v["payload_upload"].as_u64().unwrap_or(0),
            active: matches!(v["state"].as_str(), Some("downloading" | "finished" | "seeding")),
            complete: v["is_seeding"] == true && error.is_none(),
            error,
        }
    }

    fn daemon(&self) -> &Mutex<Daemon> {
        &self.daemon
    }
}

/// Makes `out` from `content` (a file or a folder) with libtorrent's
/// `create_torrent` and its defaults: since 2.0 a hybrid v1+v2 torrent whose files
/// are aligned to pieces by BEP 47 padding files (`.pad/N`). Returns the v1 info-hash.
pub fn create_torrent_with_defaults(content: &Path, out: &Path, announce: &str) -> String {
    const SCRIPT: &str = r#"
import os, sys, libtorrent as lt
content, out, announce = sys.argv[1:4]
fs = lt.file_storage()
lt.add_files(fs, content)
t = lt.create_torrent(fs)
t.add_tracker(announce)
lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(content)))
with open(out, "wb") as f:
    f.write(lt.bencode(t.generate()))
"#;
    let output = Command::new(PYTHON)
        .args(["-c", SCRIPT])
        .arg(content)
        .arg(out)
        .arg(announce)
        .output()
        .expect("python3-libtorrent is installed by scripts/install-interop-deps.sh");
    assert!(
        output.status.success(),
        "libtorrent create_torrent failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    super::torrent_info(out).0
}
