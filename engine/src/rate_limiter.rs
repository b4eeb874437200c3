//! Token-bucket rate limiting, with time passed in.

use std::time::{Duration, Instant};

/// Allows `rate` bytes per second on average, with bursts up to `burst` bytes.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: u64,
    burst: u64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket that starts full. `rate` must be > 0; the burst is at least one 16 KiB block.
    pub fn new(rate: u64, now: Instant) -> Self {
        let rate = rate.max(1);
        let burst = burst_of(rate);
        TokenBucket {
            rate,
            burst,
            tokens: burst as f64,
            last: now,
        }
    }

    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Changes the rate from `now` on, keeping the tokens (or debt) earned so far, so
    /// a limit moved every second gives no extra burst. The burst follows the rate.
    pub fn set_rate(&mut self, rate: u64, now: Instant) {
        self.refill(now);
        self.rate = rate.max(1);
        self.burst = burst_of(self.rate);
        self.tokens = self.tokens.min(self.burst as f64);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate as f64).min(self.burst as f64);
    }

    /// Takes `bytes` (possibly going into debt) and returns how long the caller
    /// should wait before moving more data.
    pub fn consume(&mut self, now: Instant, bytes: u64) -> Duration {
        self.refill(now);
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate as f64)
        }
    }
}

/// A quarter second at `rate`, but at least four 16 KiB blocks.
fn burst_of(rate: u64) -> u64 {
    (rate / 4).max(crate::BLOCK_SIZE as u64 * 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_rate_is_held() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1_000_000, start);
        let mut now = start;
        let mut moved = 0u64;
        // Move 10 MB in 16 KiB steps, sleeping as told on a fake clock.
        while moved < 10_000_000 {
            now += bucket.consume(now, 16384);
            moved += 16384;
        }
        let secs = now.duration_since(start).as_secs_f64();
        assert!((9.5..=10.5).contains(&secs), "took {secs}s");
    }

    #[test]
    fn burst_is_free() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(1_000_000, now);
        assert_eq!(bucket.consume(now, 100_000), Duration::ZERO);
        assert!(bucket.consume(now, 1_000_000) > Duration::from_millis(500));
    }

    #[test]
    fn a_new_rate_keeps_the_debt_and_gives_no_new_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1_000_000, start);
        // Empty the burst and go 500 KB into debt: half a second at 1 MB/s.
        let wait = bucket.consume(start, 250_000 + 500_000);
        assert_eq!(wait, Duration::from_millis(500));
        bucket.set_rate(500_000, start);
        assert_eq!(bucket.rate(), 500_000);
        // The same debt now takes a second to pay back.
        assert_eq!(bucket.consume(start, 0), Duration::from_secs(1));
        // Paid back after one second: only the new, smaller burst is free.
        let later = start + Duration::from_secs(3);
        assert_eq!(bucket.consume(later, 125_000), Duration::ZERO);
        assert!(bucket.consume(later, 1) > Duration::ZERO);
    }
}
