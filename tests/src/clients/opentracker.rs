//! opentracker (Debian's build, whitelist-only) on 127.0.0.1, TCP and UDP on one
//! free port, chrooted to a folder of its own holding the whitelist.
//!
//! Its announce interval is 1900 s and it lists the announcing peer itself: a
//! client that announced first learns of no later one, so tests have the later
//! client dial the earlier one (or tell the earlier one to dial).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ccbt_engine::bencode;

use super::http;
use super::{Daemon, Opts};

pub struct Opentracker {
    daemon: Daemon,
    port: u16,
    whitelist: PathBuf,
    allowed: Mutex<Vec<String>>,
    _work: tempfile::TempDir,
}

/// Peer counts of one torrent from a scrape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scrape {
    pub complete: i64,
    pub incomplete: i64,
    /// `completed` events the tracker has counted.
    pub downloaded: i64,
}

fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len() == 40, "info-hash must be 40 hex digits: {hex}");
    (0..20)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex info-hash"))
        .collect()
}

impl Opentracker {
    /// Starts opentracker on 127.0.0.1:free port (TCP and UDP) with an empty whitelist.
    pub fn start() -> Opentracker {
        Self::start_with(&Opts::default())
    }

    /// Like [`Opentracker::start`], with the work folder under `opts.work_root`.
    pub fn start_with(opts: &Opts) -> Opentracker {
        let work = super::work_dir("opentracker", opts);
        // The chroot: readable by `nobody`, which opentracker becomes after chroot.
        let chroot = work.path().join("chroot");
        std::fs::create_dir_all(&chroot).unwrap();
        let whitelist = chroot.join("whitelist");
        std::fs::write(&whitelist, "").unwrap();
        let port = super::free_port();
        let mut cmd = Command::new("opentracker");
        cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-P", &port.to_string()])
            .arg("-d")
            .arg(&chroot)
            // Relative to the chroot (or to the working dir when chroot is not allowed).
            .args(["-w", "whitelist"])
            .current_dir(&chroot);
        let daemon = Daemon::spawn("opentracker", &mut cmd, false);
        let t = Opentracker {
            daemon,
            port,
            whitelist,
            allowed: Mutex::new(Vec::new()),
            _work: work,
        };
        let up = super::poll(Duration::from_secs(10), Duration::from_millis(50), || {
            if !t.daemon.is_running() {
                return Some(false);
            }
            super::accepts(t.addr()).then_some(true)
        });
        assert!(
            up == Some(true),
            "opentracker did not start on {}; logs:\n{}",
            t.addr(),
            t.daemon.logs()
        );
        t
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// `http://127.0.0.1:PORT/announce`.
    pub fn announce_url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    /// `udp://127.0.0.1:PORT/announce` (BEP 15, same port).
    pub fn udp_announce_url(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }

    pub fn logs(&self) -> String {
        self.daemon.logs()
    }

    /// Adds an info-hash (hex) to the whitelist, sends SIGHUP to opentracker's pid and
    /// waits (at most 10 s) until an announce for it is accepted. The probe announce
    /// is withdrawn at once (`event=stopped`), so it leaves no peer behind.
    pub fn allow(&self, info_hash: &str) {
        let hash = info_hash.to_ascii_lowercase();
        unhex(&hash);
        {
            let mut allowed = self.allowed.lock().unwrap();
            if !allowed.contains(&hash) {
                allowed.push(hash.clone());
            }
            let text: String = allowed.iter().map(|h| format!("{h}\n")).collect();
            let tmp = self.whitelist.with_extension("tmp");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, &self.whitelist).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = Command::new("kill")
                .args(["-HUP", &self.daemon.pid().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "kill -HUP {} failed", self.daemon.pid());
            let accepted = super::poll(Duration::from_secs(1), Duration::from_millis(50), || {
                self.probe(&hash).then_some(())
            });
            if accepted.is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "opentracker still refuses {hash} after SIGHUP; logs:\n{}",
                self.daemon.logs()
            );
        }
    }

