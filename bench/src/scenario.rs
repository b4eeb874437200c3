//! The swarm scenarios: download, seed, fan-out, many torrents.
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

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ccbt_tests::clients::{Opentracker, Opts};

use crate::data::{self, Dataset, ManySet};
use crate::participant::{catch, Contestant, Env, Participant, Progress};
use crate::procstat::Meter;
use crate::report::{truncate, Metric, RunResult, ScenarioResult, GIB, MB};
use crate::util::{remove_tree, verify};

/// The scenarios, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScenarioKind {
    Download,
    Seed,
    Fanout,
    Many,
}

impl ScenarioKind {
    pub const ALL: [ScenarioKind; 4] = [
        ScenarioKind::Download,
        ScenarioKind::Seed,
        ScenarioKind::Fanout,
        ScenarioKind::Many,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Download => "download",
            ScenarioKind::Seed => "seed",
            ScenarioKind::Fanout => "fanout",
            ScenarioKind::Many => "many",
        }
    }

    pub fn parse(s: &str) -> Result<ScenarioKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "download" | "1" => Ok(ScenarioKind::Download),
            "seed" | "2" => Ok(ScenarioKind::Seed),
            "fanout" | "fan-out" | "3" => Ok(ScenarioKind::Fanout),
            "many" | "many-torrents" | "4" => Ok(ScenarioKind::Many),
            other => Err(format!(
                "unknown scenario {other:?} (one of: download, seed, fanout, many)"
            )),
        }
    }

    /// Contestants by default (full set, quick set).
    fn default_contestants(self, quick: bool) -> Vec<Contestant> {
        use Contestant as C;
        match (self, quick) {
            (ScenarioKind::Download, false) => vec![C::Ccbt, C::LIBTORRENT, C::RQBIT, C::TRANSMISSION, C::ARIA2],
            (ScenarioKind::Download, true) => vec![C::Ccbt, C::LIBTORRENT, C::RQBIT, C::ARIA2],
            (ScenarioKind::Seed, false) | (ScenarioKind::Fanout, false) => {
                vec![C::Ccbt, C::LIBTORRENT, C::RQBIT, C::TRANSMISSION]
            }
            (ScenarioKind::Seed, true) => vec![C::Ccbt, C::LIBTORRENT, C::RQBIT],
            (ScenarioKind::Fanout, true) => vec![C::Ccbt, C::LIBTORRENT],
            (ScenarioKind::Many, _) => vec![C::Ccbt, C::LIBTORRENT],
        }
    }

    /// Contestants this scenario has a driver for.
    fn supports(self, c: Contestant) -> bool {
        match self {
            ScenarioKind::Many => matches!(c, Contestant::Ccbt | Contestant::LIBTORRENT),
            _ => true,
        }
    }
}

/// Sizes of the data sets.
#[derive(Clone, Debug)]
pub struct Sizes {
    pub single: u64,
    pub multi: u64,
    pub seed: u64,
    pub fanout: u64,
    pub many_counts: Vec<usize>,
    pub many_small: u64,
    pub many_probe: u64,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            single: 4 << 30,
            multi: 1 << 30,
            seed: 1 << 30,
            fanout: 256 << 20,
            many_counts: vec![1000, 10_000],
            many_small: 64 << 10,
            many_probe: 256 << 20,
        }
    }

    pub fn quick() -> Sizes {
        Sizes {
            single: 256 << 20,
            multi: 64 << 20,
            seed: 256 << 20,
            fanout: 128 << 20,
            many_counts: vec![100],
            many_small: 64 << 10,
            many_probe: 64 << 20,
        }
    }
}

