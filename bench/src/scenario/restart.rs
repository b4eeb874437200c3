//! Scenario 5, restart: a seeder holding thousands of torrents is killed with
//! SIGKILL and started again on the same state; measured from the new process's
//! start until every torrent seeds again.
//!
//! - `ccbt`: `btbt daemon start --foreground`; every torrent is added over the API
//!   (`POST /api/v1/torrents` with the `.torrent`'s bytes). Once all seed and every
//!   resume record is on disk, `kill -9` and the same command again; ready when
//!   `GET /api/v1/stats` counts them all `seeding`. A sample of
//!   `GET /api/v1/torrents/{id}` tells how the start checked the data
//!   (`last_check.hashed_pieces` is 0 when the resume records were trusted).
//! - `ccbt-recheck`: the same crash and restart with `resume/` removed, so every
//!   torrent is rechecked: the baseline the resume records are measured against.
//! - `libtorrent`: lt_bench.py adds the same torrents and, once all seed, saves
//!   each one's resume data; it is killed, and a new process adds every torrent
//!   from its resume data; ready when all report seeding.
//!
//! The data set is the many scenario's (small torrents plus one probe).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon_proc::{DaemonProc, DaemonSetup};
use crate::data::{self, ManySet};
use crate::participant::{Contestant, JsonPeer, LtResume, Participant};
use crate::procstat::Meter;
use crate::report::{truncate, Metric, RunResult, ScenarioResult, MB};

use super::transfer::one_line;
use super::{log, Harness, ScenarioKind};

/// How often the restarted ccbt daemon's stats are polled.
const POLL: Duration = Duration::from_millis(50);
/// Torrents whose `last_check` is read after each ccbt restart (plus the biggest).
const CHECK_SAMPLE: usize = 32;
/// The full-recheck baseline's name in the table.
const RECHECK: &str = "ccbt-recheck";
/// Time given to the daemon's timer to write the session file after the last
/// resume record appeared (its tick is one second).
const SESSION_SETTLE: Duration = Duration::from_secs(3);

impl Harness {
    /// Scenario 5: ccbt restarting from its resume records, from a full recheck,
    /// and libtorrent restarting from its resume data, each after a SIGKILL.
    pub(super) fn restart(&mut self, set: &ManySet) -> ScenarioResult {
        let small = set.count.saturating_sub(1);
        let bytes = set.small_bytes * small as u64 + set.probe_bytes;
        let title = format!(
            "restart: a seeder of {} torrents ({small} x {} + a {} probe) killed with SIGKILL and started again",
            set.count,
            data::human(set.small_bytes),
            data::human(set.probe_bytes),
        );
        let mut sc = self.new_scenario(
            &format!("restart-{}", set.count),
            title,
            "the restarted seeder: `ready` = process start until every torrent seeds again",
            bytes,
        );
        sc.columns = vec![Metric::Ready, Metric::ReadyCpu, Metric::ReadyRss];
        sc.spread_of = vec![Metric::Ready];
        sc.ratio_of = vec![Metric::Ready, Metric::ReadyCpu, Metric::ReadyRss];
        self.note_unavailable(&mut sc, &self.contestants_for(ScenarioKind::Restart));
        sc.notes.push(format!(
            "ccbt: `btbt daemon start --foreground` on a state dir holding every torrent and its resume record, \
             config `[queue] max_active_checks = \"unlimited\"` (as libtorrent runs here: nothing auto-managed); \
             {RECHECK}: the same with `resume/` removed (every torrent rechecked); libtorrent: \
             bench/scripts/lt_bench.py adding every torrent from the resume data it saved (`read_resume_data`)"
        ));
        let timeout = self.restart_timeout(set.count, bytes);
        for c in self.contestants_for(ScenarioKind::Restart) {
            if self.available(c).is_err() {
                continue;
            }
            match c {
                Contestant::Ccbt => self.restart_ccbt(set, timeout, &mut sc),
                _ => self.restart_libtorrent(set, timeout, &mut sc),
            }
        }
        sc
    }

    /// Bound of one load or restart: start, 30 ms a torrent, the data at 50 MB/s
    /// (a full recheck reads all of it).
    pub(super) fn restart_timeout(&self, count: usize, bytes: u64) -> Duration {
        self.env.start_timeout
            + Duration::from_millis(30 * count as u64)
            + Duration::from_secs_f64(bytes as f64 / (50.0 * MB))
            + Duration::from_secs(30)
    }

