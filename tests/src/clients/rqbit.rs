//! rqbit 9.1 (`cargo install rqbit --locked --version 9.1.0`): `rqbit server start`
//! without persistence, the torrent added and watched over its HTTP API on
//! 127.0.0.1.
//!
//! `rqbit download` would be simpler but its HTTP API is read-only, so it could not
//! be told to dial a peer later: the server's API has `POST /torrents/{hash}/add_peers`.
//! uTP is off by default in rqbit; PEX cannot be turned off (no option).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http;
use super::{Client, Daemon, Kind, Opts, Status, Unsupported};

/// "rqbit 9.1.0".
pub fn version() -> String {
    static V: OnceLock<String> = OnceLock::new();
    super::cached(&V, || super::first_line_of("rqbit", &["--version"]))
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

pub struct Rqbit {
    daemon: Mutex<Daemon>,
    ip: Ipv4Addr,
    port: u16,
    api: SocketAddr,
    hash: String,
    /// Just before the torrent was posted (rqbit answers a magnet's add only once
    /// it has the metadata).
    added_at: Mutex<Option<Instant>>,
    _work: tempfile::TempDir,
}

impl Rqbit {
    /// Seeds `data_dir/<name>` (added with `overwrite=true`, so the data is rechecked
    /// and used); waits until rqbit says finished.
    pub fn start_seeder(torrent: &Path, data_dir: &Path, opts: &Opts) -> Rqbit {
        super::when_seeding(Self::start(torrent, data_dir, opts), opts)
    }

    /// Downloads into `out_dir/<name>`; keeps seeding after.
    pub fn start_downloader(torrent: &Path, out_dir: &Path, opts: &Opts) -> Rqbit {
        super::when_active(Self::start(torrent, out_dir, opts), opts)
    }

    /// Downloads a magnet link into `out_dir/<name>` (the metadata fetched from the
    /// link's `x.pe` peers or `opts.peers`); returns once the link is added.
    pub fn start_magnet_downloader(magnet: &str, info_hash: &str, out_dir: &Path, opts: &Opts) -> Rqbit {
        Self::start_with(magnet.as_bytes().to_vec(), info_hash.to_string(), out_dir, opts)
    }

    fn start(torrent: &Path, dir: &Path, opts: &Opts) -> Rqbit {
        let (hash, _) = super::torrent_info(torrent);
        Self::start_with(std::fs::read(torrent).unwrap(), hash, dir, opts)
    }

    /// `body`: what `POST /torrents` takes (a .torrent's bytes or a magnet link).
    fn start_with(body: Vec<u8>, hash: String, dir: &Path, opts: &Opts) -> Rqbit {
        std::fs::create_dir_all(dir).unwrap();
        let work = super::work_dir("rqbit", opts);
        assert!(
            opts.listen_ip() == Ipv4Addr::LOCALHOST,
            "rqbit listens on --listen-ip but dials and announces from 127.0.0.1: it cannot be another 127.0.0.x"
        );
        let port = super::free_port();
        let api_port = super::free_port();
        let mut cmd = Command::new("rqbit");
        cmd.args([
            "--listen-ip",
            &opts.listen_ip().to_string(),
            "--listen-port",
            &port.to_string(),
            // Listening on a loopback address, rqbit announces port 4240 unless told.
            "--announce-port",
            &port.to_string(),
            "--ipv4-only",
            "--disable-upnp-port-forward",
            "--disable-lsd",
            "--disable-dht",
            "--disable-dht-persistence",
            "--http-api-listen-addr",
            &format!("127.0.0.1:{api_port}"),
        ]);
        if running_as_root() {
            // SO_BINDTODEVICE needs CAP_NET_RAW; it also keeps the tracker UDP socket on lo.
            cmd.args(["--bind-device", "lo"]);
        }
        cmd.args(["server", "start", "--disable-persistence"])
            .arg(dir)
            .current_dir(work.path())
            .env("HOME", work.path())
            .env("XDG_CONFIG_HOME", work.path().join("config"))
            .env("XDG_DATA_HOME", work.path().join("data"))
            .env("XDG_CACHE_HOME", work.path().join("cache"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let daemon = Daemon::spawn("rqbit", &mut cmd, false);
        let r = Rqbit {
            daemon: Mutex::new(daemon),
            ip: opts.listen_ip(),
            port,
            api: SocketAddr::from((Ipv4Addr::LOCALHOST, api_port)),
            hash,
            added_at: Mutex::new(None),
            _work: work,
        };
        let deadline = Instant::now() + opts.start_timeout();
        let up = super::poll(
            deadline.saturating_duration_since(Instant::now()),
            Duration::from_millis(100),
            || {
                if !r.is_running() {
                    return Some(false);
                }
                r.request("GET", "/", b"")
                    .ok()
                    .filter(|resp| resp.status == 200)
                    .map(|_| true)
            },
        );
        assert!(up == Some(true), "rqbit HTTP API did not come up; logs:\n{}", r.logs());
        assert!(
            super::poll(Duration::from_secs(10), Duration::from_millis(100), || {
                super::accepts(r.listen_addr()).then_some(())
            })
            .is_some(),
            "rqbit does not listen on {}; logs:\n{}",
            r.listen_addr(),
            r.logs()
        );
        let mut path = "/torrents?overwrite=true".to_string();
        if !opts.peers.is_empty() {
            let peers: Vec<String> = opts.peers.iter().map(|p| p.to_string()).collect();
            path.push_str("&initial_peers=");
            path.push_str(&http::urlencode(peers.join(",").as_bytes()));
        }
        *r.added_at.lock().unwrap() = Some(Instant::now());
        let resp = r
            .request("POST", &path, &body)
            .unwrap_or_else(|e| panic!("rqbit add: {e}; logs:\n{}", r.logs()));
        assert!(
            resp.status == 200,
            "rqbit POST /torrents: HTTP {} {}; logs:\n{}",
            resp.status,
            resp.text(),
            r.logs()
        );
        r
    }

    /// When the torrent was posted to rqbit.
    pub fn added_at(&self) -> Option<Instant> {
        *self.added_at.lock().unwrap()
    }

    /// One request to the HTTP API.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Result<http::Response, String> {
        http::request(
            self.api,
            method,
            path,
            &[("Content-Type", "application/octet-stream")],
            body,
            Duration::from_secs(30),
        )
    }

    /// `GET /torrents/{hash}/stats/v1`.
    pub fn stats(&self) -> Value {
        let resp = self
            .request("GET", &format!("/torrents/{}/stats/v1", self.hash), b"")
            .unwrap_or_else(|e| panic!("rqbit stats: {e}; logs:\n{}", self.logs()));
        assert!(resp.status == 200, "rqbit stats: HTTP {} {}", resp.status, resp.text());
        resp.json().unwrap()
    }
}

impl Client for Rqbit {
    fn kind(&self) -> Kind {
        Kind::Rqbit
    }

    fn listen_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    fn add_peer(&self, peer: SocketAddr) -> Result<(), Unsupported> {
        let resp = self
            .request(
                "POST",
                &format!("/torrents/{}/add_peers", self.hash),
                peer.to_string().as_bytes(),
            )
            .unwrap_or_else(|e| panic!("rqbit add_peers: {e}; logs:\n{}", self.logs()));
        assert!(
            resp.status == 200,
            "rqbit add_peers {peer}: HTTP {} {}",
            resp.status,
            resp.text()
        );
        Ok(())
    }

    fn status(&self) -> Status {
        let s = self.stats();
        let state = s["state"].as_str().unwrap_or("").to_string();
        let done = s["progress_bytes"].as_u64().unwrap_or(0);
        let total = s["total_bytes"].as_u64().unwrap_or(0);
        let error = s["error"].as_str().map(String::from);
        Status {
            active: state == "live",
            complete: state == "live" && s["finished"] == true && total > 0 && done == total && error.is_none(),
            state,
            done_bytes: done,
            total_bytes: total,
            peers: s["live"]["snapshot"]["peer_stats"]["live"].as_u64().unwrap_or(0),
            uploaded_bytes: s["uploaded_bytes"].as_u64().unwrap_or(0),
            error,
        }
    }

    fn daemon(&self) -> &Mutex<Daemon> {
        &self.daemon
    }
}
