//! The magnet scenario: one libtorrent seeder, and each contestant joins it from a
//! magnet link naming the seeder (`x.pe`, and the client's own way to add a peer):
//! seconds from the add to the metadata, to the first verified piece and to the last.
//! ccbt also runs from the `.torrent`, to show what the metadata phase costs.
//!
//! How each is timed, from the add (the process start for ccbt):
//! - ccbt: metadata = its `started` line (the metadata arrived and the empty folder
//!   was checked); first piece = the first block of data on disk, polled every 2 ms
//!   (ccbt writes verified pieces only, into sparse files); complete = its
//!   `complete` line.
//! - libtorrent (`bench/scripts/lt_magnet.py`): its own alerts
//!   (`metadata_received`, the first `piece_finished`, `torrent_finished`), timed
//!   from `async_add_torrent`.
//! - rqbit: its HTTP API polled every 5 ms from the `POST /torrents` of the link
//!   (rqbit answers that post once it has the metadata): metadata = total size
//!   known, first piece = `progress_bytes` > 0, complete = `finished`.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ccbt_tests::clients::rqbit::Rqbit;
use ccbt_tests::clients::{Client, Opts};
use serde_json::json;

use crate::data::{self, Dataset};
use crate::jsonproc::JsonProc;
use crate::participant::{catch, Contestant};
use crate::report::{truncate, Metric, RunResult, ScenarioResult};

use super::{log, Harness};

/// How often ccbt's output folder and rqbit's API are looked at.
const DISK_POLL: Duration = Duration::from_millis(2);
const API_POLL: Duration = Duration::from_millis(5);

/// When each milestone was reached, in seconds from the add.
#[derive(Clone, Copy, Debug, Default)]
struct Milestones {
    metadata: Option<f64>,
    first_piece: Option<f64>,
    complete: Option<f64>,
}

impl Milestones {
    fn into_run(self, name: &str, rep: usize, bytes: u64) -> RunResult {
        let mut run = RunResult::new(name, rep);
        run.ok = self.complete.is_some();
        run.bytes = bytes;
        if let Some(s) = self.metadata {
            run.set(Metric::Metadata, s);
        }
        if let Some(s) = self.first_piece {
            run.set(Metric::FirstPiece, s);
        }
        if let Some(s) = self.complete {
            run.set(Metric::Wall, s);
            if s > 0.0 {
                run.set(Metric::Rate, bytes as f64 / s / crate::report::MB);
            }
        }
        run
    }
}

/// Blocks of data written under `dir` (sparse files hold none until written).
fn blocks_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => blocks_under(&e.path()),
            Ok(m) => m.blocks(),
            Err(_) => 0,
        })
        .sum()
}