    fn restart_ccbt(&self, set: &ManySet, timeout: Duration, sc: &mut ScenarioResult) {
        let setup = match self.seeding_daemon_setup("restart", set) {
            Ok(setup) => setup,
            Err(e) => {
                sc.runs.push(RunResult::failed("ccbt", 0, e));
                return;
            }
        };
        let mut daemon = match self.ccbt_load(set, &setup, timeout) {
            Ok((d, secs)) => {
                sc.notes.push(format!(
                    "ccbt: adding the {} torrents over the API until all seeded took {secs:.1} s (not in the table)",
                    set.count
                ));
                d
            }
            Err(e) => {
                sc.runs.push(RunResult::failed("ccbt", 0, truncate(&e, 800)));
                return;
            }
        };
        for rep in 0..self.cfg.repeats {
            for (name, drop_records) in [("ccbt", false), (RECHECK, true)] {
                log(&format!(
                    "restart-{}: {name} (run {}/{})",
                    set.count,
                    rep + 1,
                    self.cfg.repeats
                ));
                let mut run = RunResult::new(name, rep);
                run.bytes = sc.payload_bytes;
                let restarted =
                    self.ccbt_crash_and_restart(&mut daemon, &setup, set.count, drop_records, timeout, &mut run);
                log(&format!("restart-{}: {name}: {}", set.count, one_line(&run)));
                match restarted {
                    Ok((d, check)) => {
                        sc.notes.push(format!("{name} run {}: {check}", rep + 1));
                        sc.runs.push(run);
                        daemon = d;
                    }
                    Err(e) => {
                        run.ok = false;
                        run.error = Some(truncate(&e, 800));
                        sc.runs.push(run);
                        // The state dir is in an unknown shape: no further ccbt runs.
                        return;
                    }
                }
            }
        }
        daemon.kill();
    }

    /// A fresh work folder `SCENARIO-COUNT-ccbt` with the bench's daemon config,
    /// serving the set's data: where a scenario's daemon starts.
    pub(super) fn seeding_daemon_setup(&self, scenario: &str, set: &ManySet) -> Result<DaemonSetup, String> {
        let root = self.env.work.join(format!("{scenario}-{}-ccbt", set.count));
        crate::util::remove_tree(&root);
        let config = root.join("ccbt.toml");
        write_config(&config)?;
        log(&format!("{scenario}-{}: ccbt adds every torrent", set.count));
        Ok(DaemonSetup {
            btbt: self.cfg.btbt.clone(),
            state_dir: root.join("state"),
            download_dir: set.data_dir.clone(),
            config: Some(config),
            work: self.env.work.clone(),
        })
    }

    /// A scenario measured on one ccbt daemon seeding the whole set (no peer to
    /// compare with, so no table): loads the set in a fresh
    /// [`Harness::seeding_daemon_setup`], runs `measure` on the daemon's API root and
    /// state dir, stops the daemon, and reports the load time and `measure`'s notes.
    pub(super) fn seeding_daemon_scenario(
        &self,
        scenario: &str,
        set: &ManySet,
        title: String,
        measured: &str,
        measure: impl FnOnce(&str, &Path) -> Result<Vec<String>, String>,
    ) -> ScenarioResult {
        let mut sc = self.new_scenario(&format!("{scenario}-{}", set.count), title, measured, 0);
        sc.columns = vec![];
        let result = self.seeding_daemon_setup(scenario, set).and_then(|setup| {
            let small = set.small_bytes * set.count as u64 + set.probe_bytes;
            let (mut daemon, load_secs) = self.ccbt_load(set, &setup, self.restart_timeout(set.count, small))?;
            let notes = measure(daemon.api_root(), &setup.state_dir);
            daemon.kill();
            let mut all = vec![format!(
                "ccbt: {} torrents added over the native API until all seeded in {load_secs:.1} s",
                set.count
            )];
            all.extend(notes?);
            Ok(all)
        });
        match result {
            Ok(notes) => sc.notes.extend(notes),
            Err(e) => sc.runs.push(RunResult::failed("ccbt", 0, truncate(&e, 800))),
        }
        sc
    }

