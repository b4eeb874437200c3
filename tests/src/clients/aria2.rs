//! aria2 1.36: `aria2c` with the torrent on its command line and JSON-RPC on
//! 127.0.0.1 for status.
//!
//! aria2 cannot be told to dial a peer (no option or RPC method for it): it dials
//! the peers its trackers return (127.0.0.1 ones included) and accepts incoming
//! connections. `--stop-with-process` makes it exit if the test process dies.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http;
use super::{Client, Daemon, Kind, Opts, Status, Unsupported};

/// "aria2 version 1.36.0".
pub fn version() -> String {
    static V: OnceLock<String> = OnceLock::new();
    super::cached(&V, || super::first_line_of("aria2c", &["--version"]))
}

/// The GID given to the one download of each aria2 process.
const GID: &str = "cc00000000000001";

pub struct Aria2 {
    daemon: Mutex<Daemon>,
    ip: Ipv4Addr,
    port: u16,
    rpc: SocketAddr,
    _work: tempfile::TempDir,
}

impl Aria2 {
    /// Seeds `data_dir/<name>`: `--check-integrity` hashes it first; waits until
    /// aria2 says it is a seeder.
    pub fn start_seeder(torrent: &Path, data_dir: &Path, opts: &Opts) -> Aria2 {
        super::when_seeding(Self::start(torrent, data_dir, opts), opts)
    }

    /// Downloads into `out_dir/<name>`; keeps seeding after (`--seed-ratio=0.0`).
    pub fn start_downloader(torrent: &Path, out_dir: &Path, opts: &Opts) -> Aria2 {
        super::when_active(Self::start(torrent, out_dir, opts), opts)
    }

    fn start(torrent: &Path, dir: &Path, opts: &Opts) -> Aria2 {
        assert!(
            opts.peers.is_empty(),
            "aria2 cannot be told to dial peers: it dials what its trackers return"
        );
        std::fs::create_dir_all(dir).unwrap();
        let work = super::work_dir("aria2", opts);
        let port = super::free_port();
        let rpc_port = super::free_port();
        let log = work.path().join("aria2.log");
        let mut cmd = Command::new("aria2c");
        cmd.args([
            "--no-conf=true",
            "--enable-rpc=true",
            "--rpc-listen-all=false",
            &format!("--rpc-listen-port={rpc_port}"),
            &format!("--listen-port={port}"),
            &format!("--interface={}", opts.listen_ip()),
            "--disable-ipv6=true",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--bt-min-crypto-level=plain",
            "--bt-require-crypto=false",
            "--check-integrity=true",
            "--bt-hash-check-seed=true",
            "--bt-seed-unverified=false",
            "--seed-ratio=0.0",
            "--file-allocation=falloc",
            "--auto-file-renaming=false",
            "--allow-overwrite=true",
            "--summary-interval=0",
            "--enable-color=false",
            "--console-log-level=notice",
            "--log-level=info",
            &format!("--stop-with-process={}", std::process::id()),
            &format!("--gid={GID}"),
        ])
        .arg(format!("--log={}", log.display()))
        .arg(format!("--dir={}", dir.display()))
        .arg(torrent)
        .current_dir(work.path())
        .env("HOME", work.path());
        let mut daemon = Daemon::spawn("aria2", &mut cmd, false);
        daemon.add_log_file(log);
        let a = Aria2 {
            daemon: Mutex::new(daemon),
            ip: opts.listen_ip(),
            port,
            rpc: SocketAddr::from((Ipv4Addr::LOCALHOST, rpc_port)),
            _work: work,
        };
        let deadline = Instant::now() + opts.start_timeout();
        let up = super::poll(
            deadline.saturating_duration_since(Instant::now()),
            Duration::from_millis(100),
            || {
                if !a.is_running() {
                    return Some(false);
                }
                a.try_call("aria2.getVersion", json!([])).ok().map(|_| true)
            },
        );
        assert!(up == Some(true), "aria2 RPC did not come up; logs:\n{}", a.logs());
        assert!(
            super::poll(Duration::from_secs(10), Duration::from_millis(100), || {
                super::accepts(a.listen_addr()).then_some(())
            })
            .is_some(),
            "aria2 does not listen on {}; logs:\n{}",
            a.listen_addr(),
            a.logs()
        );
        a
    }

    /// Calls a JSON-RPC method; returns `result` or the error.
    pub fn try_call(&self, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({ "jsonrpc": "2.0", "id": "ccbt", "method": method, "params": params });
        let resp = http::request(
            self.rpc,
            "POST",
            "/jsonrpc",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
            Duration::from_secs(5),
        )?;
        let v = resp.json()?;
        if let Some(e) = v.get("error") {
            return Err(format!("{method}: {e}"));
        }
        Ok(v["result"].clone())
    }

    /// `aria2.tellStatus` of the download.
    pub fn tell_status(&self) -> Value {
        self.try_call(
            "aria2.tellStatus",
            json!([
                GID,
                [
                    "status",
                    "completedLength",
                    "totalLength",
                    "connections",
                    "seeder",
                    "uploadLength",
                    "errorCode",
                    "errorMessage",
                    "verifiedLength",
                    "verifyIntegrityPending"
                ]
            ]),
        )
        .unwrap_or_else(|e| panic!("aria2 RPC: {e}; logs:\n{}", self.logs()))
    }
}

fn num(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

impl Client for Aria2 {
    fn kind(&self) -> Kind {
        Kind::Aria2
    }

    fn listen_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    fn add_peer(&self, _peer: SocketAddr) -> Result<(), Unsupported> {
        Err(Unsupported(
            "aria2 has no way to dial a given peer: it dials the peers its trackers return",
        ))
    }

    fn status(&self) -> Status {
        let t = self.tell_status();
        let status = t["status"].as_str().unwrap_or("").to_string();
        let done = num(&t["completedLength"]);
        let total = num(&t["totalLength"]);
        let checking = t.get("verifiedLength").is_some() || t["verifyIntegrityPending"].as_str() == Some("true");
        let error = (status == "error").then(|| {
            format!(
                "error {}: {}",
                t["errorCode"].as_str().unwrap_or(""),
                t["errorMessage"].as_str().unwrap_or("")
            )
        });
        Status {
            active: !checking && status == "active",
            complete: !checking
                && total > 0
                && done == total
                && ((status == "active" && t["seeder"] == "true") || status == "complete"),
            state: if checking { "checking".to_string() } else { status },
            done_bytes: done,
            total_bytes: total,
            peers: num(&t["connections"]),
            uploaded_bytes: num(&t["uploadLength"]),
            error,
        }
    }

    fn daemon(&self) -> &Mutex<Daemon> {
        &self.daemon
    }
}
