//! When each torrent asks the DHT for peers (and announces itself) again: every
//! [`ANNOUNCE_EVERY`], or every [`RETRY_EVERY`] while it downloads with fewer than
//! [`FEW_PEERS`] connections, and for its first [`WARMUP_LOOKUPS`] lookups (the
//! node may still be joining the DHT, and one lost announce should not hide a
//! seed for fifteen minutes). After that a seeder without peers keeps the slow
//! pace: a box of ten thousand idle seeds must not flood the DHT.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::InfoHash;

/// The regular interval (the one other clients use).
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(15 * 60);
/// The shortest interval, for a downloading torrent short of peers.
pub const RETRY_EVERY: Duration = Duration::from_secs(60);
/// Lookups at the short interval after a torrent starts.
pub const WARMUP_LOOKUPS: u32 = 3;
/// Fewer connected peers than this counts as short of peers.
pub const FEW_PEERS: usize = 8;

/// What the schedule needs to know about a torrent.
#[derive(Clone, Copy, Debug)]
pub struct TorrentDemand {
    pub info_hash: InfoHash,
    pub connected_peers: usize,
    /// Still wants pieces.
    pub downloading: bool,
}

/// The last lookup of each torrent.
#[derive(Debug, Default)]
pub struct LookupSchedule {
    /// When each torrent was last looked up, and how many times in all.
    last: HashMap<InfoHash, (Instant, u32)>,
}

impl LookupSchedule {
    /// The torrents due for a lookup now (each then counts as looked up at `now`).
    /// Torrents missing from `torrents` are forgotten, so a torrent that comes
    /// back is due at once.
    pub fn due(&mut self, now: Instant, torrents: &[TorrentDemand]) -> Vec<InfoHash> {
        self.last.retain(|h, _| torrents.iter().any(|t| t.info_hash == *h));
        let mut out = Vec::new();
        for t in torrents {
            let (last, count) = match self.last.get(&t.info_hash) {
                Some(&(last, count)) => (Some(last), count),
                None => (None, 0),
            };
            let interval = if count < WARMUP_LOOKUPS || (t.downloading && t.connected_peers < FEW_PEERS) {
                RETRY_EVERY
            } else {
                ANNOUNCE_EVERY
            };
            let due = last.map_or(true, |last| now.saturating_duration_since(last) >= interval);
            if due {
                self.last.insert(t.info_hash, (now, count.saturating_add(1)));
                out.push(t.info_hash);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_of_peers_retries_each_minute_else_every_fifteen() {
        let t0 = Instant::now();
        let a = InfoHash([1; 20]);
        let b = InfoHash([2; 20]);
        let c = InfoHash([3; 20]);
        let torrents = [
            TorrentDemand {
                info_hash: a,
                connected_peers: 0,
                downloading: true,
            },
            TorrentDemand {
                info_hash: b,
                connected_peers: 30,
                downloading: true,
            },
            TorrentDemand {
                info_hash: c,
                connected_peers: 0,
                downloading: false,
            },
        ];
        let mut s = LookupSchedule::default();
        assert_eq!(s.due(t0, &torrents), vec![a, b, c]);
        assert!(s.due(t0 + Duration::from_secs(59), &torrents).is_empty());
        // The warm-up: every torrent a minute apart, WARMUP_LOOKUPS times.
        let mut t = t0;
        for _ in 1..WARMUP_LOOKUPS {
            t += RETRY_EVERY;
            assert_eq!(s.due(t, &torrents), vec![a, b, c]);
        }
        t += RETRY_EVERY;
        assert_eq!(s.due(t, &torrents), vec![a], "only the one short of peers");
        let t0 = t;
        assert_eq!(s.due(t0 + ANNOUNCE_EVERY, &torrents), vec![a, b, c]);
        // Gone, then back: due at once.
        assert!(s.due(t0 + ANNOUNCE_EVERY, &torrents[..1]).is_empty());
        assert_eq!(s.due(t0 + ANNOUNCE_EVERY, &torrents[1..]), vec![b, c]);
    }
}
