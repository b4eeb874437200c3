//! The contestants: ccbt (a process this harness starts itself) and the real
//! clients of `ccbt_tests::clients`, behind one [`Participant`] interface.
//!
//! The client drivers were written for tests and panic on failure; every call into
//! them goes through [`catch`], which turns a panic into an error string, so one
//! client misbehaving fails one run, not the harness.

use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ccbt_tests::clients::{Client, Kind, Opts};
use serde_json::Value;

use crate::jsonproc::JsonProc;
use crate::report::LatencyReport;

/// Runs `f`, turning a panic into `Err(message)`.
pub fn catch<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string());
        format!("{what}: {msg}")
    })
}

/// Who takes part in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Contestant {
    Ccbt,
    Client(KindKey),
}

/// [`Kind`] with an order, so contestants sort and serve as map keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KindKey {
    Libtorrent,
    Transmission,
    QBittorrent,
    Aria2,
    Rqbit,
}

impl KindKey {
    pub fn kind(self) -> Kind {
        match self {
            KindKey::Libtorrent => Kind::Libtorrent,
            KindKey::Transmission => Kind::Transmission,
            KindKey::QBittorrent => Kind::QBittorrent,
            KindKey::Aria2 => Kind::Aria2,
            KindKey::Rqbit => Kind::Rqbit,
        }
    }
}

impl Contestant {
    pub const LIBTORRENT: Contestant = Contestant::Client(KindKey::Libtorrent);
    pub const TRANSMISSION: Contestant = Contestant::Client(KindKey::Transmission);
    pub const QBITTORRENT: Contestant = Contestant::Client(KindKey::QBittorrent);
    pub const ARIA2: Contestant = Contestant::Client(KindKey::Aria2);
    pub const RQBIT: Contestant = Contestant::Client(KindKey::Rqbit);

    pub const ALL: [Contestant; 6] = [
        Contestant::Ccbt,
        Contestant::LIBTORRENT,
        Contestant::RQBIT,
        Contestant::TRANSMISSION,
        Contestant::ARIA2,
        Contestant::QBITTORRENT,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contestant::Ccbt => "ccbt",
            Contestant::Client(k) => k.kind().name(),
        }
    }

    pub fn parse(s: &str) -> Result<Contestant, String> {
        let s = s.trim().to_ascii_lowercase();
        Contestant::ALL
            .into_iter()
            .find(|c| c.name() == s || (s == "qbt" && *c == Contestant::QBITTORRENT))
            .ok_or_else(|| {
                let names: Vec<&str> = Contestant::ALL.iter().map(|c| c.name()).collect();
                format!("unknown client {s:?} (one of: {})", names.join(", "))
            })
    }

    /// Whether it can be made to dial a given peer (at start, or later).
    pub fn can_dial(self) -> bool {
        match self {
            Contestant::Ccbt => true,
            Contestant::Client(k) => k.kind().can_add_peer(),
        }
    }

    /// Whether it can be told to dial a peer *after* it started (what a seeder must
    /// do for a Transmission downloader).
    pub fn can_dial_later(self) -> bool {
        match self {
            Contestant::Ccbt => false,
            Contestant::Client(k) => k.kind().can_add_peer(),
        }
    }
}

/// A snapshot of a participant's torrent(s).
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub done_bytes: u64,
    pub total_bytes: u64,
    pub complete: bool,
    /// When completion was observed, if the participant reports it more precisely
    /// than the poll (ccbt's `complete` line).
    pub completed_at: Option<Instant>,
    pub error: Option<String>,
    /// Connected peers, as the client counts them.
    pub peers: Option<u64>,
    /// The client's state name.
    pub state: String,
    /// ccbt's latency percentiles from its last status line.
    pub latency: Option<LatencyReport>,
}

/// One running participant with one torrent (or, for the many-torrents seeders, a
/// set of them).
pub trait Participant {
    fn contestant(&self) -> Contestant;
    fn pid(&self) -> u32;
    fn listen_addr(&self) -> SocketAddr;
    /// Tells it to dial `peer`.
    fn add_peer(&mut self, peer: SocketAddr) -> Result<(), String>;
    fn progress(&mut self) -> Result<Progress, String>;
    fn is_running(&self) -> bool;
    fn logs(&self) -> String;
}

/// A real client from `ccbt_tests::clients`.
pub struct Real {
    contestant: Contestant,
    client: Box<dyn Client>,
    addr: SocketAddr,
    pid: u32,
}

impl Participant for Real {
    fn contestant(&self) -> Contestant {
        self.contestant
    }

    fn pid(&self) -> u32 {
        self.pid
    }

    fn listen_addr(&self) -> SocketAddr {
        self.addr
    }