/// Everything a harness run was asked to do.
#[derive(Clone, Debug)]
pub struct Config {
    pub quick: bool,
    pub scenarios: Vec<ScenarioKind>,
    pub repeats: usize,
    /// The fixed seeder of the download scenario.
    pub seeder: Contestant,
    /// The fixed downloader of the seed, fan-out and many-torrents scenarios.
    pub downloader: Contestant,
    /// Overrides each scenario's default contestants.
    pub contestants: Option<Vec<Contestant>>,
    pub fanout: usize,
    pub sizes: Sizes,
    /// Overrides the per-run time limit (default from the payload size).
    pub run_timeout: Option<Duration>,
    pub verify: bool,
    pub data_dir: PathBuf,
    pub btbt: PathBuf,
}

/// Runs scenarios and collects their results.
pub struct Harness {
    pub cfg: Config,
    pub env: Env,
    tracker: Option<Opentracker>,
    pub versions: BTreeMap<String, String>,
    pub unavailable: BTreeMap<String, String>,
}

/// A participant being watched until it completes.
struct Watched {
    p: Box<dyn Participant>,
    meter: Meter,
    done_at: Option<Instant>,
    last: Progress,
    /// When it last had a peer (or was told to dial), and how often the dial was
    /// repeated because it had none.
    last_contact: Instant,
    redials: u32,
}

/// A downloader with no peer for this long has the dial repeated.
const REDIAL_AFTER: Duration = Duration::from_secs(3);

/// How a transfer run ended.
struct Transfer {
    /// Start of the measured transfer.
    t0: Instant,
    /// When each downloader completed (None: not within the limit).
    done_at: Vec<Option<Instant>>,
    /// Bytes each downloader had (its total when complete).
    done_bytes: Vec<u64>,
    downloaders: Vec<Watched>,
    seeder_meter: Meter,
    cache_pct: Option<f64>,
    out_dirs: Vec<PathBuf>,
    /// Dials repeated because a downloader had no peer for a while.
    redials: u32,
    /// The seeder's own view when the run stopped incomplete.
    seeder_at_end: Option<Progress>,
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

