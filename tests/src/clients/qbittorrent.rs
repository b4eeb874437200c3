//! qBittorrent-nox 4.5 with its own profile (`--profile`), driven over its WebUI API
//! on 127.0.0.1 (no login: `WebUI\LocalHostAuth=false`).
//!
//! `qBittorrent.conf` is written before the first start, or it listens on every
//! interface with DHT, LSD and UPnP on. It dials a peer through
//! `/api/v2/torrents/addPeers`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http;
use super::{Client, Daemon, Kind, Opts, Status, Unsupported};

/// "qBittorrent v4.5.2".
pub fn version() -> String {
    static V: OnceLock<String> = OnceLock::new();
    super::cached(&V, || super::first_line_of("qbittorrent-nox", &["--version"]))
}

/// qBittorrent states in which every piece is there.
const SEEDING_STATES: [&str; 5] = ["uploading", "stalledUP", "queuedUP", "forcedUP", "pausedUP"];

/// qBittorrent states in which the torrent runs and exchanges pieces.
const ACTIVE_STATES: [&str; 6] = [
    "downloading",
    "stalledDL",
    "forcedDL",
    "uploading",
    "stalledUP",
    "forcedUP",
];

pub struct QBittorrent {
    daemon: Mutex<Daemon>,
    ip: Ipv4Addr,
    port: u16,
    api: SocketAddr,
    hash: String,
    _work: tempfile::TempDir,
}

impl QBittorrent {
    /// Seeds `data_dir/<name>`: qBittorrent rechecks it when the torrent is added;
    /// waits until it is seeding.
    pub fn start_seeder(torrent: &Path, data_dir: &Path, opts: &Opts) -> QBittorrent {
        super::when_seeding(Self::start(torrent, data_dir, opts), opts)
    }

    /// Downloads into `out_dir/<name>`; keeps seeding after.
    pub fn start_downloader(torrent: &Path, out_dir: &Path, opts: &Opts) -> QBittorrent {
        super::when_active(Self::start(torrent, out_dir, opts), opts)
    }

    fn start(torrent: &Path, dir: &Path, opts: &Opts) -> QBittorrent {
        std::fs::create_dir_all(dir).unwrap();
        let work = super::work_dir("qbittorrent", opts);
        let profile = work.path().join("profile");
        let config = profile.join("qBittorrent/config");
        std::fs::create_dir_all(&config).unwrap();
        let port = super::free_port();
        let webui_port = super::free_port();
        let conf = format!(
            r"[LegalNotice]
Accepted=true

[BitTorrent]
Session\Port={port}
Session\Interface=lo
Session\InterfaceName=lo
Session\InterfaceAddress={ip}
Session\DHTEnabled=false
Session\LSDEnabled=false
Session\PeXEnabled=false
Session\Encryption=2
Session\BTProtocol=TCP
Session\MultiConnectionsPerIp=true
Session\QueueingSystemEnabled=false
Session\AnonymousModeEnabled=false
Session\DefaultSavePath={dir}
Session\TempPathEnabled=false
Session\AddTorrentPaused=false
Session\TorrentContentLayout=Original
Session\Preallocation=false
Session\GlobalMaxSeedingMinutes=-1
Session\GlobalMaxRatio=-1
Session\AnnounceToAllTrackers=true

[Network]
PortForwardingEnabled=false

[Preferences]
WebUI\Enabled=true
WebUI\Address=127.0.0.1
WebUI\Port={webui_port}
WebUI\LocalHostAuth=false
WebUI\CSRFProtection=false
WebUI\HostHeaderValidation=false
WebUI\ClickjackingProtection=false
Connection\UPnP=false
General\Locale=en
",
            dir = dir.display(),
            ip = opts.listen_ip(),
        );
        std::fs::write(config.join("qBittorrent.conf"), conf).unwrap();
        let mut cmd = Command::new("qbittorrent-nox");
        cmd.arg(format!("--profile={}", profile.display()))
            .arg(format!("--webui-port={webui_port}"))
            .current_dir(work.path())
            .env("HOME", work.path())
            .env("QT_QPA_PLATFORM", "offscreen");
        let mut daemon = Daemon::spawn("qbittorrent", &mut cmd, false);
        daemon.add_log_file(profile.join("qBittorrent/data/logs/qbittorrent.log"));
        let (hash, _) = super::torrent_info(torrent);
        let mut q = QBittorrent {
            daemon: Mutex::new(daemon),
            ip: opts.listen_ip(),
            port,
            api: SocketAddr::from((Ipv4Addr::LOCALHOST, webui_port)),
            hash,
            _work: work,
        };
        let deadline = Instant::now() + opts.start_timeout();
        let up = super::poll(
            deadline.saturating_duration_since(Instant::now()),
            Duration::from_millis(100),
            || {
                if !q.is_running() {
                    return Some(false);
                }
                q.get("/api/v2/app/version")
                    .ok()
                    .filter(|r| r.status == 200)
                    .map(|_| true)
            },
        );
        assert!(
            up == Some(true),
            "qbittorrent WebUI did not come up; logs:\n{}",
            q.logs()
        );
        // The profile must have been taken: check what matters on loopback.
        let prefs = q.get_json("/api/v2/app/preferences");
        for (key, want) in [
            ("listen_port", Value::from(port)),
            ("current_interface_address", Value::from(opts.listen_ip().to_string())),
            ("dht", Value::from(false)),
            ("pex", Value::from(false)),
            ("lsd", Value::from(false)),
            ("upnp", Value::from(false)),
            ("bittorrent_protocol", Value::from(1)),
            ("enable_multi_connections_from_same_ip", Value::from(true)),
        ] {
            assert_eq!(prefs[key], want, "qbittorrent preference {key}: {prefs}");
        }
        assert!(
            super::poll(Duration::from_secs(10), Duration::from_millis(100), || {
                super::accepts(q.listen_addr()).then_some(())
            })
            .is_some(),
            "qbittorrent does not listen on {}; logs:\n{}",
            q.listen_addr(),
            q.logs()
        );
        let torrent_bytes = std::fs::read(torrent).unwrap();
        let dir_text = dir.display().to_string();
        let (content_type, body) = http::multipart(&[
            ("torrents", Some("t.torrent"), &torrent_bytes),
            ("savepath", None, dir_text.as_bytes()),
            ("paused", None, b"false"),
            ("skip_checking", None, b"false"),
            ("contentLayout", None, b"Original"),
        ]);
        let resp = q.post("/api/v2/torrents/add", &content_type, &body);
        assert!(
            resp.status == 200 && resp.text().trim() == "Ok.",
            "qbittorrent torrents/add: HTTP {} {}",
            resp.status,
            resp.text()
        );
        // qBittorrent names a hybrid v1+v2 torrent by its truncated v2 hash: find
        // the id it listed our v1 info-hash under.
        let listed = super::poll(Duration::from_secs(20), Duration::from_millis(100), || {
            let all = q.get_json("/api/v2/torrents/info");
            all.as_array()?
                .iter()
                .find(|t| t["hash"] == q.hash.as_str() || t["infohash_v1"] == q.hash.as_str())
                .and_then(|t| t["hash"].as_str().map(str::to_string))
        });
        q.hash = listed.unwrap_or_else(|| panic!("qbittorrent did not list the torrent; logs:\n{}", q.logs()));
        for peer in &opts.peers {
            q.add_peer(*peer).unwrap();
        }
        q
    }

