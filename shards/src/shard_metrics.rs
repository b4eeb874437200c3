//! Each shard's figures for monitoring, published once a second on a board any
//! thread can read: the shard's I/O counters, how busy its core is, its read cache,
//! connections and open files.
//!
//! The shard writes its own slot with each status (one short lock a second, never
//! on the data path); a reader (a `/metrics` scrape) takes the latest copies without
//! waiting for any shard, so a scrape costs the shards nothing and a busy shard
//! cannot slow a scrape.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use ccbt_io::read_cache::CacheStats;
pub use ccbt_io::shard_counters::{DisconnectCounts, IoCounters};

/// One shard's figures as it last published them.
#[derive(Clone, Debug, Default)]
pub struct ShardMetrics {
    pub shard: usize,
    /// Everything the shard's I/O counted since the session started.
    pub io: IoCounters,
    /// Share of the last status interval the executor spent running tasks, 0 to 100.
    pub busy_percent: f64,
    /// Time the executor spent running tasks since the session started.
    pub busy: Duration,
    /// The shard's read cache of whole pieces.
    pub cache: CacheStats,
    /// Peer connections open, and dials not yet answered.
    pub open_connections: usize,
    pub half_open: usize,
    /// Files this shard holds open (one bounded pool for all its torrents).
    pub open_files: usize,
    /// Torrent tasks running on the shard (checked, not failed).
    pub running_torrents: usize,
}

/// Every shard's latest [`ShardMetrics`].
#[derive(Debug)]
pub struct ShardMetricsBoard {
    slots: Vec<Mutex<ShardMetrics>>,
}

impl ShardMetricsBoard {
    pub(crate) fn new(shards: usize) -> ShardMetricsBoard {
        ShardMetricsBoard {
            slots: (0..shards)
                .map(|shard| {
                    Mutex::new(ShardMetrics {
                        shard,
                        ..ShardMetrics::default()
                    })
                })
                .collect(),
        }
    }

    pub(crate) fn publish(&self, metrics: ShardMetrics) {
        if let Some(slot) = self.slots.get(metrics.shard) {
            // A poisoned slot only means a reader panicked mid-copy; the value is whole.
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            *slot = metrics;
        }
    }

    /// Every shard's figures, by shard index.
    pub fn read(&self) -> Vec<ShardMetrics> {
        self.slots
            .iter()
            .map(|slot| slot.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }
}

/// Measures how busy a shard's executor is from glommio's own accounting of the
/// time it spent running tasks (polling for I/O and sleeping are not counted).
pub(crate) struct BusyMeter {
    last: Instant,
    total: Duration,
}

impl BusyMeter {
    pub(crate) fn new() -> BusyMeter {
        // glommio hands out its figures since they were last taken: start from now.
        let _ = glommio::executor().executor_stats();
        BusyMeter {
            last: Instant::now(),
            total: Duration::ZERO,
        }
    }

    /// Time spent running tasks since the last call, as a share of the wall time
    /// since then (0 to 100), and the running total. Call from the shard's thread.
    pub(crate) fn sample(&mut self) -> (f64, Duration) {
        let ran = glommio::executor().executor_stats().executor_runtime();
        let now = Instant::now();
        let wall = now.duration_since(self.last);
        self.last = now;
        self.total += ran;
        (busy_percent(ran, wall), self.total)
    }
}

/// `ran` as a percentage of `wall`, within 0 to 100 (0 when no time passed).
fn busy_percent(ran: Duration, wall: Duration) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    (ran.as_secs_f64() / wall.as_secs_f64() * 100.0).clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_percent_is_a_bounded_share() {
        assert_eq!(busy_percent(Duration::from_millis(250), Duration::from_secs(1)), 25.0);
        assert_eq!(busy_percent(Duration::from_secs(2), Duration::from_secs(1)), 100.0);
        assert_eq!(busy_percent(Duration::from_millis(5), Duration::ZERO), 0.0);
    }

    #[test]
    fn a_spinning_executor_reads_busy_an_idle_one_not() {
        let ex = glommio::LocalExecutorBuilder::default()
            .spawn(|| async move {
                let mut meter = BusyMeter::new();
                glommio::timer::sleep(Duration::from_millis(200)).await;
                let (idle, _) = meter.sample();
                let spin_until = Instant::now() + Duration::from_millis(200);
                while Instant::now() < spin_until {
                    std::hint::black_box(0u64);
                }
                // The task above is still running: its time is accounted when it yields.
                glommio::executor().yield_task_queue_now().await;
                let (busy, total) = meter.sample();
                (idle, busy, total)
            })
            .unwrap();
        let (idle, busy, total) = ex.join().unwrap();
        assert!(idle < 20.0, "sleeping executor read {idle}% busy");
        assert!(busy > 50.0, "spinning executor read {busy}% busy");
        assert!(total >= Duration::from_millis(150), "{total:?}");
    }

    #[test]
    fn the_board_keeps_the_latest_of_each_shard() {
        let board = ShardMetricsBoard::new(2);
        let mut m = ShardMetrics {
            shard: 1,
            busy_percent: 12.5,
            ..Default::default()
        };
        m.io.handshakes = 3;
        board.publish(m);
        board.publish(ShardMetrics {
            shard: 7,
            ..Default::default()
        });
        let read = board.read();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].shard, 0);
        assert_eq!(read[1].busy_percent, 12.5);
        assert_eq!(read[1].io.handshakes, 3);
    }
}
