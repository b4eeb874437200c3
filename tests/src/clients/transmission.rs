//! Transmission 3.00: `transmission-daemon -f` with its own `settings.json`, driven
//! over its JSON RPC on 127.0.0.1.
//!
//! It cannot be told to dial a peer (no such RPC in 3.00) and it never dials the
//! 127.0.0.x peers a tracker returns, so whoever talks to it must dial it. It keys
//! peers by IP, so a seeding Transmission refuses a second 127.0.0.1 downloader after
//! the first one finished: start one per downloader.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http;
use super::{Client, Daemon, Kind, Opts, Status, Unsupported};

/// "transmission-daemon 3.00 (bb6b5a062e)".
pub fn version() -> String {
    static V: OnceLock<String> = OnceLock::new();
    super::cached(&V, || super::first_line_of("transmission-daemon", &["--version"]))
}

/// Transmission's torrent status codes (RPC `status`).
pub const STATUS_STOPPED: i64 = 0;
pub const STATUS_CHECK_WAIT: i64 = 1;
pub const STATUS_CHECK: i64 = 2;
pub const STATUS_DOWNLOAD: i64 = 4;
pub const STATUS_SEED: i64 = 6;

pub struct Transmission {
    daemon: Mutex<Daemon>,
    ip: Ipv4Addr,
    peer_port: u16,
    rpc: SocketAddr,
    session_id: Mutex<String>,
    torrent_id: i64,
    _work: tempfile::TempDir,
}

impl Transmission {
    /// Seeds `data_dir/<name>`: Transmission verifies the data when the torrent is
    /// added; waits until it is seeding.
    pub fn start_seeder(torrent: &Path, data_dir: &Path, opts: &Opts) -> Transmission {
        let t = Self::start(torrent, data_dir, opts);
        let deadline = Instant::now() + opts.start_timeout();
        super::wait_for(&t, "seeding after verify", deadline, |st| st.complete);
        t.settle(deadline);
        t
    }

    /// Downloads into `out_dir/<name>`; keeps seeding after. Some other client must
    /// dial [`Client::listen_addr`].
    pub fn start_downloader(torrent: &Path, out_dir: &Path, opts: &Opts) -> Transmission {
        let t = Self::start(torrent, out_dir, opts);
        // Until its (empty) verify is done it resets incoming peers for the torrent.
        let deadline = Instant::now() + opts.start_timeout();
        super::wait_for(&t, "an active torrent", deadline, |st| st.active);
        t.settle(deadline);
        t
    }

    /// Transmission resets incoming connections for about the first second after a
    /// torrent starts (a third of the dials made at once failed; none after its first
    /// announce or 1.2 s, in 40 tries), and the other side may never redial: wait
    /// until every tracker was announced to, and at least 1.5 s since it started.
    fn settle(&self, deadline: Instant) {
        let started = Instant::now();
        self.wait_announced(deadline);
        std::thread::sleep(Duration::from_millis(1500).saturating_sub(started.elapsed()));
    }

