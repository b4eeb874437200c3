//! Results: one record per run, medians and spread per contestant, ratios of ccbt
//! against every peer, rendered as markdown tables and JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

pub const GIB: f64 = (1u64 << 30) as f64;
pub const MB: f64 = 1e6;

/// One measured run of one contestant.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunResult {
    pub contestant: String,
    pub repeat: usize,
    /// Finished and (when checked) verified.
    pub ok: bool,
    /// Stopped at the run's time limit; the rate counts the bytes done by then.
    pub partial: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Payload bytes moved (all downloaders together in fan-out).
    pub bytes: u64,
    /// Metrics by name (see [`Metric`]).
    pub metrics: BTreeMap<&'static str, f64>,
    /// Whether the data on disk matched every piece hash (None: not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Share of the seeder's data in the page cache when the run started (fincore).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeder_cache_pct: Option<f64>,
    /// ccbt's own latency percentiles from its last status line (other clients: None).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The `latency` object of a ccbt `--json` status line, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LatencyReport {
    pub block_p50_us: u64,
    pub block_p99_us: u64,
    pub hash_p50_us: u64,
    pub hash_p99_us: u64,
    pub write_p50_us: u64,
    pub write_p99_us: u64,
}

impl LatencyReport {
    /// Reads `status["latency"]`; None when the line has no such object.
    pub fn from_status(status: &serde_json::Value) -> Option<LatencyReport> {
        let l = status.get("latency")?.as_object()?;
        let f = |k: &str| l.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Some(LatencyReport {
            block_p50_us: f("block_p50_us"),
            block_p99_us: f("block_p99_us"),
            hash_p50_us: f("hash_p50_us"),
            hash_p99_us: f("hash_p99_us"),
            write_p50_us: f("write_p50_us"),
            write_p99_us: f("write_p99_us"),
        })
    }

    /// `block request→arrival p50 1.20 ms / p99 8.00 ms; piece hash …; piece write …`.
    pub fn describe(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "block request→arrival p50 {:.2} ms / p99 {:.2} ms; piece hash p50 {:.2} ms / p99 {:.2} ms; \
             piece write p50 {:.2} ms / p99 {:.2} ms",
            ms(self.block_p50_us),
            ms(self.block_p99_us),
            ms(self.hash_p50_us),
            ms(self.hash_p99_us),
            ms(self.write_p50_us),
            ms(self.write_p99_us),
        )
    }
}

impl RunResult {
    pub fn new(contestant: &str, repeat: usize) -> Self {
        RunResult {
            contestant: contestant.to_string(),
            repeat,
            ..Default::default()
        }
    }

    pub fn set(&mut self, m: Metric, v: f64) {
        if v.is_finite() {
            self.metrics.insert(m.key(), v);
        }
    }

    pub fn get(&self, m: Metric) -> Option<f64> {
        self.metrics.get(m.key()).copied()
    }

    pub fn failed(contestant: &str, repeat: usize, error: String) -> Self {
        RunResult {
            error: Some(error),
            ..RunResult::new(contestant, repeat)
        }
    }
}

/// A measured quantity, its unit and which direction is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Seconds from start of the measured transfer to the last piece verified.
    Wall,
    /// Payload MB/s (10^6 bytes).
    Rate,
    /// CPU seconds (user+sys) of the measured process.
    Cpu,
    /// CPU seconds per GiB of payload.
    CpuPerGib,
    /// Peak RSS (VmHWM), MiB.
    PeakRss,
    /// Seconds from process start until seeding (recheck / loading every torrent).
    Ready,
    /// CPU seconds spent getting ready.
    ReadyCpu,
    /// RSS right after getting ready, MiB.
    ReadyRss,
    /// Seconds from a magnet's add to its metadata.
    Metadata,
    /// Seconds from the add to the first verified piece.
    FirstPiece,
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Metric::Wall,
        Metric::Rate,
        Metric::Cpu,
        Metric::CpuPerGib,
        Metric::PeakRss,
        Metric::Ready,
        Metric::ReadyCpu,
        Metric::ReadyRss,
        Metric::Metadata,
        Metric::FirstPiece,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Metric::Wall => "wall_s",
            Metric::Rate => "rate_mb_s",
            Metric::Cpu => "cpu_s",
            Metric::CpuPerGib => "cpu_s_per_gib",
            Metric::PeakRss => "peak_rss_mib",
            Metric::Ready => "ready_s",
            Metric::ReadyCpu => "ready_cpu_s",
            Metric::ReadyRss => "ready_rss_mib",
            Metric::Metadata => "metadata_s",
            Metric::FirstPiece => "first_piece_s",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Metric::Wall => "wall s",
            Metric::Rate => "MB/s",
            Metric::Cpu => "CPU-s",
            Metric::CpuPerGib => "CPU-s/GiB",
            Metric::PeakRss => "peak RSS MiB",
            Metric::Ready => "ready s",
            Metric::ReadyCpu => "ready CPU-s",
            Metric::ReadyRss => "RSS after load MiB",
            Metric::Metadata => "metadata s",
            Metric::FirstPiece => "first piece s",
        }
    }

    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Rate)
    }
}

