//! The swarm scenarios: download, seed, fan-out, many torrents; and restart (a
//! daemon holding thousands of seeding torrents killed and restarted).
//!
//! Every contestant is a separate process on loopback, measured from outside
//! ([`crate::procstat`]): wall time from its start (or, for a measured seeder, from
//! the downloader's start) until the last piece is verified, payload MB/s, CPU
//! seconds, CPU seconds per GiB and peak RSS. Completion comes from the client's own
//! status polled every 100 ms (ccbt: the arrival of its `complete` line); the bytes
//! on disk are checked with `btbt verify` afterwards, outside the timing.
//!
//! Who dials whom: a downloader that can be told to dial gets the seeder's address
//! at start; Transmission (cannot dial) is dialed by the seeder; aria2 (cannot be
//! told to dial) finds the seeder through opentracker on 127.0.0.1, so a scenario
//! with aria2 in it hands the seeder a copy of the torrent announcing there.
//!
//! - `config.rs`: the scenarios by name, data set sizes, the run's configuration;
//! - this file: the [`Harness`] (contestants, tracker, the loop over scenarios);
//! - `download.rs`, `seed.rs`, `fanout.rs`, `many.rs`, `restart.rs`, `magnet.rs`: one
//!   scenario each;
//! - `transfer.rs`: one seeder to its downloaders, watched to completion and measured.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ccbt_tests::clients::{Opentracker, Opts};

use crate::data::{self, Dataset};
use crate::participant::{catch, Contestant, Env, Participant};
use crate::report::{truncate, Metric, ScenarioResult, MB};

mod config;
mod download;
mod fanout;
mod magnet;
mod maindata;
mod many;
mod metrics;
mod restart;
mod seed;
mod transfer;

pub use config::{Config, ScenarioKind, Sizes};

/// Runs scenarios and collects their results.
pub struct Harness {
    pub cfg: Config,
    pub env: Env,
    tracker: Option<Opentracker>,
    pub versions: BTreeMap<String, String>,
    pub unavailable: BTreeMap<String, String>,
}

fn log(msg: &str) {
    eprintln!("ccbt-bench: {msg}");
}

fn rotate<T: Clone>(v: &[T], by: usize) -> Vec<T> {
    if v.is_empty() {
        return Vec::new();
    }
    let mut out = v.to_vec();
    out.rotate_left(by % v.len());
    out
}

impl Harness {
    pub fn new(cfg: Config, env: Env) -> Harness {
        Harness {
            cfg,
            env,
            tracker: None,
            versions: BTreeMap::new(),
            unavailable: BTreeMap::new(),
        }
    }

    /// Checks that each contestant can run here (its version answers).
    pub fn probe(&mut self, who: &[Contestant]) {
        for c in who {
            if self.versions.contains_key(c.name()) || self.unavailable.contains_key(c.name()) {
                continue;
            }
            match crate::participant::version(*c, &self.env.ccbt) {
                Ok(v) => {
                    self.versions.insert(c.name().to_string(), v);
                }
                Err(e) => {
                    log(&format!("{} unavailable: {}", c.name(), truncate(&e, 200)));
                    self.unavailable.insert(c.name().to_string(), e);
                }
            }
        }
    }

    /// Every contestant the configured scenarios may start.
    pub fn all_contestants(&self) -> Vec<Contestant> {
        let mut set = BTreeSet::new();
        for s in &self.cfg.scenarios {
            set.extend(self.contestants_for(*s));
        }
        set.insert(self.cfg.seeder);
        set.insert(self.cfg.downloader);
        set.into_iter().collect()
    }

    fn contestants_for(&self, s: ScenarioKind) -> Vec<Contestant> {
        let list = self
            .cfg
            .contestants
            .clone()
            .unwrap_or_else(|| s.default_contestants(self.cfg.quick));
        list.into_iter().filter(|c| s.supports(*c)).collect()
    }

    /// Records the contestants of `list` that cannot run here in `sc.skipped`.
    fn note_unavailable(&self, sc: &mut ScenarioResult, list: &[Contestant]) {
        for c in list {
            if let Some(e) = self.unavailable.get(c.name()) {
                sc.skipped
                    .insert(c.name().to_string(), format!("unavailable: {}", truncate(e, 200)));
            }
        }
    }

    fn available(&self, c: Contestant) -> Result<(), String> {
        match self.unavailable.get(c.name()) {
            Some(e) => Err(format!("unavailable: {}", truncate(e, 200))),
            None => Ok(()),
        }
    }

    fn run_timeout(&self, bytes: u64) -> Duration {
        self.cfg.run_timeout.unwrap_or_else(|| {
            // Generous for the fast clients (~300-500 MB/s here); bounds the slow ones.
            Duration::from_secs_f64((20.0 + bytes as f64 / (40.0 * MB)).max(45.0))
        })
    }

    fn seeder_timeout(&self, bytes: u64) -> Duration {
        self.env.start_timeout + Duration::from_secs_f64(bytes as f64 / (50.0 * MB))
    }

    /// The configured downloader if it can be told to dial a seeder, else
    /// libtorrent, with a note saying so (`which` names the downloaders in it).
    fn dialing_downloader(&self, which: &str) -> (Contestant, Option<String>) {
        let wanted = self.cfg.downloader;
        if wanted.can_dial() {
            return (wanted, None);
        }
        let note = format!(
            "{} cannot be told to dial the seeder; {which} libtorrent",
            wanted.name()
        );
        (Contestant::LIBTORRENT, Some(note))
    }

