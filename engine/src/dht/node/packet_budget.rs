//! How many datagrams the node may send: a token bucket counted in whole datagrams.

use std::time::{Duration, Instant};

/// A token bucket counted in whole datagrams.
#[derive(Clone, Debug)]
pub(super) struct PacketBudget {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl PacketBudget {
    pub(super) fn new(rate: u32, now: Instant) -> Self {
        let rate = f64::from(rate.max(1));
        PacketBudget {
            rate,
            tokens: rate,
            at: now,
        }
    }

    pub(super) fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.rate);
        self.at = now;
    }

    pub(super) fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// No whole datagram left as of the last refill.
    pub(super) fn is_spent(&self) -> bool {
        self.tokens < 1.0
    }

    /// When one more datagram will be allowed.
    pub(super) fn next_allowed(&self) -> Instant {
        if self.tokens >= 1.0 {
            self.at
        } else {
            self.at + Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }
}