    fn announce(&self, hash: &str, event: Option<&str>, numwant: u32) -> Result<http::Response, String> {
        let mut path = format!(
            "/announce?info_hash={}&peer_id={}&port=1&uploaded=0&downloaded=0&left=0&compact=1&numwant={numwant}",
            http::urlencode(&unhex(hash)),
            http::urlencode(b"-CC0000-probe-000000"),
        );
        if let Some(e) = event {
            path.push_str("&event=");
            path.push_str(e);
        }
        http::request(self.addr(), "GET", &path, &[], b"", Duration::from_secs(5))
    }

    fn probe(&self, hash: &str) -> bool {
        let Ok(resp) = self.announce(hash, Some("started"), 0) else {
            return false;
        };
        let ok = resp.status == 200 && !resp.text().contains("failure reason");
        if ok {
            let withdrawn = self.announce(hash, Some("stopped"), 0);
            assert!(
                withdrawn.is_ok_and(|r| r.status == 200),
                "opentracker: withdrawing the probe announce failed"
            );
        }
        ok
    }

    /// The peers (IPv4 address and port, as the tracker saw them announce) it lists
    /// for `info_hash` (hex): one announce as a probe peer, withdrawn at once.
    pub fn peers(&self, info_hash: &str) -> Vec<SocketAddr> {
        let hash = info_hash.to_ascii_lowercase();
        let resp = self
            .announce(&hash, Some("started"), 200)
            .unwrap_or_else(|e| panic!("opentracker announce: {e}"));
        let _ = self.announce(&hash, Some("stopped"), 0);
        let v = bencode::decode(&resp.body).unwrap_or_else(|e| panic!("opentracker announce: {e:?}: {}", resp.text()));
        let compact = v
            .as_dict()
            .and_then(|d| d.get(&b"peers"[..]))
            .and_then(|p| p.as_bytes())
            .unwrap_or_else(|| panic!("opentracker announce without compact peers: {}", resp.text()));
        compact
            .chunks_exact(6)
            .map(|c| SocketAddr::from((Ipv4Addr::new(c[0], c[1], c[2], c[3]), u16::from_be_bytes([c[4], c[5]]))))
            .filter(|a| a.port() != 1)
            .collect()
    }

    /// Seeders and leechers the tracker knows for `info_hash` (hex).
    pub fn scrape(&self, info_hash: &str) -> Scrape {
        let raw = unhex(&info_hash.to_ascii_lowercase());
        let path = format!("/scrape?info_hash={}", http::urlencode(&raw));
        let resp = http::request(self.addr(), "GET", &path, &[], b"", Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("opentracker scrape: {e}"));
        let v = bencode::decode(&resp.body).unwrap_or_else(|e| panic!("opentracker scrape: {e:?}: {}", resp.text()));
        let entry = v
            .as_dict()
            .and_then(|d| d.get(&b"files"[..]))
            .and_then(|f| f.as_dict())
            .and_then(|f| f.get(&raw));
        let count = |key: &[u8]| {
            entry
                .and_then(|e| e.as_dict())
                .and_then(|e| e.get(key))
                .and_then(|n| n.as_int())
                .unwrap_or(0)
        };
        Scrape {
            complete: count(b"complete"),
            incomplete: count(b"incomplete"),
            downloaded: count(b"downloaded"),
        }
    }

    /// Waits until the tracker knows at least `seeders` seeders for `info_hash`:
    /// a client that announces after that is told about them. Panics after `timeout`.
    pub fn wait_seeders(&self, info_hash: &str, seeders: i64, timeout: Duration) {
        self.wait_count(info_hash, "seeders", seeders, timeout, |s| s.complete);
    }

    /// Waits until the tracker knows at least `leechers` downloaders for `info_hash`
    /// (a client that never dials tracker peers has announced). Panics after `timeout`.
    pub fn wait_leechers(&self, info_hash: &str, leechers: i64, timeout: Duration) {
        self.wait_count(info_hash, "leechers", leechers, timeout, |s| s.incomplete);
    }

    fn wait_count(&self, info_hash: &str, what: &str, n: i64, timeout: Duration, count: fn(&Scrape) -> i64) {
        let got = super::poll(timeout, Duration::from_millis(100), || {
            (count(&self.scrape(info_hash)) >= n).then_some(())
        });
        assert!(
            got.is_some(),
            "opentracker: fewer than {n} {what} announced {info_hash} within {timeout:?}: {:?}",
            self.scrape(info_hash)
        );
    }
}
