//! Scenario 1, download: the fixed seeder sends a data set to each contestant in turn.

use std::collections::BTreeSet;

use crate::data::{self, Dataset};
use crate::participant::{Contestant, Participant};
use crate::report::{truncate, RunResult, ScenarioResult};

use super::transfer::one_line;
use super::{log, rotate, Harness, ScenarioKind};

impl Harness {
    /// Scenario 1: the fixed seeder sends `ds` to each contestant in turn.
    pub(super) fn download(&mut self, ds: &Dataset, id: &str, desc: &str) -> ScenarioResult {
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
}