impl Harness {
    /// Runs the magnet scenario on `ds`.
    pub(super) fn magnet(&mut self, ds: &Dataset) -> ScenarioResult {
        let title = format!(
            "magnet: {} single file, {} pieces, libtorrent seeding; seconds to metadata, first verified piece, complete",
            data::human(ds.total_bytes),
            data::human(u64::from(ds.piece_length))
        );
        let mut sc = self.new_scenario("magnet", title, "not measured (times only)", ds.total_bytes);
        sc.columns = vec![Metric::Metadata, Metric::FirstPiece, Metric::Wall, Metric::Rate];
        sc.spread_of = vec![Metric::Metadata, Metric::FirstPiece];
        sc.ratio_of = vec![Metric::Metadata, Metric::FirstPiece];
        sc.notes.push(
            "ccbt is timed from its process start, libtorrent from async_add_torrent, rqbit from the POST of the link"
                .to_string(),
        );
        let seeder = match self.start_local_seeder(Contestant::LIBTORRENT, &ds.torrent, ds) {
            Ok((s, ready)) => {
                sc.notes.push(format!("libtorrent seeder ready after {ready:.1} s"));
                s
            }
            Err(e) => {
                sc.notes.push(format!("libtorrent seeder: {}", truncate(&e, 400)));
                return sc;
            }
        };
        let seeder_addr = seeder.listen_addr();
        let link = format!("magnet:?xt=urn:btih:{}&dn={}&x.pe={seeder_addr}", ds.info_hash, ds.name);
        let timeout = self.run_timeout(ds.total_bytes);
        let runners: [(&str, Contestant); 4] = [
            ("ccbt", Contestant::Ccbt),
            ("ccbt .torrent", Contestant::Ccbt),
            ("libtorrent", Contestant::LIBTORRENT),
            ("rqbit", Contestant::RQBIT),
        ];
        for rep in 0..self.cfg.repeats {
            for (name, who) in runners {
                if let Err(e) = self.available(who) {
                    sc.skipped.insert(name.to_string(), e);
                    continue;
                }
                let out = self
                    .env
                    .work
                    .join(format!("magnet-{}-{rep}", name.replace([' ', '.'], "")));
                crate::util::remove_tree(&out);
                if let Err(e) = std::fs::create_dir_all(&out) {
                    sc.runs
                        .push(RunResult::failed(name, rep, format!("{}: {e}", out.display())));
                    continue;
                }
                log(&format!("magnet: {name} (run {}/{})", rep + 1, self.cfg.repeats));
                let result = match name {
                    "ccbt" => self.ccbt_milestones(&link, &out, seeder_addr, timeout),
                    "ccbt .torrent" => {
                        self.ccbt_milestones(&ds.torrent.display().to_string(), &out, seeder_addr, timeout)
                    }
                    "libtorrent" => self.lt_milestones(&link, &out, timeout),
                    _ => self.rqbit_milestones(&link, &ds.info_hash, &out, seeder_addr, timeout),
                };
                let mut run = match result {
                    Ok(m) => m.into_run(name, rep, ds.total_bytes),
                    Err(e) => RunResult::failed(name, rep, truncate(&e, 600)),
                };
                if run.ok && self.cfg.verify {
                    let torrent = &ds.torrent;
                    let verified = crate::util::verify(&self.cfg.btbt, torrent, &out, timeout).is_ok();
                    run.verified = Some(verified);
                    run.ok = verified;
                }
                log(&format!(
                    "magnet: {name}: metadata {:?} s, first piece {:?} s, complete {:?} s{}",
                    run.get(Metric::Metadata),
                    run.get(Metric::FirstPiece),
                    run.get(Metric::Wall),
                    run.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                ));
                sc.runs.push(run);
                crate::util::remove_tree(&out);
            }
        }
        drop(seeder);
        sc
    }

    /// One-shot `ccbt SOURCE --peer SEEDER` until its `complete` line.
    fn ccbt_milestones(
        &self,
        source: &str,
        out: &Path,
        seeder: SocketAddr,
        timeout: Duration,
    ) -> Result<Milestones, String> {
        let mut cmd = Command::new(&self.env.ccbt);
        cmd.arg(source)
            .arg("-o")
            .arg(out)
            .args(["--json", "--listen", "127.0.0.1:0", "--peer", &seeder.to_string()])
            .current_dir(&self.env.work)
            .env_remove("RUST_LOG");
        let start = Instant::now();
        let mut proc = JsonProc::spawn("ccbt", &mut cmd, true, false)?;
        let mut m = Milestones::default();
        let since = |at: Instant| at.saturating_duration_since(start).as_secs_f64();
        while start.elapsed() < timeout {
            for line in proc.drain() {
                match line.value["type"].as_str() {
                    Some("metadata") if m.metadata.is_none() => m.metadata = Some(since(line.at)),
                    Some("started") if m.metadata.is_none() => m.metadata = Some(since(line.at)),
                    Some("complete") => m.complete = Some(since(line.at)),
                    Some("error") => {
                        return Err(format!("ccbt: {}", line.value["error"].as_str().unwrap_or("error")));
                    }
                    _ => {}
                }
            }
            if m.first_piece.is_none() && blocks_under(out) > 0 {
                m.first_piece = Some(since(Instant::now()));
            }
            if m.complete.is_some() {
                // A piece can land between two polls on a fast run: bounded by completion.
                m.first_piece = m.first_piece.or(m.complete);
                return Ok(m);
            }
            if !proc.is_running() {
                std::thread::sleep(Duration::from_millis(200));
                if proc.drain().iter().any(|l| l.value["type"] == "complete") {
                    continue;
                }
                return Err(format!("ccbt exited before completing; {}", proc.logs()));
            }
            std::thread::sleep(DISK_POLL);
        }
        proc.kill();
        Err(format!("ccbt not complete within {timeout:?}"))
    }

