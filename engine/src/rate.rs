//! Transfer rate over a short sliding window, from caller-supplied instants.

use std::time::{Duration, Instant};

/// Width of one accounting bucket.
pub const RATE_BUCKET: Duration = Duration::from_secs(1);

/// Buckets in the window: the rate reflects roughly the last five seconds, long
/// enough to smooth request/response bursts, short enough for the choker (10 s
/// rounds) and pipeline depth to react.
pub const RATE_WINDOW_BUCKETS: usize = 5;

/// The smallest span a rate is averaged over, so a single early burst does not
/// read as an absurd rate.
const MIN_RATE_SPAN: Duration = RATE_BUCKET;

/// Bytes per second over the last [`RATE_WINDOW_BUCKETS`] × [`RATE_BUCKET`].
#[derive(Clone, Debug)]
pub struct RateEstimator {
    start: Instant,
    /// Bytes per bucket, a ring indexed by bucket number modulo the window.
    bytes: [u64; RATE_WINDOW_BUCKETS],
    /// Which bucket number each ring slot currently holds.
    epochs: [u64; RATE_WINDOW_BUCKETS],
    total: u64,
}

impl RateEstimator {
    /// An estimator with nothing recorded; `now` anchors the buckets.
    pub fn new(now: Instant) -> Self {
        RateEstimator {
            start: now,
            bytes: [0; RATE_WINDOW_BUCKETS],
            epochs: [0; RATE_WINDOW_BUCKETS],
            total: 0,
        }
    }

    /// Counts `bytes` transferred at `now`. Instants older than the window are only
    /// added to the total.
    pub fn record(&mut self, now: Instant, bytes: u64) {
        self.total = self.total.saturating_add(bytes);
        let epoch = self.epoch(now);
        let slot = slot_of(epoch);
        if self.epochs[slot] < epoch {
            self.epochs[slot] = epoch;
            self.bytes[slot] = 0;
        }
        if self.epochs[slot] == epoch {
            self.bytes[slot] = self.bytes[slot].saturating_add(bytes);
        }
    }

    /// Bytes per second over the window ending at `now`.
    pub fn rate(&self, now: Instant) -> u64 {
        let epoch = self.epoch(now);
        let oldest = epoch.saturating_sub(RATE_WINDOW_BUCKETS as u64 - 1);
        let sum: u128 = self
            .epochs
            .iter()
            .zip(self.bytes.iter())
            .filter(|(&e, _)| e >= oldest && e <= epoch)
            .map(|(_, &b)| u128::from(b))
            .sum();

        // The window is the full buckets before the current one plus the part of the
        // current bucket that has elapsed; never longer than we have been measuring.
        let elapsed = now.saturating_duration_since(self.start);
        let into_bucket = elapsed.as_nanos() % RATE_BUCKET.as_nanos();
        let full = (epoch - oldest) as u128 * RATE_BUCKET.as_nanos();
        let span = (full + into_bucket)
            .min(elapsed.as_nanos())
            .max(MIN_RATE_SPAN.as_nanos());
        let rate = sum * 1_000_000_000 / span;
        u64::try_from(rate).unwrap_or(u64::MAX)
    }

    /// Every byte ever recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn epoch(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.start).as_nanos();
        u64::try_from(nanos / RATE_BUCKET.as_nanos()).unwrap_or(u64::MAX)
    }
}

fn slot_of(epoch: u64) -> usize {
    (epoch % RATE_WINDOW_BUCKETS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn empty_is_zero() {
        let t0 = Instant::now();
        let r = RateEstimator::new(t0);
        assert_eq!(r.rate(t0), 0);
        assert_eq!(r.rate(t0 + ms(10_000)), 0);
        assert_eq!(r.total(), 0);
    }

    #[test]
    fn steady_stream_reads_its_rate() {
        let t0 = Instant::now();
        let mut r = RateEstimator::new(t0);
        // 100 KB every 100 ms = 1 MB/s, for 20 s.
        for i in 1..=200u64 {
            r.record(t0 + ms(i * 100), 100_000);
        }
        let rate = r.rate(t0 + ms(20_050));
        assert!((950_000..=1_100_000).contains(&rate), "{rate}");
        assert_eq!(r.total(), 20_000_000);
    }

    #[test]
    fn first_second_is_not_inflated() {
        let t0 = Instant::now();
        let mut r = RateEstimator::new(t0);
        r.record(t0 + ms(1), 50_000);
        assert_eq!(r.rate(t0 + ms(2)), 50_000);
        r.record(t0 + ms(2_500), 50_000);
        // 100 KB over 2.5 s.
        assert_eq!(r.rate(t0 + ms(2_500)), 40_000);
    }

    #[test]
    fn old_traffic_leaves_the_window() {
        let t0 = Instant::now();
        let mut r = RateEstimator::new(t0);
        for i in 0..10u64 {
            r.record(t0 + ms(i * 1000 + 500), 1_000);
        }
        assert!(r.rate(t0 + ms(10_000)) > 0);
        assert_eq!(r.rate(t0 + ms(16_000)), 0);
        assert_eq!(r.total(), 10_000);
        // After a pause, the ring reuses slots without counting stale buckets.
        r.record(t0 + ms(30_200), 5_000);
        assert_eq!(r.rate(t0 + ms(30_500)), 5_000 * 1000 / 4_500);
    }

    #[test]
    fn out_of_order_and_early_instants_are_safe() {
        let t0 = Instant::now() + ms(10_000);
        let mut r = RateEstimator::new(t0);
        r.record(t0 - ms(5_000), 100); // before start: counts into bucket 0
        r.record(t0 + ms(7_000), 100);
        r.record(t0 + ms(8_000), 100);
        r.record(t0 + ms(2_000), 100); // its slot already holds a newer bucket
        assert_eq!(r.total(), 400);
        assert_eq!(r.rate(t0 - ms(1)), 100);
        assert_eq!(r.rate(t0 + ms(8_000)), 200 * 1000 / 4_000);
        r.record(t0, u64::MAX);
        assert_eq!(r.total(), u64::MAX);
    }
}