    /// Starts a daemon, adds every torrent of the set and waits until all seed;
    /// returns it and how long that took.
    pub(super) fn ccbt_load(
        &self,
        set: &ManySet,
        setup: &DaemonSetup,
        timeout: Duration,
    ) -> Result<(DaemonProc, f64), String> {
        let torrents = torrent_files(&set.torrent_dir)?;
        if torrents.len() != set.count {
            return Err(format!(
                "{} holds {} .torrent files, not {}",
                set.torrent_dir.display(),
                torrents.len(),
                set.count
            ));
        }
        let t0 = Instant::now();
        let deadline = t0 + timeout;
        let daemon = DaemonProc::start(setup, self.env.start_timeout)?;
        for t in &torrents {
            daemon.add_torrent_file(t)?;
            if Instant::now() > deadline {
                return Err(format!(
                    "ccbt daemon: adding {} torrents took over {timeout:?}",
                    set.count
                ));
            }
        }
        let mut meter = Meter::from_start(daemon.pid())?;
        wait_all_seeding(&daemon, set.count, deadline, &mut meter)?;
        Ok((daemon, t0.elapsed().as_secs_f64()))
    }

    /// Waits until every resume record is on disk, kills `daemon` (SIGKILL),
    /// removes the records when `drop_records`, starts it again and measures the
    /// time until every torrent seeds; then reads how a sample was checked (the
    /// returned line says).
    fn ccbt_crash_and_restart(
        &self,
        daemon: &mut DaemonProc,
        setup: &DaemonSetup,
        count: usize,
        drop_records: bool,
        timeout: Duration,
        run: &mut RunResult,
    ) -> Result<(DaemonProc, String), String> {
        let resume = setup.state_dir.join("resume");
        wait_records(&resume, count, Instant::now() + records_timeout(count))?;
        std::thread::sleep(SESSION_SETTLE);
        daemon.kill();
        if drop_records {
            std::fs::remove_dir_all(&resume).map_err(|e| format!("{}: {e}", resume.display()))?;
        }
        let t0 = Instant::now();
        let d = DaemonProc::start(setup, self.env.start_timeout)?;
        let mut meter = Meter::from_start(d.pid())?;
        let ready_at = wait_all_seeding(&d, count, t0 + timeout, &mut meter)?;
        run.set(Metric::Ready, ready_at.duration_since(t0).as_secs_f64());
        run.set(Metric::ReadyCpu, meter.cpu_s());
        run.set(Metric::ReadyRss, meter.rss_mib());
        run.ok = true;
        // The time is measured: a daemon too busy to answer the sample is noted, not failed.
        let check = match sample_checks(&d) {
            Ok(sample) => sample.describe(),
            Err(e) => format!("last_check sample not read: {e}"),
        };
        run.notes.push(check.clone());
        Ok((d, check))
    }

    fn restart_libtorrent(&self, set: &ManySet, timeout: Duration, sc: &mut ScenarioResult) {
        let root = self.env.work.join(format!("restart-{}-libtorrent", set.count));
        crate::util::remove_tree(&root);
        let resume = root.join("resume");
        if let Err(e) = std::fs::create_dir_all(&resume) {
            sc.runs
                .push(RunResult::failed("libtorrent", 0, format!("{}: {e}", resume.display())));
            return;
        }
        log(&format!(
            "restart-{}: libtorrent adds every torrent and saves resume data",
            set.count
        ));
        match self.lt_save_resume(set, &resume, timeout) {
            Ok(secs) => sc.notes.push(format!(
                "libtorrent: adding the {} torrents until all seeded took {secs:.1} s, then resume data saved (not in the table)",
                set.count
            )),
            Err(e) => {
                sc.runs.push(RunResult::failed("libtorrent", 0, truncate(&e, 800)));
                return;
            }
        }
        for rep in 0..self.cfg.repeats {
            log(&format!(
                "restart-{}: libtorrent (run {}/{})",
                set.count,
                rep + 1,
                self.cfg.repeats
            ));
            let mut run = RunResult::new("libtorrent", rep);
            run.bytes = sc.payload_bytes;
            if let Err(e) = self.lt_restart(set, &resume, timeout, &mut run) {
                run.ok = false;
                run.error = Some(truncate(&e, 800));
            }
            log(&format!("restart-{}: libtorrent: {}", set.count, one_line(&run)));
            sc.runs.push(run);
        }
    }

