//! Scenario 4, many torrents: a seeder loads thousands of torrents, then serves a probe.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::data::{self, Dataset, ManySet};
use crate::participant::{Contestant, Participant};
use crate::procstat::Meter;
use crate::report::{truncate, Metric, RunResult, ScenarioResult};

use super::transfer::one_line;
use super::{log, rotate, Harness, ScenarioKind};

impl Harness {
    /// Scenario 4: a seeder loads `set.count` torrents with their data; then the
    /// fixed downloader fetches the probe torrent from it.
    pub(super) fn many(&mut self, set: &ManySet) -> ScenarioResult {
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
    pub(super) fn many_run(
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
}