    /// Scenario 1: the fixed seeder sends `ds` to each contestant in turn.
    fn download(&mut self, ds: &Dataset, id: &str, desc: &str) -> ScenarioResult {
        let seeder_kind = self.cfg.seeder;
        let title = format!(
            "download: {} {desc}, {} seeding",
            data::human(ds.total_bytes),
            seeder_kind.name()
        );
        let mut sc = self.new_scenario(id, title, "the downloader, from its process start", ds.total_bytes);
        let contestants = self.contestants_for(ScenarioKind::Download);
        self.note_unavailable(&mut sc, &contestants);
        if let Err(e) = self.available(seeder_kind) {
            sc.notes.push(format!("fixed seeder {}: {e}", seeder_kind.name()));
            return sc;
        }
        let need_tracker = contestants.contains(&Contestant::ARIA2);
        let tracker_torrent = if need_tracker {
            match self.tracker_torrent(ds) {
                Ok(t) => Some(t),
                Err(e) => {
                    sc.notes.push(format!("no tracker, so no aria2: {}", truncate(&e, 200)));
                    None
                }
            }
        } else {
            None
        };
        let seeder_torrent = tracker_torrent.clone().unwrap_or_else(|| ds.torrent.clone());
        let timeout = self.run_timeout(ds.total_bytes);
        let mut seeder: Option<Box<dyn Participant>> = None;
        let mut gave_up: BTreeSet<Contestant> = BTreeSet::new();
        for rep in 0..self.cfg.repeats {
            for c in rotate(&contestants, rep) {
                if gave_up.contains(&c) || self.available(c).is_err() {
                    continue;
                }
                if c == Contestant::TRANSMISSION && !seeder_kind.can_dial_later() {
                    gave_up.insert(c);
                    sc.runs.push(RunResult::failed(
                        c.name(),
                        rep,
                        format!(
                            "skipped: Transmission must be dialed and {} cannot be told to dial after it started",
                            seeder_kind.name()
                        ),
                    ));
                    continue;
                }
                if c == Contestant::ARIA2 && tracker_torrent.is_none() {
                    continue;
                }
                // One seeder serves every run; a new one if it died, and per run for
                // Transmission (it refuses a second peer from 127.0.0.1).
                let dead = match seeder.as_ref() {
                    Some(s) => !s.is_running(),
                    None => true,
                };
                if dead || seeder_kind == Contestant::TRANSMISSION {
                    seeder = None;
                    match self.start_local_seeder(seeder_kind, &seeder_torrent, ds) {
                        Ok((s, ready_s)) => {
                            if rep == 0 && sc.notes.is_empty() {
                                sc.notes.push(format!(
                                    "{} seeder ready (recheck done) after {:.1} s; it serves every run{}",
                                    seeder_kind.name(),
                                    ready_s,
                                    if seeder_kind == Contestant::TRANSMISSION {
                                        " (restarted per run)"
                                    } else {
                                        ""
                                    }
                                ));
                            }
                            seeder = Some(s);
                        }
                        Err(e) => {
                            sc.runs.push(RunResult::failed(
                                c.name(),
                                rep,
                                format!("seeder {}: {}", seeder_kind.name(), truncate(&e, 600)),
                            ));
                            continue;
                        }
                    }
                }
                let Some(s) = seeder.as_mut() else { continue };
                let d_torrent = if c == Contestant::ARIA2 {
                    tracker_torrent.clone().unwrap_or_else(|| ds.torrent.clone())
                } else {
                    ds.torrent.clone()
                };
                log(&format!("{id}: {} (run {}/{})", c.name(), rep + 1, self.cfg.repeats));
                let run = self.transfer_run(s.as_mut(), c, &d_torrent, ds, rep, timeout, false, c.name());
                if run.partial {
                    gave_up.insert(c);
                    sc.notes.push(format!(
                        "{} hit the {:.0} s limit; its further repeats are skipped",
                        c.name(),
                        timeout.as_secs_f64()
                    ));
                }
                log(&format!("{id}: {}", one_line(&run)));
                sc.runs.push(run);
            }
        }
        if let Some((rep, lat)) = sc
            .runs
            .iter()
            .rev()
            .filter(|r| r.contestant == Contestant::Ccbt.name())
            .find_map(|r| r.latency.map(|l| (r.repeat, l)))
        {
            sc.notes.push(format!(
                "ccbt latency (last status line, run {}): {}",
                rep + 1,
                lat.describe()
            ));
        }
        sc
    }