/// Median and range of one metric over a contestant's runs.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stat {
    pub fn of(values: &[f64]) -> Option<Stat> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

/// One contestant's runs summarized.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub contestant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub runs: usize,
    pub ok: usize,
    pub partial: usize,
    pub stats: BTreeMap<&'static str, Stat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl Summary {
    pub fn stat(&self, m: Metric) -> Option<Stat> {
        self.stats.get(m.key()).copied()
    }
}

/// ccbt's median divided by a peer's, per metric.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ratio {
    /// The peer's name, or `best peer` for the row against the best peer per metric.
    pub peer: String,
    /// This row compares against the best peer of each metric (named in `against`).
    pub best: bool,
    pub ratios: BTreeMap<&'static str, f64>,
    /// For the best-peer row: which peer was best, per metric.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub against: BTreeMap<&'static str, String>,
    /// Ratios built on partial runs only (a time limit hit), per metric.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<&'static str>,
}

/// One scenario (one table).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScenarioResult {
    /// Machine name: `download-single`, `seed`, `fanout`, `many-1000`, ...
    pub id: String,
    pub title: String,
    /// Whose process the CPU and RSS columns measure.
    pub measured: String,
    pub payload_bytes: u64,
    pub notes: Vec<String>,
    pub runs: Vec<RunResult>,
    pub summaries: Vec<Summary>,
    pub ratios: Vec<Ratio>,
    /// Contestants asked for but not run, and why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, String>,
    /// Columns shown in the markdown table.
    #[serde(skip)]
    pub columns: Vec<Metric>,
    /// The metric whose spread is shown, and the metrics ratios are given for.
    #[serde(skip)]
    pub spread_of: Vec<Metric>,
    #[serde(skip)]
    pub ratio_of: Vec<Metric>,
}

impl ScenarioResult {
    /// Fills `summaries` and `ratios` from `runs`, in the order contestants first
    /// appear; `versions` names each contestant's version.
    pub fn summarize(&mut self, versions: &BTreeMap<String, String>) {
        let skipped = self.skipped.clone();
        let mut order: Vec<String> = Vec::new();
        for r in &self.runs {
            if !order.contains(&r.contestant) {
                order.push(r.contestant.clone());
            }
        }
        for name in skipped.keys() {
            if !order.contains(name) {
                order.push(name.clone());
            }
        }
        self.summaries = order
            .iter()
            .map(|name| {
                let runs: Vec<&RunResult> = self.runs.iter().filter(|r| &r.contestant == name).collect();
                // Partial runs count: their rate is a lower bound, marked in the table.
                let usable: Vec<&&RunResult> = runs.iter().filter(|r| r.ok || r.partial).collect();
                let mut stats = BTreeMap::new();
                for m in Metric::ALL {
                    let vals: Vec<f64> = usable.iter().filter_map(|r| r.get(m)).collect();
                    if let Some(s) = Stat::of(&vals) {
                        stats.insert(m.key(), s);
                    }
                }
                Summary {
                    contestant: name.clone(),
                    version: versions.get(name).cloned(),
                    runs: runs.len(),
                    ok: runs.iter().filter(|r| r.ok).count(),
                    partial: runs.iter().filter(|r| r.partial).count(),
                    stats,
                    skipped: skipped.get(name).cloned(),
                }
            })
            .collect();
        self.ratios = ratios(&self.summaries, &self.ratio_of);
    }