    /// Waits until every tracker of the torrent has been announced to (whatever
    /// the answer); returns at once for a torrent without trackers.
    pub fn wait_announced(&self, deadline: Instant) {
        loop {
            let t = self.torrent();
            let stats = t["trackerStats"].as_array().cloned().unwrap_or_default();
            if stats.iter().all(|s| s["hasAnnounced"] == true) {
                return;
            }
            assert!(
                Instant::now() < deadline && self.is_running(),
                "transmission did not announce: {stats:?}; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start(torrent: &Path, dir: &Path, opts: &Opts) -> Transmission {
        assert!(
            opts.peers.is_empty(),
            "Transmission cannot be told to dial peers: have them dial it"
        );
        std::fs::create_dir_all(dir).unwrap();
        let work = super::work_dir("transmission", opts);
        let config = work.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        let peer_port = super::free_port();
        let rpc_port = super::free_port();
        let settings = json!({
            "bind-address-ipv4": opts.listen_ip().to_string(),
            // IPv6 cannot be turned off: keep it on loopback.
            "bind-address-ipv6": "::1",
            "peer-port": peer_port,
            "peer-port-random-on-start": false,
            "port-forwarding-enabled": false,
            "dht-enabled": false,
            "lpd-enabled": false,
            "pex-enabled": false,
            "utp-enabled": false,
            // 0: prefer plaintext, accept encrypted.
            "encryption": 0,
            "rpc-enabled": true,
            "rpc-bind-address": "127.0.0.1",
            "rpc-port": rpc_port,
            "rpc-authentication-required": false,
            "rpc-whitelist-enabled": true,
            "rpc-whitelist": "127.0.0.1",
            "rpc-host-whitelist-enabled": false,
            "download-dir": dir,
            "incomplete-dir-enabled": false,
            "rename-partial-files": false,
            "start-added-torrents": true,
            "watch-dir-enabled": false,
            "download-queue-enabled": false,
            "seed-queue-enabled": false,
            "queue-stalled-enabled": false,
            "ratio-limit-enabled": false,
            "idle-seeding-limit-enabled": false,
            "speed-limit-down-enabled": false,
            "speed-limit-up-enabled": false,
            "alt-speed-enabled": false,
            "blocklist-enabled": false,
            "message-level": 2,
            "umask": 18,
        });
        std::fs::write(
            config.join("settings.json"),
            serde_json::to_string_pretty(&settings).unwrap(),
        )
        .unwrap();
        let mut cmd = Command::new("transmission-daemon");
        cmd.arg("-f")
            .arg("-g")
            .arg(&config)
            // CCBT_INTEROP_DEBUG=1: Transmission's debug log in the failure messages.
            .arg(if std::env::var_os("CCBT_INTEROP_DEBUG").is_some() {
                "--log-debug"
            } else {
                "--log-info"
            })
            .current_dir(work.path())
            .env("HOME", work.path())
            .env("TRANSMISSION_HOME", &config);
        let daemon = Daemon::spawn("transmission", &mut cmd, false);
        let mut t = Transmission {
            daemon: Mutex::new(daemon),
            ip: opts.listen_ip(),
            peer_port,
            rpc: SocketAddr::from((Ipv4Addr::LOCALHOST, rpc_port)),
            session_id: Mutex::new(String::new()),
            torrent_id: 0,
            _work: work,
        };
        let deadline = Instant::now() + opts.start_timeout();
        let up = super::poll(
            deadline.saturating_duration_since(Instant::now()),
            Duration::from_millis(100),
            || {
                if !t.is_running() {
                    return Some(false);
                }
                t.try_rpc("session-get", json!({})).ok().map(|_| true)
            },
        );
        assert!(
            up == Some(true),
            "transmission RPC did not come up; logs:\n{}",
            t.logs()
        );
        assert!(
            super::poll(Duration::from_secs(10), Duration::from_millis(100), || {
                super::accepts(t.listen_addr()).then_some(())
            })
            .is_some(),
            "transmission does not listen on {}; logs:\n{}",
            t.listen_addr(),
            t.logs()
        );
        let added = t.rpc(
            "torrent-add",
            json!({ "filename": torrent, "download-dir": dir, "paused": false }),
        );
        let entry = added
            .get("torrent-added")
            .or_else(|| added.get("torrent-duplicate"))
            .unwrap_or_else(|| panic!("transmission torrent-add: {added}"));
        t.torrent_id = entry["id"].as_i64().unwrap();
        t
    }

    /// Calls an RPC method; returns `arguments`, or an error text.
    pub fn try_rpc(&self, method: &str, arguments: Value) -> Result<Value, String> {
        let body = json!({ "method": method, "arguments": arguments }).to_string();
        for _ in 0..3 {
            let sid = self.session_id.lock().unwrap().clone();
            let resp = http::request(
                self.rpc,
                "POST",
                "/transmission/rpc",
                &[
                    ("X-Transmission-Session-Id", &sid),
                    ("Content-Type", "application/json"),
                ],
                body.as_bytes(),
                Duration::from_secs(5),
            )?;
            if resp.status == 409 {
                let new = resp
                    .header("X-Transmission-Session-Id")
                    .ok_or("409 without a session id")?;
                *self.session_id.lock().unwrap() = new;
                continue;
            }
            if resp.status != 200 {
                return Err(format!("HTTP {}: {}", resp.status, resp.text()));
            }
            let v = resp.json()?;
            if v["result"] != "success" {
                return Err(format!("{method}: {v}"));
            }
            return Ok(v["arguments"].clone());
        }
        Err("session id kept changing".into())
    }

    /// Like [`Transmission::try_rpc`], panicking with the logs on error.
    pub fn rpc(&self, method: &str, arguments: Value) -> Value {
        self.try_rpc(method, arguments)
            .unwrap_or_else(|e| panic!("transmission RPC {method}: {e}; logs:\n{}", self.logs()))
    }

    /// The torrent's fields from `torrent-get`.
    pub fn torrent(&self) -> Value {
        let v = self.rpc(
            "torrent-get",
            json!({
                "ids": [self.torrent_id],
                "fields": ["id", "hashString", "status", "percentDone", "leftUntilDone",
                           "haveValid", "sizeWhenDone", "peersConnected", "error",
                           "errorString", "recheckProgress", "trackerStats", "uploadedEver"],
            }),
        );
        v["torrents"][0].clone()
    }
}

impl Client for Transmission {
    fn kind(&self) -> Kind {
        Kind::Transmission
    }

    fn listen_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.peer_port))
    }

    fn add_peer(&self, _peer: SocketAddr) -> Result<(), Unsupported> {
        Err(Unsupported(
            "Transmission 3.00 has no RPC to dial a peer: have the peer dial it",
        ))
    }

    fn status(&self) -> Status {
        let t = self.torrent();
        let status = t["status"].as_i64().unwrap_or(-1);
        let size = t["sizeWhenDone"].as_u64().unwrap_or(0);
        let valid = t["haveValid"].as_u64().unwrap_or(0);
        let error_code = t["error"].as_i64().unwrap_or(0);
        let error =
            (error_code != 0).then(|| format!("error {error_code}: {}", t["errorString"].as_str().unwrap_or("")));
        let state = match status {
            STATUS_STOPPED => "stopped".to_string(),
            STATUS_CHECK_WAIT => "check-wait".to_string(),
            STATUS_CHECK => "checking".to_string(),
            3 => "download-wait".to_string(),
            STATUS_DOWNLOAD => "downloading".to_string(),
            5 => "seed-wait".to_string(),
            STATUS_SEED => "seeding".to_string(),
            n => format!("status {n}"),
        };
        Status {
            state,
            done_bytes: valid,
            total_bytes: size,
            peers: t["peersConnected"].as_u64().unwrap_or(0),
            uploaded_bytes: t["uploadedEver"].as_u64().unwrap_or(0),
            // error 3 is a local (disk) error; 1 and 2 are tracker warnings/errors.
            active: status == STATUS_DOWNLOAD || status == STATUS_SEED,
            complete: status == STATUS_SEED
                && size > 0
                && valid == size
                && t["leftUntilDone"].as_u64() == Some(0)
                && error_code != 3,
            error,
        }
    }

    fn daemon(&self) -> &Mutex<Daemon> {
        &self.daemon
    }
}
