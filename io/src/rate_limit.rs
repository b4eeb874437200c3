//! Payload rate limits that change while data moves: one per torrent and direction,
//! and the shard's own pair, which every torrent of the shard draws from as well.
//!
//! Each shard owns its buckets (no lock, no atomic on the data path). A global limit
//! is the daemon's to split into per-shard shares; to move the shares by demand it
//! reads what each shard moved and whether its bucket held it back ([`ShardUsage`]).

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use ccbt_engine::rate_limiter::TokenBucket;

/// A limit in bytes per second that can be set, changed or lifted at any time.
#[derive(Debug, Default)]
pub struct RateLimit {
    bucket: RefCell<Option<TokenBucket>>,
}

impl RateLimit {
    /// `None` = unlimited.
    pub fn new(rate: Option<u64>, now: Instant) -> Self {
        RateLimit {
            bucket: RefCell::new(rate.map(|r| TokenBucket::new(r, now))),
        }
    }

    /// Sets the rate from `now` on (`None` lifts it). A changed rate keeps the debt
    /// already run up, so moving a limit every second gives no extra burst.
    pub fn set(&self, rate: Option<u64>, now: Instant) {
        let mut bucket = self.bucket.borrow_mut();
        match (bucket.as_mut(), rate) {
            (Some(b), Some(r)) => b.set_rate(r, now),
            (None, Some(r)) => *bucket = Some(TokenBucket::new(r, now)),
            (_, None) => *bucket = None,
        }
    }

    /// Bytes per second, or `None` when unlimited.
    pub fn rate(&self) -> Option<u64> {
        self.bucket.borrow().as_ref().map(TokenBucket::rate)
    }

    /// Takes `bytes` and says how long to pause before moving more (zero when unlimited).
    pub fn consume(&self, now: Instant, bytes: u64) -> Duration {
        match self.bucket.borrow_mut().as_mut() {
            Some(b) => b.consume(now, bytes),
            None => Duration::ZERO,
        }
    }
}

/// What one shard moved since the last report, for rebalancing a global limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardUsage {
    /// Bytes received by the shard's peer connections (what its download bucket is charged).
    pub downloaded: u64,
    /// Payload bytes sent (what its upload bucket is charged).
    pub uploaded: u64,
    /// The shard's download bucket made a connection wait at least once.
    pub download_held_back: bool,
    /// The shard's upload bucket made a connection wait at least once.
    pub upload_held_back: bool,
    /// The shard's limits when the report was taken (`None` = unlimited).
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
}

/// The shard-wide pair of limits and what went through them.
#[derive(Debug, Default)]
pub struct ShardRateLimits {
    download: RateLimit,
    upload: RateLimit,
    usage: Cell<ShardUsage>,
}

impl ShardRateLimits {
    /// Both directions unlimited.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Sets the shard's limits from `now` on (`None` = unlimited).
    pub fn set(&self, download: Option<u64>, upload: Option<u64>, now: Instant) {
        self.download.set(download, now);
        self.upload.set(upload, now);
    }

    /// Counts `bytes` received and says how long the connection should pause.
    pub fn charge_download(&self, now: Instant, bytes: u64) -> Duration {
        let pause = self.download.consume(now, bytes);
        let mut usage = self.usage.get();
        usage.downloaded += bytes;
        usage.download_held_back |= !pause.is_zero();
        self.usage.set(usage);
        pause
    }

    /// Counts `bytes` of payload sent and says how long the connection should pause.
    pub fn charge_upload(&self, now: Instant, bytes: u64) -> Duration {
        let pause = self.upload.consume(now, bytes);
        let mut usage = self.usage.get();
        usage.uploaded += bytes;
        usage.upload_held_back |= !pause.is_zero();
        self.usage.set(usage);
        pause
    }

    /// What moved since the last call, with the current limits; starts a new period.
    pub fn take_usage(&self) -> ShardUsage {
        let usage = self.usage.take();
        ShardUsage {
            download_limit: self.download.rate(),
            upload_limit: self.upload.rate(),
            ..usage
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_can_be_set_changed_and_lifted() {
        let now = Instant::now();
        let limit = RateLimit::new(None, now);
        assert_eq!(limit.consume(now, 10 << 20), Duration::ZERO);
        limit.set(Some(100_000), now);
        assert_eq!(limit.rate(), Some(100_000));
        // Past the burst, a megabyte at 100 kB/s is about ten seconds.
        let wait = limit.consume(now, 1_000_000);
        assert!(wait > Duration::from_secs(9), "{wait:?}");
        limit.set(Some(1_000_000), now);
        assert!(
            limit.consume(now, 0) < Duration::from_secs(1),
            "the debt is paid at the new rate"
        );
        limit.set(None, now);
        assert_eq!(limit.rate(), None);
        assert_eq!(limit.consume(now, 10 << 20), Duration::ZERO);
    }

    #[test]
    fn usage_counts_bytes_and_waits_and_restarts_on_each_report() {
        let now = Instant::now();
        let shard = ShardRateLimits::unlimited();
        assert_eq!(shard.charge_download(now, 1000), Duration::ZERO);
        assert_eq!(shard.charge_upload(now, 500), Duration::ZERO);
        let usage = shard.take_usage();
        assert_eq!((usage.downloaded, usage.uploaded), (1000, 500));
        assert!(!usage.download_held_back && !usage.upload_held_back);
        assert_eq!(usage.download_limit, None);

        shard.set(Some(65_536), None, now);
        // The burst (64 KiB at least) is free; beyond it the shard is held back.
        shard.charge_download(now, 65_536);
        assert!(!shard.take_usage().download_held_back);
        assert!(shard.charge_download(now, 100_000) > Duration::ZERO);
        let usage = shard.take_usage();
        assert!(usage.download_held_back && !usage.upload_held_back);
        assert_eq!(usage.downloaded, 100_000);
        assert_eq!(usage.download_limit, Some(65_536));
        assert_eq!(shard.take_usage().downloaded, 0, "a new period");
    }
}
