//! Counters and rates for status output.

use std::time::Instant;

use super::*;

/// Counters and rates for status output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TorrentStats {
    pub pieces_have: u32,
    pub num_pieces: u32,
    /// Bytes of verified pieces.
    pub verified_bytes: u64,
    pub total_bytes: u64,
    /// Payload bytes received, good or not.
    pub downloaded: u64,
    /// Payload bytes sent.
    pub uploaded: u64,
    /// Payload bytes thrown away: duplicates, unrequested, failed hashes.
    pub wasted: u64,
    pub download_rate: u64,
    pub upload_rate: u64,
    pub peers: usize,
    pub hash_failures: u32,
    /// Addresses banned so far (corrupt data or hostile protocol), and the latest.
    pub peers_banned: u32,
    pub last_banned: Option<std::net::IpAddr>,
    /// Protocol violations by kind (each ends the connection, except dropped
    /// unrequested blocks below the tolerance).
    pub violations: ViolationCounts,
    pub complete: bool,
    /// Request sent → block arrived, for blocks that were still pending.
    pub block_latency: LatencySummary,
    /// Time to hash one piece; filled in by the io layer (the engine leaves it default).
    pub hash_latency: LatencySummary,
    /// Time to write one piece to storage; filled in by the io layer (the engine leaves it default).
    pub write_latency: LatencySummary,
    /// Peers whose extension handshake did not parse; they stayed, without extensions.
    pub bad_extension_handshakes: u32,
    /// `ut_metadata` pieces sent to peers, and requests rejected (no such piece, or asked too often).
    pub metadata_pieces_served: u64,
    pub metadata_requests_rejected: u64,
    /// Addresses taken from peers' `ut_pex` messages, and `ut_pex` messages sent.
    pub pex_addresses_received: u64,
    pub pex_messages_sent: u64,
}

impl Torrent {
    /// Counters for status output.
    pub fn stats(&self, now: Instant) -> TorrentStats {
        TorrentStats {
            pieces_have: self.picker.have().count_ones(),
            num_pieces: self.params.num_pieces,
            verified_bytes: self.verified_bytes,
            total_bytes: self.params.total_length,
            downloaded: self.downloaded,
            uploaded: self.uploaded,
            wasted: self.wasted,
            download_rate: self.download_rate.rate(now),
            upload_rate: self.upload_rate.rate(now),
            peers: self.peers.len(),
            hash_failures: self.hash_failures,
            peers_banned: self.bans_issued,
            last_banned: self.last_banned,
            violations: self.violations,
            complete: self.picker.is_wanted_complete(),
            block_latency: self.block_latency.summary(),
            hash_latency: LatencySummary::default(),
            write_latency: LatencySummary::default(),
            bad_extension_handshakes: self.bad_extension_handshakes,
            metadata_pieces_served: self.metadata_pieces_served,
            metadata_requests_rejected: self.metadata_requests_rejected,
            pex_addresses_received: self.pex_addresses_received,
            pex_messages_sent: self.pex_messages_sent,
        }
    }

    /// Request → arrival of every block so far, in the exported buckets.
    pub fn block_latency_buckets(&self) -> crate::latency::LatencyBuckets {
        self.block_latency.buckets()
    }
}