    /// The markdown section: heading, table, ratios, notes.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### {}\n", self.title);
        let _ = writeln!(s, "CPU and RSS: {}.\n", self.measured);
        let mut head = vec!["contestant".to_string(), "runs".to_string()];
        head.extend(self.columns.iter().map(|m| format!("{} (median)", m.header())));
        head.extend(self.spread_of.iter().map(|m| format!("{} min..max", m.header())));
        let _ = writeln!(s, "| {} |", head.join(" | "));
        let _ = writeln!(s, "|{}|", vec!["---"; head.len()].join("|"));
        for sum in &self.summaries {
            let mut row = vec![sum.contestant.clone()];
            let runs = if sum.partial > 0 {
                format!("{}/{} ({} partial*)", sum.ok, sum.runs, sum.partial)
            } else {
                format!("{}/{}", sum.ok, sum.runs)
            };
            row.push(runs);
            if sum.runs == 0 || (sum.ok == 0 && sum.partial == 0) {
                let why = sum
                    .skipped
                    .clone()
                    .or_else(|| self.first_error(&sum.contestant))
                    .unwrap_or_else(|| "no result".into());
                row.push(format!("— {}", truncate(&why, 160)));
                for _ in 1..self.columns.len() + self.spread_of.len() {
                    row.push(String::new());
                }
            } else {
                for m in &self.columns {
                    row.push(sum.stat(*m).map(|st| fmt_num(st.median)).unwrap_or_else(|| "—".into()));
                }
                for m in &self.spread_of {
                    row.push(
                        sum.stat(*m)
                            .map(|st| format!("{}..{}", fmt_num(st.min), fmt_num(st.max)))
                            .unwrap_or_else(|| "—".into()),
                    );
                }
            }
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(s);
            let mut head = vec!["ccbt / peer".to_string()];
            head.extend(self.ratio_of.iter().map(|m| {
                let better = if m.higher_is_better() { "higher" } else { "lower" };
                format!("{} ({better} is better)", m.header())
            }));
            let _ = writeln!(s, "| {} |", head.join(" | "));
            let _ = writeln!(s, "|{}|", vec!["---"; head.len()].join("|"));
            for r in &self.ratios {
                let mut row = vec![if r.best {
                    "**best peer**".to_string()
                } else {
                    r.peer.clone()
                }];
                for m in &self.ratio_of {
                    let star = if r.partial.contains(&m.key()) { "*" } else { "" };
                    let cell = r.ratios.get(m.key()).map(|v| match r.against.get(m.key()) {
                        Some(who) if r.best => format!("**{v:.2}x**{star} ({who})"),
                        _ => format!("{v:.2}x{star}"),
                    });
                    row.push(cell.unwrap_or_else(|| "—".into()));
                }
                let _ = writeln!(s, "| {} |", row.join(" | "));
            }
        }
        let failures: Vec<String> = self
            .runs
            .iter()
            .filter(|r| !r.ok)
            .filter_map(|r| {
                r.error
                    .as_ref()
                    .map(|e| format!("{} run {}: {}", r.contestant, r.repeat + 1, truncate(e, 300)))
            })
            .collect();
        if self.summaries.iter().any(|s| s.partial > 0) {
            let _ = writeln!(
                s,
                "\n\\* partial: stopped at the run's time limit; the rate counts the bytes done by then (a lower bound); a ratio marked * rests on such a run."
            );
        }
        for n in self.notes.iter().chain(failures.iter()) {
            let _ = writeln!(s, "\n- {}", n.replace('\n', " "));
        }
        s
    }

    fn first_error(&self, contestant: &str) -> Option<String> {
        self.runs
            .iter()
            .filter(|r| r.contestant == contestant)
            .find_map(|r| r.error.clone())
            .map(|e| e.lines().next().unwrap_or("").to_string())
    }
}