    fn add_peer(&mut self, peer: SocketAddr) -> Result<(), String> {
        let name = self.contestant.name();
        catch(&format!("{name} add_peer"), || self.client.add_peer(peer))?.map_err(|e| format!("{name}: {e}"))
    }

    fn progress(&mut self) -> Result<Progress, String> {
        let name = self.contestant.name();
        let st = catch(&format!("{name} status"), || self.client.status())?;
        Ok(Progress {
            done_bytes: st.done_bytes,
            total_bytes: st.total_bytes,
            complete: st.complete,
            completed_at: None,
            error: st.error,
            peers: Some(st.peers),
            state: st.state,
            latency: None,
        })
    }

    fn is_running(&self) -> bool {
        catch("is_running", || self.client.is_running()).unwrap_or(false)
    }

    fn logs(&self) -> String {
        catch("logs", || self.client.logs()).unwrap_or_default()
    }
}

/// A process printing ccbt-style JSON lines: `listening` (with `addr` or `port`),
/// one `complete` per torrent, `status` lines (`verified_bytes`, `total_bytes`).
pub struct JsonPeer {
    contestant: Contestant,
    proc: JsonProc,
    addr: SocketAddr,
    /// Torrents that printed `complete`, and when the last of them did.
    completes: std::collections::HashSet<String>,
    last_complete: Option<Instant>,
    /// How many `complete` lines make it complete.
    want: usize,
    last_status: Option<Value>,
    error: Option<String>,
    /// lt_bench.py `save_resume`: how many resume files it wrote (once all are).
    resume_saved: Option<u64>,
}

