//! Scenario 7, maindata: the qBittorrent API's `sync/maindata` on a daemon holding
//! thousands of seeding torrents (the restart scenario's data set, added over the
//! native API). Measured: the size and time of a full answer (`rid=0`), then of
//! [`INCREMENTAL_CALLS`] incremental calls, each with the `rid` of the answer
//! before, while nothing changes (p50, p99, largest). qBittorrent's own web UI
//! slows down at this scale because it serialises every torrent each time; the
//! daemon answers from its change log.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::data::{self, ManySet};
use crate::report::ScenarioResult;

use super::Harness;

/// Incremental calls timed after the full answer.
pub const INCREMENTAL_CALLS: usize = 100;
/// One call's time limit.
const CALL_TIMEOUT_SECS: u64 = 60;

/// One `sync/maindata` call: its answer, its size in bytes and its time.
fn call(root: &str, rid: u64) -> Result<(Value, usize, Duration), String> {
    let url = format!("{root}/api/v2/sync/maindata?rid={rid}");
    let t = Instant::now();
    let resp = minreq::get(&url)
        .with_timeout(CALL_TIMEOUT_SECS)
        .send()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let took = t.elapsed();
    if resp.status_code != 200 {
        return Err(format!("GET {url}: status {}", resp.status_code));
    }
    let size = resp.as_bytes().len();
    let v: Value = serde_json::from_slice(resp.as_bytes()).map_err(|e| format!("GET {url}: {e}"))?;
    Ok((v, size, took))
}

/// The `p` quantile (0 to 1) of sorted values, nearest rank; 0 when empty.
pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Harness {
    pub(super) fn maindata(&mut self, set: &ManySet) -> ScenarioResult {
        let title = format!(
            "maindata: qBittorrent `sync/maindata` on a daemon seeding {} torrents ({} each)",
            set.count,
            data::human(set.small_bytes)
        );
        self.seeding_daemon_scenario(
            "maindata",
            set,
            title,
            "one full answer, then incremental answers with nothing changed (see the notes)",
            |api, _| {
                let (full, full_size, full_time) = call(api, 0)?;
                let listed = full["torrents"].as_object().map_or(0, |m| m.len());
                if listed != set.count {
                    return Err(format!("the full answer lists {listed} torrents, not {}", set.count));
                }
                let mut rid = full["rid"].as_u64().ok_or("no rid in the full answer")?;
                // Settle: the first incremental call after the full one may still carry
                // the figures that moved meanwhile.
                rid = call(api, rid)?.0["rid"].as_u64().unwrap_or(rid);
                let mut times = Vec::with_capacity(INCREMENTAL_CALLS);
                let mut sizes = Vec::with_capacity(INCREMENTAL_CALLS);
                for _ in 0..INCREMENTAL_CALLS {
                    let (v, size, took) = call(api, rid)?;
                    rid = v["rid"].as_u64().unwrap_or(rid);
                    times.push(took.as_secs_f64() * 1000.0);
                    sizes.push(size);
                }
                times.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                sizes.sort_unstable();
                Ok(vec![
                    format!(
                        "full answer (rid=0): {} bytes in {:.1} ms",
                        full_size,
                        full_time.as_secs_f64() * 1000.0
                    ),
                    format!(
                        "{INCREMENTAL_CALLS} incremental answers, nothing changed: p50 {:.2} ms, p99 {:.2} ms; \
                         size p50 {} bytes, largest {} bytes",
                        percentile(&times, 0.5),
                        percentile(&times, 0.99),
                        sizes.get(sizes.len() / 2).copied().unwrap_or(0),
                        sizes.last().copied().unwrap_or(0),
                    ),
                ])
            },
        )
    }
}
