//! How many block requests to keep outstanding to one peer.
//!
//! The queue must cover the bandwidth-delay product or the link idles between
//! responses. We size it to [`TARGET_QUEUE_TIME`] worth of the peer's measured rate:
//! 1 s is several times any sane RTT, so a queue-limited peer's measured rate (and
//! with it the depth) still grows each update until the link, not the queue, is the
//! limit. [`MAX_DEPTH`] (16 MiB in flight) covers 500 MB/s at ~30 ms RTT, far beyond
//! loopback, while bounding memory and end-game duplication per peer.

use crate::types::BLOCK_SIZE;
use std::time::Duration;

/// Depth before any rate is known: enough for a fast start, small enough to not
/// over-commit blocks to a peer that turns out slow.
pub const INITIAL_DEPTH: usize = 16;

/// Floor: even a slow or momentarily idle peer keeps a few requests queued.
pub const MIN_DEPTH: usize = 4;

/// Ceiling, whatever the rate.
pub const MAX_DEPTH: usize = 1024;

/// How much transfer time the outstanding requests should represent.
pub const TARGET_QUEUE_TIME: Duration = Duration::from_secs(1);

/// Adaptive request-queue depth for one peer connection.
#[derive(Clone, Debug)]
pub struct PipelineDepth {
    /// Depth derived from the rate alone.
    rate_depth: usize,
    /// The peer's advertised BEP 10 `reqq`, which we must not exceed.
    peer_limit: Option<usize>,
}

impl Default for PipelineDepth {
    fn default() -> Self {
        Self::new()
    }
}

impl PipelineDepth {
    /// Starts at [`INITIAL_DEPTH`] with no peer limit.
    pub fn new() -> Self {
        PipelineDepth {
            rate_depth: INITIAL_DEPTH,
            peer_limit: None,
        }
    }

    /// Resizes to `rate × TARGET_QUEUE_TIME / BLOCK_SIZE`, clamped to
    /// [`MIN_DEPTH`]..=[`MAX_DEPTH`]. A rate of zero gives `MIN_DEPTH`.
    pub fn on_rate(&mut self, download_bytes_per_sec: u64) {
        let bytes_in_flight = u128::from(download_bytes_per_sec) * TARGET_QUEUE_TIME.as_millis() / 1000;
        let blocks = bytes_in_flight / u128::from(BLOCK_SIZE);
        self.rate_depth = usize::try_from(blocks).unwrap_or(MAX_DEPTH).clamp(MIN_DEPTH, MAX_DEPTH);
    }

    /// Caps the depth at the peer's BEP 10 `reqq`. The peer's limit wins over
    /// [`MIN_DEPTH`]; a `reqq` of 0 is treated as 1 so the peer can still be served.
    pub fn on_reqq(&mut self, peer_limit: u32) {
        let limit = usize::try_from(peer_limit).unwrap_or(MAX_DEPTH);
        self.peer_limit = Some(limit.max(1));
    }

    /// Requests to keep outstanding now.
    pub fn depth(&self) -> usize {
        let depth = self.rate_depth.min(self.peer_limit.unwrap_or(MAX_DEPTH));
        debug_assert!((1..=MAX_DEPTH).contains(&depth));
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;

    #[test]
    fn starts_at_initial() {
        assert_eq!(PipelineDepth::new().depth(), INITIAL_DEPTH);
    }

    #[test]
    fn scales_with_rate_within_bounds() {
        let mut d = PipelineDepth::new();
        d.on_rate(0);
        assert_eq!(d.depth(), MIN_DEPTH);
        d.on_rate(10 * KIB);
        assert_eq!(d.depth(), MIN_DEPTH);
        d.on_rate(MIB);
        assert_eq!(d.depth(), 64);
        d.on_rate(8 * MIB);
        assert_eq!(d.depth(), 512);
        d.on_rate(500 * 1_000_000);
        assert_eq!(d.depth(), MAX_DEPTH);
        d.on_rate(u64::MAX);
        assert_eq!(d.depth(), MAX_DEPTH);
    }

    #[test]
    fn reqq_caps_in_either_order() {
        let mut d = PipelineDepth::new();
        d.on_reqq(250);
        d.on_rate(100 * MIB);
        assert_eq!(d.depth(), 250);
        d.on_rate(MIB);
        assert_eq!(d.depth(), 64);
        d.on_reqq(2);
        assert_eq!(d.depth(), 2, "the peer's limit beats MIN_DEPTH");
        d.on_reqq(0);
        assert_eq!(d.depth(), 1);
        d.on_reqq(u32::MAX);
        assert_eq!(d.depth(), 64);
    }
}
