//! Latency percentiles: an hdrhistogram in microseconds and the small summary status output carries,
//! and the same samples counted into fixed buckets for exporting as a Prometheus histogram.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Lowest trackable value, in microseconds.
const LOW_US: u64 = 1;
/// Highest trackable value, in microseconds (60 s); longer samples are clamped to it.
const HIGH_US: u64 = 60_000_000;
/// Significant decimal digits kept per value.
const SIGFIG: u8 = 3;

/// Count and percentiles of recorded latencies, in microseconds. All zero when nothing was recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Records durations into a histogram (1 us .. 60 s, 3 significant digits).
///
/// The histogram (about 150 KiB of counters) is made at the first sample: a seeding
/// torrent records none, and 10,000 of them with three eager histograms each held
/// 4 GiB (ccbt-bench many-10000, peak RSS 4140 MiB).
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    histogram: Option<Histogram<u64>>,
    /// The same samples in fixed buckets (exact counts and sum), made with the histogram.
    buckets: Option<Box<LatencyBuckets>>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    pub fn new() -> Self {
        Self {
            histogram: None,
            buckets: None,
        }
    }

    /// Records one sample; values outside 1 us .. 60 s are clamped to the range.
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(LOW_US, HIGH_US);
        if self.histogram.is_none() {
            // The bounds are constants hdrhistogram accepts; were they refused, recording would be a no-op.
            self.histogram = Histogram::new_with_bounds(LOW_US, HIGH_US, SIGFIG).ok();
        }
        if let Some(h) = self.histogram.as_mut() {
            h.saturating_record(us);
        }
        self.buckets.get_or_insert_with(Default::default).record(latency);
    }

    /// Every sample so far in [`LATENCY_BUCKET_BOUNDS_US`] buckets (empty when none).
    pub fn buckets(&self) -> LatencyBuckets {
        self.buckets.as_deref().copied().unwrap_or_default()
    }

    pub fn count(&self) -> u64 {
        self.histogram.as_ref().map_or(0, Histogram::len)
    }

    pub fn summary(&self) -> LatencySummary {
        match self.histogram.as_ref() {
            Some(h) if !h.is_empty() => LatencySummary {
                count: h.len(),
                p50_us: h.value_at_quantile(0.50),
                p99_us: h.value_at_quantile(0.99),
                max_us: h.max(),
            },
            _ => LatencySummary::default(),
        }
    }
}

/// Upper bounds of the exported latency buckets, in microseconds (100 us to 60 s);
/// a sample above the last one counts only in the `+Inf` bucket.
pub const LATENCY_BUCKET_BOUNDS_US: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// Latency samples counted exactly into fixed buckets, with their count and sum: the
/// shape of a Prometheus histogram, so nothing is estimated when it is exported.
/// Counts only grow, so two readings subtract ([`LatencyBuckets::since`]) and add.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyBuckets {
    /// Samples per bucket (not cumulative): `per_bucket[i]` holds samples above bound
    /// `i - 1` and at most bound `i`; the last slot holds those above every bound.
    per_bucket: [u64; LATENCY_BUCKET_BOUNDS_US.len() + 1],
    count: u64,
    sum_us: u64,
}

impl LatencyBuckets {
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let slot = LATENCY_BUCKET_BOUNDS_US.partition_point(|&bound| bound < us);
        self.per_bucket[slot] += 1;
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of every sample, microseconds.
    pub fn sum_us(&self) -> u64 {
        self.sum_us
    }

    /// `(upper bound in µs, samples at most that)` for each bound, cumulative as
    /// Prometheus' `le` buckets are; the `+Inf` bucket is [`LatencyBuckets::count`].
    pub fn cumulative(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        LATENCY_BUCKET_BOUNDS_US
            .iter()
            .zip(self.per_bucket.iter())
            .scan(0u64, |total, (&bound, &n)| {
                *total += n;
                Some((bound, *total))
            })
    }

    /// Adds another reading (another torrent's, another shard's).
    pub fn add(&mut self, other: &LatencyBuckets) {
        for (mine, theirs) in self.per_bucket.iter_mut().zip(other.per_bucket.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        self.count = self.count.saturating_add(other.count);
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }

    /// What was recorded after `earlier`, a previous reading of the same buckets.
    pub fn since(&self, earlier: &LatencyBuckets) -> LatencyBuckets {
        let mut delta = *self;
        for (d, e) in delta.per_bucket.iter_mut().zip(earlier.per_bucket.iter()) {
            *d = d.saturating_sub(*e);
        }
        delta.count = delta.count.saturating_sub(earlier.count);
        delta.sum_us = delta.sum_us.saturating_sub(earlier.sum_us);
        delta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_each_sample_once_at_its_bound() {
        let mut b = LatencyBuckets::default();
        b.record(Duration::from_micros(100)); // exactly on the first bound: le=100
        b.record(Duration::from_micros(101)); // above it: le=250
        b.record(Duration::from_secs(120)); // above every bound: +Inf only
        let cumulative: Vec<(u64, u64)> = b.cumulative().collect();
        assert_eq!(cumulative[0], (100, 1));
        assert_eq!(cumulative[1], (250, 2));
        assert_eq!(cumulative.last(), Some(&(60_000_000, 2)));
        assert_eq!(b.count(), 3);
        assert_eq!(b.sum_us(), 100 + 101 + 120_000_000);
    }

    #[test]
    fn buckets_subtract_and_add_back() {
        let mut r = LatencyRecorder::new();
        assert_eq!(r.buckets(), LatencyBuckets::default());
        r.record(Duration::from_millis(3));
        let mark = r.buckets();
        r.record(Duration::from_millis(40));
        let delta = r.buckets().since(&mark);
        assert_eq!(delta.count(), 1);
        assert_eq!(delta.sum_us(), 40_000);
        assert_eq!(delta.cumulative().find(|(le, _)| *le == 25_000), Some((25_000, 0)));
        assert_eq!(delta.cumulative().find(|(le, _)| *le == 50_000), Some((50_000, 1)));
        let mut back = mark;
        back.add(&delta);
        assert_eq!(back, r.buckets());
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(LatencyRecorder::new().summary(), LatencySummary::default());
    }

    #[test]
    fn no_histogram_until_the_first_sample() {
        let mut r = LatencyRecorder::new();
        assert!(r.histogram.is_none());
        r.record(Duration::from_micros(5));
        assert!(r.histogram.is_some());
        assert_eq!(r.count(), 1);
    }

    #[test]
    fn percentiles_within_precision() {
        let mut r = LatencyRecorder::new();
        for ms in 1..=100u64 {
            r.record(Duration::from_millis(ms));
        }
        let s = r.summary();
        assert_eq!(s.count, 100);
        // 3 significant digits: within 0.1% of the exact value.
        assert!((49_950..=50_050).contains(&s.p50_us), "{s:?}");
        assert!((98_900..=99_100).contains(&s.p99_us), "{s:?}");
        assert!((99_900..=100_100).contains(&s.max_us), "{s:?}");
    }

    #[test]
    fn out_of_range_samples_are_clamped_not_dropped() {
        let mut r = LatencyRecorder::new();
        r.record(Duration::ZERO);
        r.record(Duration::from_secs(3600));
        let s = r.summary();
        assert_eq!(s.count, 2);
        assert!(s.p50_us >= 1, "{s:?}");
        assert!((59_900_000..=60_100_000).contains(&s.max_us), "{s:?}");
    }
}
