//! Rates over the last minutes, one sample a refresh, for the charts: the session's
//! (from `/stats`) and each torrent's (from the summaries bitonic already holds; the
//! daemon keeps no history). Bounded in samples and in torrents.

use std::collections::{HashMap, VecDeque};

use crate::torrent_store::TorrentStore;

/// Samples kept per chart: five minutes at one refresh a second.
pub const HISTORY_SAMPLES: usize = 300;
/// Torrents with a history at most; the one idle longest gives way.
pub const MAX_TORRENT_HISTORIES: usize = 256;

/// Download and upload rates, oldest first.
#[derive(Clone, Debug, Default)]
pub struct RateHistory {
    samples: VecDeque<(u64, u64)>,
}

impl RateHistory {
    pub fn push(&mut self, down: u64, up: u64) {
        if self.samples.len() == HISTORY_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((down, up));
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Download rates as chart points (x = sample index, oldest 0).
    pub fn down_points(&self) -> Vec<(f64, f64)> {
        self.samples
            .iter()
            .enumerate()
            .map(|(i, s)| (i as f64, s.0 as f64))
            .collect()
    }

    pub fn up_points(&self) -> Vec<(f64, f64)> {
        self.samples
            .iter()
            .enumerate()
            .map(|(i, s)| (i as f64, s.1 as f64))
            .collect()
    }

    /// The highest rate either way (the chart's top).
    pub fn peak(&self) -> u64 {
        self.samples.iter().map(|s| s.0.max(s.1)).max().unwrap_or(0)
    }

    fn is_idle(&self) -> bool {
        self.samples.iter().all(|s| *s == (0, 0))
    }
}

/// A history for each torrent that moved data lately.
#[derive(Debug, Default)]
pub struct TorrentHistories {
    histories: HashMap<u32, (RateHistory, u64)>,
    tick: u64,
}

impl TorrentHistories {
    /// One sample for every torrent that moves data or already has a history.
    pub fn sample(&mut self, store: &TorrentStore) {
        self.tick += 1;
        for t in store.iter() {
            let moving = t.download_rate > 0 || t.upload_rate > 0;
            if let Some((history, last_moved)) = self.histories.get_mut(&t.id) {
                history.push(t.download_rate, t.upload_rate);
                if moving {
                    *last_moved = self.tick;
                }
            } else if moving {
                let mut history = RateHistory::default();
                history.push(t.download_rate, t.upload_rate);
                self.histories.insert(t.id, (history, self.tick));
            }
        }
        // Removed torrents, and histories gone all idle.
        self.histories
            .retain(|id, (history, _)| store.get(*id).is_some() && !history.is_idle());
        while self.histories.len() > MAX_TORRENT_HISTORIES {
            let oldest = self
                .histories
                .iter()
                .min_by_key(|(_, (_, moved))| *moved)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => self.histories.remove(&id),
                None => break,
            };
        }
    }

    pub fn get(&self, id: u32) -> Option<&RateHistory> {
        self.histories.get(&id).map(|(h, _)| h)
    }

    pub fn len(&self) -> usize {
        self.histories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.histories.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::TorrentChanges;
    use ccbt_daemon::api_types::TorrentSummary;

    #[test]
    fn a_history_keeps_the_last_samples() {
        let mut h = RateHistory::default();
        for i in 0..(HISTORY_SAMPLES as u64 + 10) {
            h.push(i, 1);
        }
        assert_eq!(h.len(), HISTORY_SAMPLES);
        assert_eq!(h.down_points()[0], (0.0, 10.0));
        assert_eq!(h.peak(), HISTORY_SAMPLES as u64 + 9);
    }

    #[test]
    fn only_moving_torrents_get_histories_and_they_are_bounded() {
        let mut store = TorrentStore::default();
        let torrents = (0..(MAX_TORRENT_HISTORIES as u32 + 50))
            .map(|id| {
                let mut t = TorrentSummary::sample(id, "t");
                if id == 0 {
                    t.download_rate = 0;
                    t.upload_rate = 0;
                }
                t
            })
            .collect();
        store.apply(TorrentChanges {
            revision: 1,
            full: true,
            torrents,
            removed: vec![],
        });
        let mut histories = TorrentHistories::default();
        histories.sample(&store);
        assert_eq!(histories.len(), MAX_TORRENT_HISTORIES);
        assert!(histories.get(0).is_none(), "an idle torrent gets no history");
    }
}