    /// `lt_magnet.py`: libtorrent's own alert times.
    fn lt_milestones(&self, link: &str, out: &Path, timeout: Duration) -> Result<Milestones, String> {
        let args = json!({"magnet": link, "save_path": out, "listen": "127.0.0.1:0"});
        let mut cmd = Command::new(ccbt_tests::clients::libtorrent::PYTHON);
        cmd.arg(lt_magnet_script())
            .arg(args.to_string())
            .current_dir(&self.env.work)
            .env("PYTHONUNBUFFERED", "1");
        let mut proc = JsonProc::spawn("libtorrent (lt_magnet.py)", &mut cmd, false, false)?;
        let start = Instant::now();
        let mut m = Milestones::default();
        while start.elapsed() < timeout {
            for line in proc.drain() {
                let secs = line.value["seconds"].as_f64();
                match line.value["type"].as_str() {
                    Some("metadata") => m.metadata = secs,
                    Some("first_piece") => m.first_piece = secs,
                    Some("complete") => m.complete = secs,
                    Some("error") => {
                        return Err(format!("libtorrent: {}", line.value["msg"].as_str().unwrap_or("error")));
                    }
                    _ => {}
                }
            }
            if m.complete.is_some() {
                return Ok(m);
            }
            if !proc.is_running() {
                std::thread::sleep(Duration::from_millis(200));
                let rest = proc.drain();
                if let Some(l) = rest.iter().find(|l| l.value["type"] == "complete") {
                    m.complete = l.value["seconds"].as_f64();
                    return Ok(m);
                }
                return Err(format!("lt_magnet.py exited before completing; {}", proc.logs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        proc.kill();
        Err(format!("libtorrent not complete within {timeout:?}"))
    }

    /// rqbit's server, the link posted with the seeder as an initial peer.
    fn rqbit_milestones(
        &self,
        link: &str,
        info_hash: &str,
        out: &Path,
        seeder: SocketAddr,
        timeout: Duration,
    ) -> Result<Milestones, String> {
        let opts = Opts {
            peers: vec![seeder],
            work_root: Some(self.env.work.join("profiles")),
            start_timeout: Some(self.env.start_timeout),
            listen_ip: Some(Ipv4Addr::LOCALHOST),
        };
        let rqbit = catch("rqbit", || Rqbit::start_magnet_downloader(link, info_hash, out, &opts))?;
        let posted = rqbit.added_at().ok_or("rqbit: the link was not posted")?;
        let since = |at: Instant| at.saturating_duration_since(posted).as_secs_f64();
        let mut m = Milestones::default();
        while posted.elapsed() < timeout {
            let stats = catch("rqbit stats", || rqbit.stats())?;
            let now = Instant::now();
            if m.metadata.is_none() && stats["total_bytes"].as_u64().unwrap_or(0) > 0 {
                m.metadata = Some(since(now));
            }
            if m.first_piece.is_none() && stats["progress_bytes"].as_u64().unwrap_or(0) > 0 {
                m.first_piece = Some(since(now));
            }
            if stats["finished"].as_bool() == Some(true) {
                m.complete = Some(since(now));
                return Ok(m);
            }
            if let Some(e) = stats["error"].as_str() {
                return Err(format!("rqbit: {e}"));
            }
            if !rqbit.is_running() {
                return Err(format!("rqbit exited; {}", rqbit.logs()));
            }
            std::thread::sleep(API_POLL);
        }
        Err(format!("rqbit not complete within {timeout:?}"))
    }
}

pub fn lt_magnet_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_magnet.py")
}
