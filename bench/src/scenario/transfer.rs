//! One seeder and its downloaders: started, watched until complete (redialling a
//! downloader left without a peer), measured from outside, and the copies verified.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::data::{self, Dataset};
use crate::participant::{catch, Contestant, Participant, Progress};
use crate::procstat::Meter;
use crate::report::{truncate, Metric, RunResult, GIB, MB};
use crate::util::{remove_tree, verify};

use super::Harness;

/// A participant being watched until it completes.
pub(super) struct Watched {
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
pub(super) struct Transfer {
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

impl Harness {
    /// One downloader fetching `torrent` from `seeder`: measures the downloader
    /// (or, with `measure_seeder`, the seeder), then verifies the copy.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn transfer_run(
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
    pub(super) fn transfer(
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
    pub(super) fn finish_transfer(
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
pub(super) fn tail(s: &str, n: usize) -> String {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

pub(super) fn one_line(r: &RunResult) -> String {
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