    /// libtorrent adds every torrent, and once all seed writes their resume data;
    /// then it is killed (SIGKILL, when its handle drops). Returns the seconds
    /// until all seeded.
    fn lt_save_resume(&self, set: &ManySet, resume: &Path, timeout: Duration) -> Result<f64, String> {
        let t0 = Instant::now();
        let mut p = self.lt_resume_proc(LtResume::Save, set, resume)?;
        let deadline = t0 + timeout + records_timeout(set.count);
        let mut seeded_s = None;
        loop {
            let (n, last) = p.completes();
            if n >= set.count && seeded_s.is_none() {
                seeded_s = Some(last.unwrap_or_else(Instant::now).duration_since(t0).as_secs_f64());
            }
            if let Some(saved) = p.resume_saved() {
                if saved as usize != set.count {
                    return Err(format!("libtorrent saved {saved} resume files, not {}", set.count));
                }
                return Ok(seeded_s.unwrap_or_else(|| t0.elapsed().as_secs_f64()));
            }
            lt_alive(&mut p, deadline, || {
                format!(
                    "only {n} of {} torrents seeding or their resume data unsaved",
                    set.count
                )
            })?;
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new libtorrent adds every torrent from its resume data; measured until all seed.
    fn lt_restart(&self, set: &ManySet, resume: &Path, timeout: Duration, run: &mut RunResult) -> Result<(), String> {
        let t0 = Instant::now();
        let mut p = self.lt_resume_proc(LtResume::Seed, set, resume)?;
        let mut meter = Meter::from_start(p.pid())?;
        let deadline = t0 + timeout;
        let ready_at = loop {
            let _ = meter.poll();
            let (n, last) = p.completes();
            if n >= set.count {
                break last.unwrap_or_else(Instant::now);
            }
            lt_alive(&mut p, deadline, || {
                format!("only {n} of {} torrents seeding", set.count)
            })?;
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = meter.poll();
        run.set(Metric::Ready, ready_at.duration_since(t0).as_secs_f64());
        run.set(Metric::ReadyCpu, meter.cpu_s());
        run.set(Metric::ReadyRss, meter.rss_mib());
        run.ok = true;
        Ok(())
    }

    fn lt_resume_proc(&self, what: LtResume, set: &ManySet, resume: &Path) -> Result<JsonPeer, String> {
        self.env.start_lt_resume(
            what,
            &set.torrent_dir,
            resume,
            &set.data_dir,
            set.count,
            Ipv4Addr::LOCALHOST,
        )
    }
}

/// Fails when libtorrent reported an error, exited, or `deadline` passed
/// (`waiting` says for what).
fn lt_alive(p: &mut JsonPeer, deadline: Instant, waiting: impl Fn() -> String) -> Result<(), String> {
    if let Some(e) = p.progress()?.error {
        return Err(format!("libtorrent: {e}"));
    }
    if !p.is_running() {
        return Err(format!("libtorrent exited: {}; {}", waiting(), p.logs()));
    }
    if Instant::now() > deadline {
        return Err(format!("libtorrent: {} in time", waiting()));
    }
    Ok(())
}

/// The daemon's config: no cap on checks at once, as libtorrent runs here (no
/// torrent auto-managed, no active limit); with the default of 2 the daemon's
/// queue, scheduled once a second, starts 2 checks a second, resume record or not.
pub(super) fn write_config(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, "[queue]\nmax_active_checks = \"unlimited\"\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// How long the daemon may take to write every resume record.
fn records_timeout(count: usize) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(5 * count as u64)
}

/// The `.torrent` files of `dir`, sorted.
fn torrent_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "torrent"))
        .collect();
    out.sort();
    Ok(out)
}

/// Polls `GET /stats` until `count` torrents seed; when that was seen.
fn wait_all_seeding(d: &DaemonProc, count: usize, deadline: Instant, meter: &mut Meter) -> Result<Instant, String> {
    loop {
        let _ = meter.poll();
        let last = match d.seeding() {
            Ok((_, seeding)) if seeding as usize >= count => return Ok(Instant::now()),
            Ok((total, seeding)) => format!("{seeding} of {total} torrents seeding"),
            Err(e) => e,
        };
        if !d.is_running() {
            return Err(format!("ccbt daemon exited ({last}); {}", d.logs()));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "ccbt daemon: not all {count} torrents seeding in time ({last}); {}",
                d.logs()
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until `dir` holds `count` resume records.
fn wait_records(dir: &Path, count: usize, deadline: Instant) -> Result<(), String> {
    loop {
        let n = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".resume"))
                    .count()
            })
            .unwrap_or(0);
        if n >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {n} of {count} resume records in {} in time",
                dir.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How the torrents of a sample were checked at the daemon's last start.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct CheckSample {
    pub torrents: usize,
    /// Torrents without a `last_check`.
    pub unreported: usize,
    pub hashed_pieces: u64,
    pub trusted_pieces: u64,
    /// Torrents whose record was not used (missing, corrupt, ...).
    pub record_problems: usize,
}