    /// Starts `who` seeding `ds` on 127.0.0.1 and waits until it seeds (data
    /// rechecked); also returns how long that took, in seconds.
    fn start_local_seeder(
        &self,
        who: Contestant,
        torrent: &Path,
        ds: &Dataset,
    ) -> Result<(Box<dyn Participant>, f64), String> {
        let t = Instant::now();
        let seeder = self.env.start_seeder(
            who,
            torrent,
            &ds.seed_dir,
            &[],
            Ipv4Addr::LOCALHOST,
            self.seeder_timeout(ds.total_bytes),
        )?;
        Ok((seeder, t.elapsed().as_secs_f64()))
    }

    /// Opentracker on 127.0.0.1, started on first use.
    fn tracker(&mut self) -> Result<&Opentracker, String> {
        if self.tracker.is_none() {
            let opts = Opts {
                work_root: Some(self.env.work.join("profiles")),
                ..Opts::default()
            };
            let t = catch("opentracker", || Opentracker::start_with(&opts))?;
            self.tracker = Some(t);
        }
        self.tracker
            .as_ref()
            .ok_or_else(|| "opentracker did not start".to_string())
    }

    /// A copy of the data set's torrent announcing to opentracker (whitelisted).
    fn tracker_torrent(&mut self, ds: &Dataset) -> Result<PathBuf, String> {
        let dir = self.env.work.join("torrents");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = dir.join(format!("{}.tracker.torrent", ds.label));
        let tracker = self.tracker()?;
        let url = tracker.announce_url();
        let hash = ds.info_hash.clone();
        catch("opentracker whitelist", || tracker.allow(&hash))?;
        data::with_announce(&ds.torrent, &url, &out)?;
        Ok(out)
    }

    /// Runs every configured scenario, handing each finished one to `done`.
    pub fn run(&mut self, mut done: impl FnMut(&ScenarioResult)) -> Result<Vec<ScenarioResult>, String> {
        let root = self.cfg.data_dir.clone();
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let sizes = self.cfg.sizes.clone();
        let btbt = self.cfg.btbt.clone();
        let mut results = Vec::new();
        let mut finish = |mut r: ScenarioResult, h: &Harness, results: &mut Vec<ScenarioResult>| {
            r.summarize(&h.versions);
            done(&r);
            results.push(r);
        };
        for kind in self.cfg.scenarios.clone() {
            match kind {
                ScenarioKind::Download => {
                    let single = data::single(&root, &btbt, sizes.single, 1 << 20)?;
                    let r = self.download(&single, "download-single", "single file, 1 MiB pieces");
                    finish(r, self, &mut results);
                    let multi = data::multi(&root, &btbt, sizes.multi, 256 << 10)?;
                    let desc = format!("{} files, 256 KiB pieces", multi.files);
                    let r = self.download(&multi, "download-multi", &desc);
                    finish(r, self, &mut results);
                }
                ScenarioKind::Seed => {
                    let single = data::single(&root, &btbt, sizes.seed, 1 << 20)?;
                    let r = self.seed(&single);
                    finish(r, self, &mut results);
                }
                ScenarioKind::Fanout => {
                    let ds = data::single(&root, &btbt, sizes.fanout, 1 << 20)?;
                    let r = self.fanout(&ds);
                    finish(r, self, &mut results);
                }
                ScenarioKind::Many => {
                    let sets = data::many(&root, &sizes.many_counts, sizes.many_small, sizes.many_probe)?;
                    for set in &sets {
                        let r = self.many(set);
                        finish(r, self, &mut results);
                    }
                }
                ScenarioKind::Magnet => {
                    let ds = data::single(&root, &btbt, sizes.magnet, 256 << 10)?;
                    let r = self.magnet(&ds);
                    finish(r, self, &mut results);
                }
                ScenarioKind::Maindata => {
                    let sets = data::many(&root, &[sizes.restart_count], sizes.many_small, sizes.many_probe)?;
                    for set in &sets {
                        let r = self.maindata(set);
                        finish(r, self, &mut results);
                    }
                }
                ScenarioKind::Metrics => {
                    let sets = data::many(&root, &[sizes.restart_count], sizes.many_small, sizes.many_probe)?;
                    for set in &sets {
                        let r = self.metrics(set);
                        finish(r, self, &mut results);
                    }
                }
                ScenarioKind::Restart => {
                    let sets = data::many(&root, &[sizes.restart_count], sizes.many_small, sizes.many_probe)?;
                    for set in &sets {
                        let r = self.restart(set);
                        finish(r, self, &mut results);
                    }
                }
            }
        }
        Ok(results)
    }

    fn new_scenario(&self, id: &str, title: String, measured: &str, bytes: u64) -> ScenarioResult {
        ScenarioResult {
            id: id.to_string(),
            title,
            measured: measured.to_string(),
            payload_bytes: bytes,
            columns: vec![
                Metric::Wall,
                Metric::Rate,
                Metric::Cpu,
                Metric::CpuPerGib,
                Metric::PeakRss,
            ],
            spread_of: vec![Metric::Wall, Metric::Rate],
            ratio_of: vec![Metric::Rate, Metric::CpuPerGib],
            ..Default::default()
        }
    }
}
