//! What the I/O of one shard has done, counted where it happens: bytes on peer
//! sockets, handshakes, disconnects, disk operations, tracker announces, latencies.
//!
//! Each shard is one thread running one executor, so the counters live in a
//! thread-local: a shard's counters are its own, nothing on the data path takes a
//! lock or touches another core's cache line, and no handle has to be threaded
//! through every task that counts (Seastar keeps its per-shard metrics the same
//! way). The shard reads them with [`snapshot`] when it publishes its figures.
//! Every counter only grows.

use std::cell::RefCell;
use std::time::Duration;

use ccbt_engine::latency::LatencyBuckets;
use ccbt_engine::torrent::DisconnectReason;

/// Peer connections that ended, by why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DisconnectCounts {
    /// The peer closed the connection.
    pub peer_closed: u64,
    /// A socket read or write failed (reset, timeout).
    pub io_error: u64,
    /// The engine found a protocol violation (malformed frames included).
    pub protocol: u64,
    /// The peer's address was banned for corrupt data.
    pub banned: u64,
    /// Both sides have everything.
    pub both_seeding: u64,
    /// Nothing came for the idle timeout.
    pub idle: u64,
    /// Closed to make room for a newcomer.
    pub evicted: u64,
    /// The peer did not read what we sent (its outbox filled up).
    pub outbox_full: u64,
}

impl DisconnectCounts {
    /// `(reason label, count)` for each reason, in a fixed order.
    pub fn by_reason(&self) -> [(&'static str, u64); 8] {
        [
            ("peer_closed", self.peer_closed),
            ("io_error", self.io_error),
            ("protocol", self.protocol),
            ("banned", self.banned),
            ("both_seeding", self.both_seeding),
            ("idle", self.idle),
            ("evicted", self.evicted),
            ("outbox_full", self.outbox_full),
        ]
    }
}

/// One shard's I/O counters (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// Block data of `piece` messages read from and written to peers.
    pub payload_bytes_down: u64,
    pub payload_bytes_up: u64,
    /// Everything else on peer sockets: handshakes, message framing and headers,
    /// requests, haves, bitfields, extension messages.
    pub protocol_bytes_down: u64,
    pub protocol_bytes_up: u64,
    /// BEP 3 handshakes completed with a peer of a running torrent, and the ones that
    /// failed (connect refused, timeout, wrong torrent, ourselves).
    pub handshakes: u64,
    pub handshake_failures: u64,
    pub disconnects: DisconnectCounts,
    /// Pieces that passed their hash and were written (a piece counts as verified
    /// once it is on disk), and good pieces whose write failed.
    pub pieces_verified: u64,
    pub piece_write_failures: u64,
    /// Storage reads (whole pieces or blocks, for serving and for checks) and writes
    /// (whole pieces), with their bytes.
    pub disk_reads: u64,
    pub disk_read_bytes: u64,
    pub disk_read_errors: u64,
    pub disk_writes: u64,
    pub disk_write_bytes: u64,
    pub disk_write_errors: u64,
    /// Pieces that failed their hash check, and addresses banned for corrupt data
    /// or hostile protocol (added from the engine's per-torrent figures).
    pub hash_failures: u64,
    pub peers_banned: u64,
    /// Tracker announces sent (HTTP and UDP) and those that failed.
    pub tracker_announces: u64,
    pub tracker_announce_errors: u64,
    /// Request sent → block arrived (from the engine's per-torrent figures).
    pub block_latency: LatencyBuckets,
    /// Time to SHA-1 one piece, to write one piece, to read from storage.
    pub hash_latency: LatencyBuckets,
    pub write_latency: LatencyBuckets,
    pub read_latency: LatencyBuckets,
}

thread_local! {
    static COUNTERS: RefCell<IoCounters> = RefCell::new(IoCounters::default());
}

/// Counts something on this thread's (this shard's) counters.
pub fn count(f: impl FnOnce(&mut IoCounters)) {
    COUNTERS.with(|c| f(&mut c.borrow_mut()));
}

/// This thread's counters as they are now.
pub fn snapshot() -> IoCounters {
    COUNTERS.with(|c| *c.borrow())
}

/// Counts a disconnect the engine decided.
pub fn count_engine_disconnect(reason: &DisconnectReason) {
    count(|c| {
        let d = &mut c.disconnects;
        match reason {
            DisconnectReason::Protocol(_) => d.protocol += 1,
            DisconnectReason::Banned => d.banned += 1,
            DisconnectReason::BothSeeding => d.both_seeding += 1,
            DisconnectReason::Idle => d.idle += 1,
        }
    });
}

/// Counts a storage read of `bytes` that took `took` (`ok`: it succeeded).
pub(crate) fn count_disk_read(bytes: u64, took: Duration, ok: bool) {
    count(|c| {
        if ok {
            c.disk_reads += 1;
            c.disk_read_bytes += bytes;
            c.read_latency.record(took);
        } else {
            c.disk_read_errors += 1;
        }
    });
}

/// Counts a storage write of a piece of `bytes` that took `took`.
pub(crate) fn count_disk_write(bytes: u64, took: Duration, ok: bool) {
    count(|c| {
        if ok {
            c.disk_writes += 1;
            c.disk_write_bytes += bytes;
            c.write_latency.record(took);
        } else {
            c.disk_write_errors += 1;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_stay_on_their_thread() {
        count(|c| c.handshakes += 2);
        count_disk_read(16_384, Duration::from_micros(300), true);
        count_disk_write(0, Duration::ZERO, false);
        let here = snapshot();
        assert_eq!(here.handshakes, 2);
        assert_eq!(here.disk_reads, 1);
        assert_eq!(here.disk_read_bytes, 16_384);
        assert_eq!(here.read_latency.count(), 1);
        assert_eq!(here.disk_write_errors, 1);
        assert_eq!(here.disk_writes, 0);
        let elsewhere = std::thread::spawn(snapshot).join().unwrap();
        assert_eq!(elsewhere, IoCounters::default(), "another thread (shard) has its own");
    }

    #[test]
    fn engine_disconnects_by_reason() {
        count_engine_disconnect(&DisconnectReason::Idle);
        count_engine_disconnect(&DisconnectReason::Banned);
        let d = snapshot().disconnects;
        let by: std::collections::HashMap<_, _> = d.by_reason().into_iter().collect();
        assert_eq!(by["idle"], 1);
        assert_eq!(by["banned"], 1);
        assert_eq!(by["peer_closed"], 0);
    }
}