impl CheckSample {
    /// Counts one `TorrentDetail`'s `last_check`.
    fn add(&mut self, detail: &Value) {
        self.torrents += 1;
        let check = &detail["last_check"];
        if !check.is_object() {
            self.unreported += 1;
            return;
        }
        self.hashed_pieces += check["hashed_pieces"].as_u64().unwrap_or(0);
        self.trusted_pieces += check["trusted_pieces"].as_u64().unwrap_or(0);
        if check["record_problem"].is_string() {
            self.record_problems += 1;
        }
    }

    pub fn describe(&self) -> String {
        let mut s = format!(
            "last_check of {} sampled torrents (the biggest among them): {} pieces hashed, {} trusted from resume records, {} without a usable record",
            self.torrents, self.hashed_pieces, self.trusted_pieces, self.record_problems
        );
        if self.unreported > 0 {
            s.push_str(&format!(", {} with no check report", self.unreported));
        }
        s
    }
}

/// Ids of up to `n` torrents spread over `list` (a `GET /torrents` answer), and
/// the biggest one.
fn pick_sample(list: &[Value], n: usize) -> Vec<u64> {
    let mut ids: Vec<u64> = Vec::new();
    let step = (list.len() / n.max(1)).max(1);
    for t in list.iter().step_by(step).take(n) {
        ids.extend(t["id"].as_u64());
    }
    let biggest = list
        .iter()
        .max_by_key(|t| t["total_bytes"].as_u64().unwrap_or(0))
        .and_then(|t| t["id"].as_u64());
    ids.extend(biggest);
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Reads `last_check` of a sample of the daemon's torrents.
fn sample_checks(d: &DaemonProc) -> Result<CheckSample, String> {
    let list = d.get("/torrents")?;
    let list = list
        .as_array()
        .ok_or_else(|| "GET /torrents: not an array".to_string())?;
    let mut sample = CheckSample::default();
    for id in pick_sample(list, CHECK_SAMPLE) {
        sample.add(&d.get(&format!("/torrents/{id}"))?);
    }
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sample_spreads_and_takes_the_biggest() {
        let list: Vec<Value> = (1..=100u64)
            .map(|id| json!({"id": id, "total_bytes": if id == 57 { 1u64 << 30 } else { 65536 }}))
            .collect();
        let ids = pick_sample(&list, 10);
        assert_eq!(ids.len(), 11, "{ids:?}");
        assert!(ids.contains(&1) && ids.contains(&91) && ids.contains(&57), "{ids:?}");
        let few: Vec<Value> = (1..=3u64).map(|id| json!({"id": id, "total_bytes": 5})).collect();
        assert_eq!(pick_sample(&few, 32), vec![1, 2, 3]);
        assert!(pick_sample(&[], 32).is_empty());
    }

    #[test]
    fn check_sample_counts_hashed_and_trusted() {
        let mut s = CheckSample::default();
        s.add(
            &json!({"last_check": {"trusted_pieces": 4, "hashed_pieces": 0, "changed_files": 0,
            "record_problem": null, "millis": 1}}),
        );
        s.add(
            &json!({"last_check": {"trusted_pieces": 0, "hashed_pieces": 16, "changed_files": 0,
            "record_problem": "missing", "millis": 3}}),
        );
        s.add(&json!({"last_check": null}));
        assert_eq!(
            s,
            CheckSample {
                torrents: 3,
                unreported: 1,
                hashed_pieces: 16,
                trusted_pieces: 4,
                record_problems: 1,
            }
        );
        let text = s.describe();
        assert!(
            text.contains("16 pieces hashed") && text.contains("1 with no check report"),
            "{text}"
        );
    }
}
