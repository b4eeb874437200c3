//! Scenario 2, seed: each contestant seeds a data set to the fixed downloader.

use std::collections::BTreeSet;

use crate::data::{self, Dataset};
use crate::participant::Contestant;
use crate::procstat::Meter;
use crate::report::{truncate, Metric, RunResult, ScenarioResult};

use super::transfer::one_line;
use super::{log, rotate, Harness, ScenarioKind};

impl Harness {
    /// Scenario 2: each contestant seeds `ds` to the fixed downloader.
    pub(super) fn seed(&mut self, ds: &Dataset) -> ScenarioResult {
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
}
