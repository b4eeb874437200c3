//! Trackers: the HTTP protocol (BEP 3, 7, 23, 48), the UDP protocol (BEP 15) and the
//! multitracker tiers (BEP 12).
//!
//! Sans-IO like the rest of the engine: these types build request bytes and URLs,
//! parse responses, and decide which tracker to ask next and when; the caller owns the
//! sockets, the clock (`now: Instant`) and the random number generator. Private
//! torrents (BEP 27) are the caller's concern: nothing here adds peer sources.

use std::net::SocketAddr;
use std::time::Duration;

use crate::bencode::BencodeError;
use crate::types::{InfoHash, PeerId};

pub mod http;
pub mod tiers;
pub mod udp;

/// Largest tracker response body accepted; the I/O layer stops reading past it. Two
/// MiB holds a 2000-peer dictionary-model response with room to spare.
pub const MAX_TRACKER_RESPONSE: usize = 2 * 1024 * 1024;

/// Most peers taken from one announce response (IPv4 and IPv6 together); the rest are
/// ignored, so a hostile tracker cannot flood the peer list.
pub const MAX_PEERS_PER_RESPONSE: usize = 2000;

/// Longest failure reason, warning or UDP error message kept, in bytes; longer text is
/// cut so a tracker cannot make status output or logs arbitrarily large.
pub const MAX_MESSAGE_LEN: usize = 512;

/// Longest tracker id (`tracker id` key) kept and echoed back as `trackerid`.
pub const MAX_TRACKER_ID_LEN: usize = 256;

/// The `event` of an announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnnounceEvent {
    /// A regular re-announce (the parameter is omitted over HTTP).
    None,
    /// The first announce to a tracker.
    Started,
    /// The download has just completed.
    Completed,
    /// We are leaving the swarm.
    Stopped,
}

impl AnnounceEvent {
    /// The HTTP `event` value, `None` for a regular announce.
    pub fn http_value(self) -> Option<&'static str> {
        match self {
            AnnounceEvent::None => None,
            AnnounceEvent::Started => Some("started"),
            AnnounceEvent::Completed => Some("completed"),
            AnnounceEvent::Stopped => Some("stopped"),
        }
    }

    /// The BEP 15 event code.
    pub fn udp_code(self) -> u32 {
        match self {
            AnnounceEvent::None => 0,
            AnnounceEvent::Completed => 1,
            AnnounceEvent::Started => 2,
            AnnounceEvent::Stopped => 3,
        }
    }
}

/// What we tell a tracker in an announce (HTTP or UDP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub peer_id: PeerId,
    /// The TCP port we accept peers on.
    pub port: u16,
    /// Payload bytes uploaded since the `started` event.
    pub uploaded: u64,
    /// Payload bytes downloaded since the `started` event.
    pub downloaded: u64,
    /// Bytes still needed to complete the torrent.
    pub left: u64,
    /// Why this announce is sent.
    pub event: AnnounceEvent,
    /// Peers wanted; `None` leaves it to the tracker (UDP sends -1).
    pub numwant: Option<u32>,
    /// Random per-session key, so a tracker can recognise us across IP changes.
    pub key: u32,
    /// The `tracker id` this tracker gave us before (HTTP only).
    pub tracker_id: Option<Vec<u8>>,
}

/// What a tracker answered to an announce, from either protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// Seconds the tracker wants between regular announces.
    pub interval: Option<Duration>,
    /// Seconds the tracker requires between any announces (HTTP `min interval`).
    pub min_interval: Option<Duration>,
    /// Opaque id to send back as `trackerid` (HTTP `tracker id`).
    pub tracker_id: Option<Vec<u8>>,
    /// Peers with the whole torrent (`complete`).
    pub seeders: Option<u32>,
    /// Peers still downloading (`incomplete`).
    pub leechers: Option<u32>,
    /// A warning the tracker wants shown (HTTP `warning message`).
    pub warning: Option<String>,
    /// Peers, at most [`MAX_PEERS_PER_RESPONSE`], in the tracker's order.
    pub peers: Vec<SocketAddr>,
}

/// Swarm counts from a scrape (BEP 48 / BEP 15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScrapeStats {
    /// Peers with the whole torrent (`complete`).
    pub seeders: u32,
    /// Times the torrent was downloaded to completion (`downloaded`).
    pub completed: u32,
    /// Peers still downloading (`incomplete`).
    pub leechers: u32,
}

/// Why a tracker exchange failed. Names what failed; the caller adds the tracker URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    /// The tracker refused the request (`failure reason`, or a UDP error packet).
    #[error("tracker failure: {0}")]
    Failure(String),
    /// The response body is not valid bencode.
    #[error("response is not valid bencode: {0}")]
    Bencode(#[from] BencodeError),
    /// The response is bencode but not a dictionary.
    #[error("response is not a dictionary")]
    NotADict,
    /// A response field has the wrong type or an impossible value.
    #[error("response field `{field}` is malformed: {reason}")]
    BadField {
        /// The field's key.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A UDP packet of the wrong size or kind.
    #[error("UDP {packet} packet of {len} bytes refused: {reason}")]
    BadPacket {
        /// Which packet was expected.
        packet: &'static str,
        /// Its length.
        len: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No UDP answer after the whole BEP 15 retransmission schedule.
    #[error("no answer after {attempts} transmissions")]
    TimedOut {
        /// Packets sent.
        attempts: u32,
    },
    /// The announce URL cannot be used.
    #[error("unusable tracker URL: {reason}")]
    BadUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Text from a tracker, lossily decoded and cut to [`MAX_MESSAGE_LEN`] bytes.
pub(crate) fn bounded_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_MESSAGE_LEN)];
    String::from_utf8_lossy(cut).into_owned()
}

/// A count from a tracker as `u32`: negative values are nonsense, huge ones saturate.
pub(crate) fn count_u32(n: i64) -> Option<u32> {
    if n < 0 {
        None
    } else {
        Some(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_cuts_and_tolerates_bad_utf8() {
        assert_eq!(bounded_text(b"ok"), "ok");
        assert_eq!(bounded_text(&[0xff, b'a']), "\u{fffd}a");
        assert_eq!(bounded_text(&[b'x'; 5000]).len(), MAX_MESSAGE_LEN);
    }

    #[test]
    fn counts_saturate() {
        assert_eq!(count_u32(-1), None);
        assert_eq!(count_u32(7), Some(7));
        assert_eq!(count_u32(i64::MAX), Some(u32::MAX));
    }
}
