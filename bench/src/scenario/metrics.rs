//! Scenario 8, metrics: `GET /metrics` on a daemon holding thousands of seeding
//! torrents (the restart scenario's data set), per-torrent series off as by
//! default. Measured: [`SCRAPES`] scrapes one after the other, their time (p50,
//! p99, largest) and size. The target is a scrape under 50 ms at 10,000
//! torrents: a scrape must not grow with the torrents when their series are off.

use std::time::{Duration, Instant};

use crate::data::{self, ManySet};
use crate::report::ScenarioResult;

use super::maindata::percentile;
use super::Harness;

/// Scrapes timed.
pub const SCRAPES: usize = 100;
/// One scrape's time limit.
const SCRAPE_TIMEOUT_SECS: u64 = 60;

/// One scrape: its size in bytes, its sample lines and its time.
fn scrape(root: &str, token: &str) -> Result<(usize, usize, Duration), String> {
    let url = format!("{root}/metrics");
    let t = Instant::now();
    let resp = minreq::get(&url)
        .with_header("Authorization", format!("Bearer {token}"))
        .with_timeout(SCRAPE_TIMEOUT_SECS)
        .send()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let took = t.elapsed();
    if resp.status_code != 200 {
        return Err(format!("GET {url}: status {}", resp.status_code));
    }
    let text = resp.as_str().map_err(|e| format!("GET {url}: {e}"))?;
    let samples = text.lines().filter(|l| !l.starts_with('#')).count();
    Ok((text.len(), samples, took))
}

impl Harness {
    pub(super) fn metrics(&mut self, set: &ManySet) -> ScenarioResult {
        let title = format!(
            "metrics: `GET /metrics` on a daemon seeding {} torrents ({} each), per-torrent series off",
            set.count,
            data::human(set.small_bytes)
        );
        self.seeding_daemon_scenario(
            "metrics",
            set,
            title,
            "scrapes one after the other (see the notes)",
            |api, state_dir| {
                let token_path = state_dir.join("api.token");
                let token = std::fs::read_to_string(&token_path)
                    .map_err(|e| format!("{}: {e}", token_path.display()))?
                    .trim()
                    .to_string();
                // The first scrape warms what the others reuse (connection, allocator).
                scrape(api, &token)?;
                let mut times = Vec::with_capacity(SCRAPES);
                let mut sizes = Vec::with_capacity(SCRAPES);
                let mut samples = 0;
                for _ in 0..SCRAPES {
                    let (size, lines, took) = scrape(api, &token)?;
                    times.push(took.as_secs_f64() * 1000.0);
                    sizes.push(size);
                    samples = lines;
                }
                times.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                sizes.sort_unstable();
                Ok(vec![
                    format!(
                        "{SCRAPES} scrapes of /metrics: p50 {:.2} ms, p99 {:.2} ms, largest {:.2} ms (target: under 50 ms)",
                        percentile(&times, 0.5),
                        percentile(&times, 0.99),
                        times.last().copied().unwrap_or(0.0),
                    ),
                    format!(
                        "answer: {} bytes (p50), {samples} samples",
                        sizes.get(sizes.len() / 2).copied().unwrap_or(0)
                    ),
                ])
            },
        )
    }
}