    /// Scenario 2: each contestant seeds `ds` to the fixed downloader.
    fn seed(&mut self, ds: &Dataset) -> ScenarioResult {
        let d_kind = self.cfg.downloader;
        let title = format!(
            "seed: {} single file, 1 MiB pieces, to {}",
            data::human(ds.total_bytes),
            d_kind.name()
        );
        let mut sc = self.new_scenario(
            "seed",
            title,
            "the seeder, from the downloader's start to its completion (recheck before that is the `ready` column)",
            ds.total_bytes,
        );
        sc.columns.push(Metric::Ready);
        if d_kind == Contestant::LIBTORRENT {
            sc.notes.push(
                "downloader: libtorrent via bench/scripts/lt_bench.py on 127.0.0.2 (outgoing connections bound \
                 there); the seeder is restarted per run"
                    .to_string(),
            );
        }
        self.note_unavailable(&mut sc, &self.contestants_for(ScenarioKind::Seed));
        if let Err(e) = self.available(d_kind) {
            sc.notes.push(format!("fixed downloader {}: {e}", d_kind.name()));
            return sc;
        }
        let torrent = if d_kind == Contestant::ARIA2 {
            match self.tracker_torrent(ds) {
                Ok(t) => t,
                Err(e) => {
                    sc.notes.push(format!("aria2 needs the tracker: {}", truncate(&e, 300)));
                    return sc;
                }
            }
        } else {
            ds.torrent.clone()
        };
        let timeout = self.run_timeout(ds.total_bytes);
        let mut gave_up = BTreeSet::new();
        for rep in 0..self.cfg.repeats {
            for c in rotate(&self.contestants_for(ScenarioKind::Seed), rep) {
                if gave_up.contains(&c) || self.available(c).is_err() {
                    continue;
                }
                if d_kind == Contestant::TRANSMISSION && !c.can_dial_later() {
                    gave_up.insert(c);
                    sc.runs.push(RunResult::failed(
                        c.name(),
                        rep,
                        format!("skipped: {} cannot dial the Transmission downloader", c.name()),
                    ));
                    continue;
                }
                log(&format!("seed: {} (run {}/{})", c.name(), rep + 1, self.cfg.repeats));
                let (mut s, ready_s) = match self.start_local_seeder(c, &torrent, ds) {
                    Ok(started) => started,
                    Err(e) => {
                        sc.runs.push(RunResult::failed(c.name(), rep, truncate(&e, 600)));
                        continue;
                    }
                };
                let ready_cpu = Meter::from_start(s.pid()).map(|m| m.cpu_s()).ok();
                let mut run = self.transfer_run(s.as_mut(), d_kind, &torrent, ds, rep, timeout, true, c.name());
                run.set(Metric::Ready, ready_s);
                if let Some(cpu) = ready_cpu {
                    run.set(Metric::ReadyCpu, cpu);
                }
                if run.partial {
                    gave_up.insert(c);
                    sc.notes.push(format!(
                        "{} hit the {:.0} s limit; its further repeats are skipped",
                        c.name(),
                        timeout.as_secs_f64()
                    ));
                }
                log(&format!("seed: {}", one_line(&run)));
                sc.runs.push(run);
            }
        }
        sc
    }

    /// Scenario 3: each contestant seeds `ds` to `fanout` downloaders at once.
    fn fanout(&mut self, ds: &Dataset) -> ScenarioResult {
        let n = self.cfg.fanout.max(1);
        let (d_kind, note) = self.dialing_downloader("the downloaders are");
        let title = format!(
            "fan-out: {} single file, 1 MiB pieces, to {n} {} downloaders at once",
            data::human(ds.total_bytes),
            d_kind.name()
        );
        let mut sc = self.new_scenario(
            "fanout",
            title,
            "the seeder, from the first downloader's start to the last one's completion; MB/s is the aggregate upload",
            ds.total_bytes * n as u64,
        );
        sc.notes.extend(note);
        self.note_unavailable(&mut sc, &self.contestants_for(ScenarioKind::Fanout));
        sc.notes
            .push("no tracker: each downloader knows only the seeder, so every byte comes from the seeder".to_string());
        sc.notes.push(
            "the downloaders are started one after another (each until its client listens); the clock starts \
             before the first and stops when the last has every piece verified"
                .to_string(),
        );
        if d_kind == Contestant::LIBTORRENT {
            sc.notes.push(
                "downloaders: libtorrent via bench/scripts/lt_bench.py, each on its own 127.0.0.x with its \
                 outgoing connections bound there (Transmission keys peers by IP)"
                    .to_string(),
            );
        }
        if let Err(e) = self.available(d_kind) {
            sc.notes.push(format!("downloader {}: {e}", d_kind.name()));
            return sc;
        }
        let timeout = self.run_timeout(ds.total_bytes * n as u64);
        let mut gave_up = BTreeSet::new();
        for rep in 0..self.cfg.repeats {
            for c in rotate(&self.contestants_for(ScenarioKind::Fanout), rep) {
                if gave_up.contains(&c) || self.available(c).is_err() {
                    continue;
                }
                log(&format!("fanout: {} (run {}/{})", c.name(), rep + 1, self.cfg.repeats));
                let (mut s, ready_s) = match self.start_local_seeder(c, &ds.torrent, ds) {
                    Ok(started) => started,
                    Err(e) => {
                        sc.runs.push(RunResult::failed(c.name(), rep, truncate(&e, 600)));
                        continue;
                    }
                };
                let mut run = RunResult::new(c.name(), rep);
                // Distinct 127.0.0.x per downloader: Transmission keys peers by IP.
                let ips: Vec<Ipv4Addr> = (0..n).map(|i| Ipv4Addr::new(127, 0, 0, 2 + i as u8)).collect();
                match self.transfer(s.as_mut(), d_kind, &ds.torrent, ds, rep, timeout, &ips) {
                    Ok(tr) => self.finish_transfer(&mut run, tr, &ds.torrent, ds, timeout, true),
                    Err(e) => run.error = Some(truncate(&e, 800)),
                }
                run.set(Metric::Ready, ready_s);
                if run.partial {
                    gave_up.insert(c);
                }
                log(&format!("fanout: {}", one_line(&run)));
                sc.runs.push(run);
            }
        }
        sc
    }