    fn get(&self, path: &str) -> Result<http::Response, String> {
        http::request(self.api, "GET", path, &[], b"", Duration::from_secs(5))
    }

    fn get_json(&self, path: &str) -> Value {
        let resp = self
            .get(path)
            .unwrap_or_else(|e| panic!("qbittorrent {e}; logs:\n{}", self.logs()));
        resp.json().unwrap_or_else(|e| panic!("qbittorrent GET {path}: {e}"))
    }

    /// POSTs `body` to the WebUI API; panics on a transport error.
    pub fn post(&self, path: &str, content_type: &str, body: &[u8]) -> http::Response {
        http::request(
            self.api,
            "POST",
            path,
            &[("Content-Type", content_type)],
            body,
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("qbittorrent {e}; logs:\n{}", self.logs()))
    }

    /// The torrent's entry in `/api/v2/torrents/info` (null until it is listed).
    pub fn info(&self) -> Value {
        self.get_json(&format!("/api/v2/torrents/info?hashes={}", self.hash))[0].clone()
    }

    /// qBittorrent's id of the torrent it runs: the v1 info-hash (hex), or for a
    /// hybrid v1+v2 torrent the truncated v2 hash.
    pub fn info_hash(&self) -> &str {
        &self.hash
    }
}

impl Client for QBittorrent {
    fn kind(&self) -> Kind {
        Kind::QBittorrent
    }

    fn listen_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    fn add_peer(&self, peer: SocketAddr) -> Result<(), Unsupported> {
        let form = format!(
            "hashes={}&peers={}",
            self.hash,
            http::urlencode(peer.to_string().as_bytes())
        );
        let resp = self.post(
            "/api/v2/torrents/addPeers",
            "application/x-www-form-urlencoded",
            form.as_bytes(),
        );
        assert!(
            resp.status == 200,
            "qbittorrent addPeers {peer}: HTTP {} {}",
            resp.status,
            resp.text()
        );
        Ok(())
    }

    fn status(&self) -> Status {
        let t = self.info();
        let state = t["state"].as_str().unwrap_or("").to_string();
        let total = t["size"].as_u64().unwrap_or(0);
        let done = t["completed"].as_u64().unwrap_or(0);
        let error = (state == "error" || state == "missingFiles").then(|| state.clone());
        Status {
            active: ACTIVE_STATES.contains(&state.as_str()),
            complete: SEEDING_STATES.contains(&state.as_str())
                && t["progress"].as_f64() == Some(1.0)
                && t["amount_left"].as_u64() == Some(0)
                && total > 0,
            state,
            done_bytes: done,
            total_bytes: total,
            peers: t["num_seeds"].as_u64().unwrap_or(0) + t["num_leechs"].as_u64().unwrap_or(0),
            uploaded_bytes: t["uploaded"].as_u64().unwrap_or(0),
            error,
        }
    }

    fn daemon(&self) -> &Mutex<Daemon> {
        &self.daemon
    }
}
