//! A ccbt daemon this harness starts itself (`btbt daemon start --foreground
//! --json` on loopback, API and peer ports picked by the OS) and talks to over its
//! control API (docs/api.md), for the restart scenario.
//!
//! Dropping it kills the daemon by its pid (SIGKILL): that is the crash the restart
//! scenario measures recovery from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::jsonproc::JsonProc;

/// Seconds one API request may take (a list of 10,000 torrents included).
const REQUEST_TIMEOUT_SECS: u64 = 30;

/// A running `btbt daemon start --foreground`.
pub struct DaemonProc {
    proc: JsonProc,
    /// `http://127.0.0.1:PORT/api/v1`.
    api: String,
    listen: SocketAddr,
    token: String,
}

/// How to start a daemon: the same every time, so a restart finds its state.
#[derive(Clone, Debug)]
pub struct DaemonSetup {
    pub btbt: PathBuf,
    pub state_dir: PathBuf,
    pub download_dir: PathBuf,
    /// `--config FILE`, when it runs with more than the defaults.
    pub config: Option<PathBuf>,
    /// The working directory of the process.
    pub work: PathBuf,
}

impl DaemonSetup {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.btbt);
        cmd.arg("--api")
            .arg("127.0.0.1:0")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(["daemon", "start", "--foreground", "--json", "--listen", "127.0.0.1:0"])
            .arg("--download-dir")
            .arg(&self.download_dir);
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        cmd.current_dir(&self.work)
            .env_remove("RUST_LOG")
            .env_remove("CCBT_API");
        cmd
    }
}

impl DaemonProc {
    /// Starts the daemon and waits (at most `timeout`) for its start line, which
    /// names the API and peer addresses; the token is then read from the state dir.
    pub fn start(setup: &DaemonSetup, timeout: Duration) -> Result<DaemonProc, String> {
        let mut proc = JsonProc::spawn("ccbt daemon", &mut setup.command(), false, false)?;
        let deadline = Instant::now() + timeout;
        let (api, listen) = loop {
            if let Some(found) = proc.drain().into_iter().find_map(|l| start_line(&l.value)) {
                break found?;
            }
            if !proc.is_running() {
                std::thread::sleep(Duration::from_millis(300));
                let status = proc.exit_status();
                return Err(format!(
                    "ccbt daemon exited before its start line ({status:?}); {}",
                    proc.logs()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "ccbt daemon printed no start line within {timeout:?}; {}",
                    proc.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let token_path = setup.state_dir.join("api.token");
        let token = std::fs::read_to_string(&token_path)
            .map_err(|e| format!("{}: {e}", token_path.display()))?
            .trim()
            .to_string();
        Ok(DaemonProc {
            proc,
            api: format!("{}/api/v1", api.trim_end_matches('/')),
            listen,
            token,
        })
    }

    /// `http://127.0.0.1:PORT`: the API port's root (the compatibility APIs live
    /// beside `/api/v1`).
    pub fn api_root(&self) -> &str {
        self.api.trim_end_matches("/api/v1")
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    pub fn is_running(&self) -> bool {
        self.proc.is_running()
    }

    pub fn logs(&self) -> String {
        self.proc.logs()
    }

    /// `kill -9` by its pid, and reaped.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// `POST /torrents` with the `.torrent` file's bytes; the new torrent's id.
    pub fn add_torrent_file(&self, torrent: &Path) -> Result<u64, String> {
        let bytes = std::fs::read(torrent).map_err(|e| format!("{}: {e}", torrent.display()))?;
        let url = format!("{}/torrents", self.api);
        let resp = minreq::post(&url)
            .with_header("Authorization", format!("Bearer {}", self.token))
            .with_header("Content-Type", "application/x-bittorrent")
            .with_body(bytes)
            .with_timeout(REQUEST_TIMEOUT_SECS)
            .send()
            .map_err(|e| format!("POST {url} ({}): {e}", torrent.display()))?;
        let v = json_answer(&url, resp)?;
        v["id"]
            .as_u64()
            .ok_or_else(|| format!("POST {url} ({}): no id in the answer {v}", torrent.display()))
    }

    /// `GET {route}` (under `/api/v1`) as JSON.
    pub fn get(&self, route: &str) -> Result<Value, String> {
        let url = format!("{}{route}", self.api);
        let resp = minreq::get(&url)
            .with_header("Authorization", format!("Bearer {}", self.token))
            .with_timeout(REQUEST_TIMEOUT_SECS)
            .send()
            .map_err(|e| format!("GET {url}: {e}"))?;
        json_answer(&url, resp)
    }

    /// Torrents the daemon holds and how many of them seed (`GET /stats`).
    pub fn seeding(&self) -> Result<(u64, u64), String> {
        let stats = self.get("/stats")?;
        seeding_of(&stats)
    }
}

/// `(api url, peer address)` from a `daemon_started` line; None for other lines.
fn start_line(v: &Value) -> Option<Result<(String, SocketAddr), String>> {
    if v["event"].as_str() != Some("daemon_started") {
        return None;
    }
    let api = v["api"].as_str().map(str::to_string);
    let listen = v["listen"].as_str().and_then(|s| s.parse::<SocketAddr>().ok());
    Some(match (api, listen) {
        (Some(a), Some(l)) => Ok((a, l)),
        _ => Err(format!("ccbt daemon: start line without api or listen address: {v}")),
    })
}

/// `(torrents, seeding)` from a `SessionStats`.
fn seeding_of(stats: &Value) -> Result<(u64, u64), String> {
    let total = stats["torrents"].as_u64().ok_or_else(|| {
        format!(
            "GET /stats: no `torrents` count in {}",
            crate::report::truncate(&stats.to_string(), 300)
        )
    })?;
    let seeding = stats["by_state"]["seeding"].as_u64().unwrap_or(0);
    Ok((total, seeding))
}

fn json_answer(url: &str, resp: minreq::Response) -> Result<Value, String> {
    let code = resp.status_code;
    let body = resp.as_bytes();
    if !(200..300).contains(&code) {
        return Err(format!(
            "{url}: HTTP {code}: {}",
            crate::report::truncate(&String::from_utf8_lossy(body), 300)
        ));
    }
    serde_json::from_slice(body).map_err(|e| format!("{url}: the answer is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_start_line() {
        let line = json!({"event": "daemon_started", "pid": 7, "api": "http://127.0.0.1:4000",
            "listen": "127.0.0.1:5000", "shards": 2, "state_dir": "/s"});
        let (api, listen) = start_line(&line).unwrap().unwrap();
        assert_eq!(api, "http://127.0.0.1:4000");
        assert_eq!(listen, "127.0.0.1:5000".parse::<SocketAddr>().unwrap());
        assert!(start_line(&json!({"type": "status"})).is_none());
        let bad = start_line(&json!({"event": "daemon_started", "api": "http://x"})).unwrap();
        assert!(bad.unwrap_err().contains("listen"));
    }

    #[test]
    fn counts_seeding_from_stats() {
        let stats = json!({"torrents": 10, "by_state": {"seeding": 7, "checking": 3}});
        assert_eq!(seeding_of(&stats).unwrap(), (10, 7));
        let none_yet = json!({"torrents": 10, "by_state": {"checking": 10}});
        assert_eq!(seeding_of(&none_yet).unwrap(), (10, 0));
        assert!(seeding_of(&json!({"by_state": {}})).unwrap_err().contains("torrents"));
    }
}