    /// Scenario 4: a seeder loads `set.count` torrents with their data; then the
    /// fixed downloader fetches the probe torrent from it.
    fn many(&mut self, set: &ManySet) -> ScenarioResult {
        let (d_kind, note) = self.dialing_downloader("the downloader is");
        let title = format!(
            "many torrents: {} torrents ({} x {} + a {} probe), then {} downloads the probe",
            set.count,
            set.count.saturating_sub(1),
            data::human(set.small_bytes),
            data::human(set.probe_bytes),
            d_kind.name()
        );
        let mut sc = self.new_scenario(
            &format!("many-{}", set.count),
            title,
            "the seeder: `ready` = process start until every torrent seeds, then CPU-s/GiB while serving the probe",
            set.probe_bytes,
        );
        sc.columns = vec![
            Metric::Ready,
            Metric::ReadyCpu,
            Metric::ReadyRss,
            Metric::Rate,
            Metric::CpuPerGib,
            Metric::PeakRss,
        ];
        sc.spread_of = vec![Metric::Ready, Metric::Rate];
        sc.ratio_of = vec![Metric::Ready, Metric::ReadyRss, Metric::Rate, Metric::CpuPerGib];
        sc.notes.extend(note);
        self.note_unavailable(&mut sc, &self.contestants_for(ScenarioKind::Many));
        sc.notes.push(
            "ccbt: `ccbt --seed -o DATA DIR_OF_TORRENTS`; libtorrent: bench/scripts/lt_bench.py (every torrent added, none auto-managed)"
                .to_string(),
        );
        let probe = Dataset {
            label: format!("many-{}-probe", set.count),
            torrent: set.probe.clone(),
            seed_dir: set.data_dir.clone(),
            name: set.probe_name.clone(),
            total_bytes: set.probe_bytes,
            files: 1,
            piece_length: 256 << 10,
            info_hash: String::new(),
        };
        let ready_timeout =
            self.env.start_timeout + Duration::from_millis(30 * set.count as u64) + Duration::from_secs(30);
        let timeout = self.run_timeout(set.probe_bytes);
        for rep in 0..self.cfg.repeats {
            for c in rotate(&self.contestants_for(ScenarioKind::Many), rep) {
                if self.available(c).is_err() {
                    continue;
                }
                log(&format!(
                    "many-{}: {} (run {}/{})",
                    set.count,
                    c.name(),
                    rep + 1,
                    self.cfg.repeats
                ));
                let mut run = RunResult::new(c.name(), rep);
                match self.many_run(c, set, &probe, d_kind, rep, ready_timeout, timeout, &mut run) {
                    Ok(()) => {}
                    Err(e) => run.error = Some(truncate(&e, 800)),
                }
                log(&format!("many-{}: {}", set.count, one_line(&run)));
                sc.runs.push(run);
            }
        }
        sc
    }