/// ccbt against every other summarized contestant, then against the best peer
/// per metric.
pub fn ratios(summaries: &[Summary], metrics: &[Metric]) -> Vec<Ratio> {
    let Some(ccbt) = summaries.iter().find(|s| s.contestant == "ccbt") else {
        return Vec::new();
    };
    let peers: Vec<&Summary> = summaries.iter().filter(|s| s.contestant != "ccbt").collect();
    let mut out = Vec::new();
    for p in &peers {
        let mut r = Ratio {
            peer: p.contestant.clone(),
            ..Default::default()
        };
        for m in metrics {
            if let (Some(a), Some(b)) = (ccbt.stat(*m), p.stat(*m)) {
                if b.median > 0.0 {
                    r.ratios.insert(m.key(), a.median / b.median);
                    if only_partial(ccbt) || only_partial(p) {
                        r.partial.push(m.key());
                    }
                }
            }
        }
        if !r.ratios.is_empty() {
            out.push(r);
        }
    }
    // Best peer, per metric.
    let mut best = Ratio::default();
    for m in metrics {
        let Some(a) = ccbt.stat(*m) else { continue };
        let candidates = peers
            .iter()
            .filter_map(|p| p.stat(*m).map(|st| (p.contestant.as_str(), st.median)))
            .filter(|(_, v)| *v > 0.0);
        let pick = if m.higher_is_better() {
            candidates.max_by(|x, y| x.1.total_cmp(&y.1))
        } else {
            candidates.min_by(|x, y| x.1.total_cmp(&y.1))
        };
        if let Some((name, v)) = pick {
            best.ratios.insert(m.key(), a.median / v);
            best.against.insert(m.key(), name.to_string());
            let peer_partial = peers.iter().any(|p| p.contestant == name && only_partial(p));
            if only_partial(ccbt) || peer_partial {
                best.partial.push(m.key());
            }
        }
    }
    if !best.ratios.is_empty() && peers.len() > 1 {
        best.peer = "best peer".to_string();
        best.best = true;
        out.push(best);
    }
    out
}

/// Whether every usable run of this contestant stopped at the time limit.
fn only_partial(s: &Summary) -> bool {
    s.ok == 0 && s.partial > 0
}

pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

pub fn truncate(s: &str, n: usize) -> String {
    let one = s.replace('\n', " ");
    if one.chars().count() <= n {
        return one;
    }
    let mut t: String = one.chars().take(n).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, rate: f64, cpu_gib: f64) -> RunResult {
        let mut r = RunResult::new(name, 0);
        r.ok = true;
        r.set(Metric::Rate, rate);
        r.set(Metric::CpuPerGib, cpu_gib);
        r
    }

    #[test]
    fn latency_from_ccbt_status_line() {
        let line = serde_json::json!({"type": "status", "latency": {
            "block_p50_us": 1200, "block_p99_us": 8000, "hash_p50_us": 900,
            "hash_p99_us": 1500, "write_p50_us": 300, "write_p99_us": 700}});
        let l = LatencyReport::from_status(&line).unwrap();
        assert_eq!((l.block_p50_us, l.hash_p99_us, l.write_p99_us), (1200, 1500, 700));
        assert!(l.describe().contains("p50 1.20 ms / p99 8.00 ms"), "{}", l.describe());
        assert_eq!(LatencyReport::from_status(&serde_json::json!({"type": "status"})), None);
        let mut r = RunResult::new("ccbt", 0);
        r.latency = Some(l);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["latency"]["block_p99_us"], 8000);
    }

    #[test]
    fn median_and_spread() {
        let s = Stat::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = Stat::of(&[4.0, 1.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(Stat::of(&[]).is_none());
    }

    #[test]
    fn ratios_against_each_peer_and_best() {
        let mut sc = ScenarioResult {
            runs: vec![
                run("ccbt", 400.0, 2.0),
                run("libtorrent", 500.0, 2.5),
                run("aria2", 300.0, 1.6),
            ],
            ratio_of: vec![Metric::Rate, Metric::CpuPerGib],
            columns: vec![Metric::Rate, Metric::CpuPerGib],
            spread_of: vec![Metric::Rate],
            ..Default::default()
        };
        sc.summarize(&BTreeMap::new());
        assert_eq!(sc.ratios.len(), 3);
        let best = &sc.ratios[2];
        assert!((best.ratios["rate_mb_s"] - 0.8).abs() < 1e-9);
        assert!((best.ratios["cpu_s_per_gib"] - 1.25).abs() < 1e-9);
        assert!(best.best);
        assert_eq!(best.against["rate_mb_s"], "libtorrent");
        assert_eq!(best.against["cpu_s_per_gib"], "aria2");
        let md = sc.markdown();
        assert!(md.contains("| ccbt | 1/1 | 400.0 | 2.00 | 400.0..400.0 |"), "{md}");
    }
}
