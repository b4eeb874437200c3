//! Scenario 3, fan-out: each contestant seeds a data set to several downloaders at once.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::data::{self, Dataset};
use crate::participant::Contestant;
use crate::report::{truncate, Metric, RunResult, ScenarioResult};

use super::transfer::one_line;
use super::{log, rotate, Harness, ScenarioKind};

impl Harness {
    /// Scenario 3: each contestant seeds `ds` to `fanout` downloaders at once.
    pub(super) fn fanout(&mut self, ds: &Dataset) -> ScenarioResult {
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
}