impl JsonPeer {
    /// Waits (bounded) for the `listening` line.
    fn start(
        contestant: Contestant,
        proc: JsonProc,
        ip: Ipv4Addr,
        want: usize,
        timeout: Duration,
    ) -> Result<Self, String> {
        let deadline = Instant::now() + timeout;
        let mut peer = JsonPeer {
            contestant,
            proc,
            addr: SocketAddr::from((ip, 0)),
            completes: Default::default(),
            last_complete: None,
            want,
            last_status: None,
            error: None,
            resume_saved: None,
        };
        while peer.addr.port() == 0 {
            peer.pump();
            if peer.addr.port() != 0 {
                break;
            }
            if !peer.proc.is_running() {
                // Let the pipe readers take in what it printed before it died.
                std::thread::sleep(Duration::from_millis(300));
                let status = peer.proc.exit_status();
                return Err(format!(
                    "{} exited before listening ({status:?}); {}",
                    contestant.name(),
                    peer.proc.logs()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen within {timeout:?}; {}",
                    contestant.name(),
                    peer.proc.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(peer)
    }

    fn pump(&mut self) {
        for line in self.proc.drain() {
            let v = line.value;
            match v["type"].as_str() {
                Some("listening") => {
                    if let Some(a) = v["addr"].as_str().and_then(|a| a.parse::<SocketAddr>().ok()) {
                        self.addr = SocketAddr::from((self.addr.ip(), a.port()));
                    } else if let Some(p) = v["port"].as_u64() {
                        self.addr = SocketAddr::from((self.addr.ip(), p as u16));
                    }
                }
                Some("complete") => {
                    let key = v["info_hash"].as_str().unwrap_or("").to_string();
                    if self.completes.insert(key) {
                        self.last_complete = Some(line.at);
                    }
                }
                Some("status") => self.last_status = Some(v),
                Some("resume_saved") => self.resume_saved = v["count"].as_u64(),
                Some("error") | Some("failed") => {
                    let msg = v["msg"].as_str().or_else(|| v["error"].as_str()).unwrap_or("error");
                    self.error = Some(msg.to_string());
                }
                _ => {}
            }
        }
    }

    /// Torrents complete so far, and when the last one completed.
    pub fn completes(&mut self) -> (usize, Option<Instant>) {
        self.pump();
        (self.completes.len(), self.last_complete)
    }

    /// How many resume files lt_bench.py `save_resume` wrote, once it wrote all.
    pub fn resume_saved(&mut self) -> Option<u64> {
        self.pump();
        self.resume_saved
    }
}

impl Participant for JsonPeer {
    fn contestant(&self) -> Contestant {
        self.contestant
    }

    fn pid(&self) -> u32 {
        self.proc.pid()
    }

    fn listen_addr(&self) -> SocketAddr {
        self.addr
    }

    fn add_peer(&mut self, peer: SocketAddr) -> Result<(), String> {
        if self.contestant == Contestant::Ccbt {
            return Err("ccbt takes its peers at start (--peer), not later".to_string());
        }
        // lt_bench.py reads commands on stdin.
        self.proc
            .send_line(&format!("connect_peer {} {}", peer.ip(), peer.port()))
    }

    fn progress(&mut self) -> Result<Progress, String> {
        self.pump();
        let st = self.last_status.as_ref();
        let complete = self.completes.len() >= self.want;
        let total = st.and_then(|s| s["total_bytes"].as_u64()).unwrap_or(0);
        Ok(Progress {
            done_bytes: if complete {
                total.max(st.and_then(|s| s["verified_bytes"].as_u64()).unwrap_or(0))
            } else {
                st.and_then(|s| s["verified_bytes"].as_u64()).unwrap_or(0)
            },
            total_bytes: total,
            complete,
            completed_at: if complete { self.last_complete } else { None },
            error: self.error.clone(),
            peers: st.and_then(|s| s["peers"].as_u64()),
            state: st.and_then(|s| s["state"].as_str()).unwrap_or("").to_string(),
            latency: st.and_then(LatencyReport::from_status),
        })
    }

    fn is_running(&self) -> bool {
        self.proc.is_running()
    }

    fn logs(&self) -> String {
        self.proc.logs()
    }
}

/// What the harness needs to start contestants.
#[derive(Clone, Debug)]
pub struct Env {
    pub ccbt: PathBuf,
    /// Profiles and download folders live under here.
    pub work: PathBuf,
    pub start_timeout: Duration,
}

impl Env {
    fn opts(&self, peers: &[SocketAddr], ip: Ipv4Addr, timeout: Duration) -> Opts {
        Opts {
            peers: peers.to_vec(),
            work_root: Some(self.work.join("profiles")),
            start_timeout: Some(timeout),
            listen_ip: Some(ip),
        }
    }

    fn ccbt_cmd(&self, sources: &[&Path], dir: &Path, peers: &[SocketAddr], ip: Ipv4Addr) -> Command {
        let mut cmd = Command::new(&self.ccbt);
        cmd.args(sources)
            .arg("-o")
            .arg(dir)
            .args(["--seed", "--json", "--listen", &format!("{ip}:0")]);
        for p in peers {
            cmd.arg("--peer").arg(p.to_string());
        }
        cmd.current_dir(&self.work).env_remove("RUST_LOG");
        cmd
    }

    /// Starts `who` seeding `data_dir/<name>` and waits until it seeds (recheck
    /// done), at most `timeout`.
    pub fn start_seeder(
        &self,
        who: Contestant,
        torrent: &Path,
        data_dir: &Path,
        peers: &[SocketAddr],
        ip: Ipv4Addr,
        timeout: Duration,
    ) -> Result<Box<dyn Participant>, String> {
        match who {
            Contestant::Ccbt => {
                let proc = JsonProc::spawn("ccbt", &mut self.ccbt_cmd(&[torrent], data_dir, peers, ip), true, false)?;
                let mut p = JsonPeer::start(who, proc, ip, 1, timeout)?;
                let deadline = Instant::now() + timeout;
                loop {
                    let pr = p.progress()?;
                    if pr.complete {
                        break;
                    }
                    if let Some(e) = pr.error {
                        return Err(format!("ccbt seeder: {e}"));
                    }
                    if !p.is_running() {
                        return Err(format!("ccbt seeder exited; {}", p.logs()));
                    }
                    if Instant::now() > deadline {
                        return Err(format!("ccbt seeder not seeding after {timeout:?}; {}", p.logs()));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(Box::new(p))
            }
            Contestant::Client(k) => {
                let opts = self.opts(peers, ip, timeout);
                let client = catch(&format!("{} seeder", who.name()), || {
                    k.kind().start_seeder(torrent, data_dir, &opts)
                })?;
                Ok(Box::new(real(who, client)?))
            }
        }
    }

    /// Starts `who` downloading into `out_dir/<name>` (it keeps seeding after).
    pub fn start_downloader(
        &self,
        who: Contestant,
        torrent: &Path,
        out_dir: &Path,
        peers: &[SocketAddr],
        ip: Ipv4Addr,
    ) -> Result<Box<dyn Participant>, String> {
        std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
        match who {
            Contestant::Ccbt => {
                let proc = JsonProc::spawn("ccbt", &mut self.ccbt_cmd(&[torrent], out_dir, peers, ip), true, false)?;
                Ok(Box::new(JsonPeer::start(who, proc, ip, 1, self.start_timeout)?))
            }
            Contestant::Client(k) => {
                let opts = self.opts(peers, ip, self.start_timeout);
                let client = catch(&format!("{} downloader", who.name()), || {
                    k.kind().start_downloader(torrent, out_dir, &opts)
                })?;
                Ok(Box::new(real(who, client)?))
            }
        }
    }

    fn lt_bench(&self, args: &Value, parse_status: bool) -> Result<JsonProc, String> {
        let mut cmd = Command::new(ccbt_tests::clients::libtorrent::PYTHON);
        cmd.arg(lt_bench_script())
            .arg(args.to_string())
            .current_dir(&self.work)
            .env("PYTHONUNBUFFERED", "1");
        // stdin stays open: the script exits when it closes.
        JsonProc::spawn("libtorrent (lt_bench.py)", &mut cmd, parse_status, true)
    }

    /// A libtorrent downloader whose outgoing connections come from `ip` (the
    /// tests' driver leaves them unbound, so they come from 127.0.0.1): several of
    /// them are different peers to a seeder that keys peers by IP (Transmission).
    pub fn start_lt_bound_downloader(
        &self,
        torrent: &Path,
        out_dir: &Path,
        peers: &[SocketAddr],
        ip: Ipv4Addr,
    ) -> Result<Box<dyn Participant>, String> {
        std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
        let args = serde_json::json!({
            "mode": "download",
            "torrent": torrent,
            "save_path": out_dir,
            "listen": format!("{ip}:0"),
            "peers": peers.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        });
        // A libtorrent that dies silently at start (seen about once in 40 fan-out runs,
        // no output) is a fault of the fixed downloader, not of the contestant: once more.
        let mut retried = false;
        loop {
            let proc = self.lt_bench(&args, true)?;
            match JsonPeer::start(Contestant::LIBTORRENT, proc, ip, 1, self.start_timeout) {
                Ok(peer) => return Ok(Box::new(peer)),
                Err(e) if !retried && e.contains("exited before listening") => {
                    eprintln!("ccbt-bench: {e}; starting it once more");
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts a seeder of every torrent in `torrent_dir` with data in `data_dir`,
    /// without waiting: the caller times the load. ccbt gets the folder as its
    /// source; libtorrent runs `bench/scripts/lt_bench.py`.
    pub fn start_many_seeder(
        &self,
        who: Contestant,
        torrent_dir: &Path,
        data_dir: &Path,
        count: usize,
        ip: Ipv4Addr,
    ) -> Result<JsonPeer, String> {
        let proc = match who {
            Contestant::Ccbt => JsonProc::spawn(
                "ccbt",
                &mut self.ccbt_cmd(&[torrent_dir], data_dir, &[], ip),
                false,
                false,
            )?,
            Contestant::Client(KindKey::Libtorrent) => {
                let args = serde_json::json!({
                    "mode": "seed_dir",
                    "torrent_dir": torrent_dir,
                    "save_path": data_dir,
                    "listen": format!("{ip}:0"),
                });
                self.lt_bench(&args, false)?
            }
            other => return Err(format!("{} has no many-torrents driver here", other.name())),
        };
        JsonPeer::start(who, proc, ip, count, self.start_timeout)
    }
}

/// What a libtorrent of the restart scenario does with its resume folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LtResume {
    /// Adds every `.torrent`, and once all seed writes each one's resume data.
    Save,
    /// Adds every torrent from its resume data (a restart).
    Seed,
}

impl Env {
    /// Starts libtorrent (lt_bench.py) saving or seeding from resume data in
    /// `resume_dir`, without waiting beyond its `listening` line: the caller times
    /// the load.
    pub fn start_lt_resume(
        &self,
        what: LtResume,
        torrent_dir: &Path,
        resume_dir: &Path,
        data_dir: &Path,
        count: usize,
        ip: Ipv4Addr,
    ) -> Result<JsonPeer, String> {
        let args = serde_json::json!({
            "mode": match what {
                LtResume::Save => "save_resume",
                LtResume::Seed => "seed_resume",
            },
            "torrent_dir": torrent_dir,
            "resume_dir": resume_dir,
            "save_path": data_dir,
            "listen": format!("{ip}:0"),
        });
        let proc = self.lt_bench(&args, false)?;
        JsonPeer::start(Contestant::LIBTORRENT, proc, ip, count, self.start_timeout)
    }
}

/// `bench/scripts/lt_bench.py`.
pub fn lt_bench_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_bench.py")
}

fn real(who: Contestant, client: Box<dyn Client>) -> Result<Real, String> {
    let addr = catch("listen_addr", || client.listen_addr())?;
    let pid = catch("pid", || client.pid())?;
    Ok(Real {
        contestant: who,
        client,
        addr,
        pid,
    })
}

/// The version line of a contestant, or why it cannot run here.
pub fn version(who: Contestant, ccbt: &Path) -> Result<String, String> {
    match who {
        Contestant::Ccbt => {
            let out = Command::new(ccbt)
                .arg("--version")
                .output()
                .map_err(|e| format!("{}: {e}", ccbt.display()))?;
            if !out.status.success() {
                return Err(format!("{} --version failed", ccbt.display()));
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        Contestant::Client(k) => {
            let v = catch(who.name(), || k.kind().version())?;
            if v.is_empty() {
                Err(format!(
                    "{} is not installed (scripts/install-interop-deps.sh)",
                    who.name()
                ))
            } else {
                Ok(v)
            }
        }
    }
}