    #[allow(clippy::too_many_arguments)]
    fn many_run(
        &mut self,
        c: Contestant,
        set: &ManySet,
        probe: &Dataset,
        d_kind: Contestant,
        rep: usize,
        ready_timeout: Duration,
        timeout: Duration,
        run: &mut RunResult,
    ) -> Result<(), String> {
        let t0 = Instant::now();
        let mut s = self
            .env
            .start_many_seeder(c, &set.torrent_dir, &set.data_dir, set.count, Ipv4Addr::LOCALHOST)?;
        let mut meter = Meter::from_start(s.pid())?;
        let deadline = t0 + ready_timeout;
        let ready_at = loop {
            let _ = meter.poll();
            let (n, last) = s.completes();
            if n >= set.count {
                break last.unwrap_or_else(Instant::now);
            }
            let pr = s.progress()?;
            if let Some(e) = pr.error {
                return Err(format!("{}: {e}", c.name()));
            }
            if !s.is_running() {
                return Err(format!("{} exited while loading; {}", c.name(), s.logs()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{}: only {n} of {} torrents seeding after {ready_timeout:?}",
                    c.name(),
                    set.count
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let _ = meter.poll();
        run.set(Metric::Ready, ready_at.duration_since(t0).as_secs_f64());
        run.set(Metric::ReadyCpu, meter.cpu_s());
        run.set(Metric::ReadyRss, meter.rss_mib());
        let mut tr_run = self.transfer_run(&mut s, d_kind, &probe.torrent, probe, rep, timeout, true, c.name());
        for (k, v) in &run.metrics {
            tr_run.metrics.insert(k, *v);
        }
        *run = tr_run;
        Ok(())
    }

    /// One downloader fetching `torrent` from `seeder`: measures the downloader
    /// (or, with `measure_seeder`, the seeder), then verifies the copy.
    #[allow(clippy::too_many_arguments)]
    fn transfer_run(
        &mut self,
        seeder: &mut dyn Participant,
        d_kind: Contestant,
        torrent: &Path,
        ds: &Dataset,
        rep: usize,
        timeout: Duration,
        measure_seeder: bool,
        label: &str,
    ) -> RunResult {
        let mut run = RunResult::new(label, rep);
        // The fixed downloader (measuring a seeder) comes from 127.0.0.2: a libtorrent
        // there is bench/scripts/lt_bench.py, bound to that address.
        let ip = if measure_seeder {
            Ipv4Addr::new(127, 0, 0, 2)
        } else {
            Ipv4Addr::LOCALHOST
        };
        match self.transfer(seeder, d_kind, torrent, ds, rep, timeout, &[ip]) {
            Ok(tr) => self.finish_transfer(&mut run, tr, torrent, ds, timeout, measure_seeder),
            Err(e) => run.error = Some(truncate(&e, 800)),
        }
        run
    }

    /// Starts one downloader per address in `ips`, all fetching from `seeder`, and
    /// watches them (bounded by `timeout`).
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        seeder: &mut dyn Participant,
        d_kind: Contestant,
        torrent: &Path,
        ds: &Dataset,
        rep: usize,
        timeout: Duration,
        ips: &[Ipv4Addr],
    ) -> Result<Transfer, String> {
        if d_kind == Contestant::ARIA2 && !ds.info_hash.is_empty() {
            // aria2 learns of the seeder only from the tracker.
            let hash = ds.info_hash.clone();
            let tracker = self.tracker()?;
            catch("opentracker", || {
                tracker.wait_seeders(&hash, 1, Duration::from_secs(30))
            })?;
        }
        let peers: Vec<SocketAddr> = if d_kind.can_dial() {
            vec![seeder.listen_addr()]
        } else {
            Vec::new()
        };
        let cache_pct = data::cached_pct(&ds.data_files());
        let mut seeder_meter = Meter::new(seeder.pid())?;
        let mut out_dirs = Vec::new();
        let mut downloaders = Vec::new();
        let t0 = Instant::now();
        for (i, ip) in ips.iter().enumerate() {
            let out = self
                .env
                .work
                .join(format!("out-{}-{}-{rep}-{i}", ds.label, seeder.contestant().name()));
            remove_tree(&out);
            out_dirs.push(out.clone());
            let p = if *ip != Ipv4Addr::LOCALHOST && d_kind == Contestant::LIBTORRENT {
                self.env.start_lt_bound_downloader(torrent, &out, &peers, *ip)?
            } else {
                self.env.start_downloader(d_kind, torrent, &out, &peers, *ip)?
            };
            let meter = Meter::from_start(p.pid())?;
            downloaders.push(Watched {
                p,
                meter,
                done_at: None,
                last: Progress::default(),
                last_contact: Instant::now(),
                redials: 0,
            });
        }
        if !d_kind.can_dial() && d_kind == Contestant::TRANSMISSION {
            for d in &downloaders {
                seeder.add_peer(d.p.listen_addr())?;
            }
        }
        let deadline = t0 + timeout;
        loop {
            let now = Instant::now();
            let _ = seeder_meter.poll();
            let mut all = true;
            for w in downloaders.iter_mut() {
                if w.done_at.is_some() {
                    continue;
                }
                let _ = w.meter.poll();
                let pr = w.p.progress()?;
                if pr.complete {
                    w.done_at = Some(pr.completed_at.unwrap_or(now));
                    let _ = w.meter.poll();
                    w.last = pr;
                    continue;
                }
                if let Some(e) = &pr.error {
                    return Err(format!("{}: {e}", d_kind.name()));
                }
                if !w.p.is_running() {
                    return Err(format!("{} exited before completing; {}", d_kind.name(), w.p.logs()));
                }
                // A dial that failed (e.g. a seeder that reported ready a moment before it
                // accepted peers for the torrent) is not retried by every client: repeat it.
                if pr.peers.unwrap_or(1) > 0 {
                    w.last_contact = now;
                } else if now.duration_since(w.last_contact) >= REDIAL_AFTER {
                    w.last_contact = now;
                    let redial = if d_kind == Contestant::TRANSMISSION {
                        seeder.add_peer(w.p.listen_addr())
                    } else {
                        w.p.add_peer(seeder.listen_addr())
                    };
                    if redial.is_ok() {
                        w.redials += 1;
                    }
                }
                w.last = pr;
                all = false;
            }
            if all {
                break;
            }
            if !seeder.is_running() {
                return Err(format!("the seeder exited; {}", seeder.logs()));
            }
            if now >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = seeder_meter.poll();
        let redials: u32 = downloaders.iter().map(|w| w.redials).sum();
        let seeder_at_end = if downloaders.iter().all(|w| w.done_at.is_some()) {
            None
        } else {
            seeder.progress().ok()
        };
        Ok(Transfer {
            redials,
            seeder_at_end,
            t0,
            done_at: downloaders.iter().map(|w| w.done_at).collect(),
            done_bytes: downloaders
                .iter()
                .map(|w| {
                    if w.done_at.is_some() {
                        ds.total_bytes
                    } else {
                        w.last.done_bytes.min(ds.total_bytes)
                    }
                })
                .collect(),
            downloaders,
            seeder_meter,
            cache_pct,
            out_dirs,
        })
    }

    /// Turns a watched transfer into metrics, verifies the copies and cleans up.
    fn finish_transfer(
        &self,
        run: &mut RunResult,
        tr: Transfer,
        torrent: &Path,
        ds: &Dataset,
        timeout: Duration,
        measure_seeder: bool,
    ) {
        let complete = tr.done_at.iter().all(Option::is_some);
        let end = tr
            .done_at
            .iter()
            .flatten()
            .max()
            .copied()
            .filter(|_| complete)
            .unwrap_or(tr.t0 + timeout);
        let wall = end.saturating_duration_since(tr.t0).as_secs_f64().max(1e-3);
        let bytes: u64 = tr.done_bytes.iter().sum();
        run.bytes = bytes;
        run.partial = !complete;
        run.seeder_cache_pct = tr.cache_pct;
        run.set(Metric::Wall, wall);
        run.set(Metric::Rate, bytes as f64 / wall / MB);
        let (cpu, peak) = if measure_seeder {
            (tr.seeder_meter.cpu_s(), tr.seeder_meter.peak_rss_mib())
        } else {
            let w = &tr.downloaders[0];
            run.latency = w.last.latency;
            (w.meter.cpu_s(), w.meter.peak_rss_mib())
        };
        run.set(Metric::Cpu, cpu);
        if bytes > 0 {
            run.set(Metric::CpuPerGib, cpu / (bytes as f64 / GIB));
        }
        run.set(Metric::PeakRss, peak);
        if tr.done_at.len() > 1 && complete {
            let first = tr.done_at.iter().flatten().min().copied().unwrap_or(end);
            run.notes.push(format!(
                "downloaders finished between {:.2} s and {:.2} s",
                first.duration_since(tr.t0).as_secs_f64(),
                wall
            ));
        }
        if tr.redials > 0 {
            run.notes.push(format!(
                "the dial to the seeder was repeated {} time(s): a downloader had no peer for {} s",
                tr.redials,
                REDIAL_AFTER.as_secs()
            ));
        }
        if complete && self.cfg.verify {
            let mut ok = true;
            for dir in &tr.out_dirs {
                if let Err(e) = verify(&self.cfg.btbt, torrent, dir, Duration::from_secs(600)) {
                    ok = false;
                    run.error = Some(format!("{}: {e}", dir.display()));
                    break;
                }
            }
            run.verified = Some(ok);
        }
        run.ok = complete && run.verified != Some(false);
        if !complete && run.error.is_none() {
            let states: Vec<String> = tr
                .downloaders
                .iter()
                .map(|w| {
                    format!(
                        "{}/{} bytes, {} peers, state {:?}",
                        w.last.done_bytes,
                        ds.total_bytes,
                        w.last.peers.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
                        w.last.state
                    )
                })
                .collect();
            run.error = Some(format!(
                "not complete within {:.0} s ({})",
                timeout.as_secs_f64(),
                states.join("; ")
            ));
            if let Some(sp) = &tr.seeder_at_end {
                run.notes.push(format!(
                    "seeder at the limit: state {:?}, {} peers, {}/{} bytes",
                    sp.state,
                    sp.peers.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
                    sp.done_bytes,
                    sp.total_bytes
                ));
            }
            if let Some(w) = tr.downloaders.iter().find(|w| w.done_at.is_none()) {
                run.notes.push(format!("downloader logs: {}", tail(&w.p.logs(), 3000)));
            }
        }
        drop(tr.downloaders);
        for d in &tr.out_dirs {
            remove_tree(d);
        }
    }
}

/// The last `n` bytes of `s` (on a char boundary).
fn tail(s: &str, n: usize) -> String {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

fn one_line(r: &RunResult) -> String {
    let g = |m: Metric| r.get(m).map(crate::report::fmt_num).unwrap_or_else(|| "-".into());
    let status = if r.ok {
        "ok".to_string()
    } else if r.partial {
        "partial".to_string()
    } else {
        format!("FAILED: {}", truncate(r.error.as_deref().unwrap_or("?"), 300))
    };
    format!(
        "{} run {}: {status}; {} s, {} MB/s, {} CPU-s, {} CPU-s/GiB, {} MiB peak{}",
        r.contestant,
        r.repeat + 1,
        g(Metric::Wall),
        g(Metric::Rate),
        g(Metric::Cpu),
        g(Metric::CpuPerGib),
        g(Metric::PeakRss),
        r.get(Metric::Ready)
            .map(|v| format!(", ready {v:.2} s"))
            .unwrap_or_default()
    )
}
