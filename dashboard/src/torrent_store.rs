//! Every torrent of the daemon as bitonic last heard of it, kept current from
//! `GET /torrents/changes` (only what changed since the last revision) rather than
//! by fetching the whole list each second.

use std::collections::HashMap;

use ccbt_daemon::api_types::{TorrentChanges, TorrentSummary};

/// The torrents by id, with the revision they are current at.
#[derive(Debug, Default)]
pub struct TorrentStore {
    torrents: HashMap<u32, TorrentSummary>,
    ids_by_hash: HashMap<String, u32>,
    /// What to pass as `since` next; 0 = ask for everything.
    revision: u64,
    /// Bumped on every change, so views re-sort only when something moved.
    generation: u64,
}

impl TorrentStore {
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn len(&self) -> usize {
        self.torrents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.torrents.is_empty()
    }

    pub fn get(&self, id: u32) -> Option<&TorrentSummary> {
        self.torrents.get(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &TorrentSummary> {
        self.torrents.values()
    }

    /// Applies an answer of the changes route. A full answer replaces everything.
    pub fn apply(&mut self, changes: TorrentChanges) {
        let moved = changes.full || !changes.torrents.is_empty() || !changes.removed.is_empty();
        if changes.full {
            self.replace_all(changes.torrents);
        } else {
            for hash in &changes.removed {
                if let Some(id) = self.ids_by_hash.remove(hash) {
                    self.torrents.remove(&id);
                }
            }
            for summary in changes.torrents {
                self.insert(summary);
            }
        }
        self.revision = changes.revision;
        // "Nothing changed" answers (most of them) leave the views' order alone.
        if moved {
            self.generation += 1;
        }
    }

    /// The whole list (from a daemon without the changes route): the next call asks
    /// for everything again.
    pub fn replace_all(&mut self, torrents: Vec<TorrentSummary>) {
        self.torrents.clear();
        self.ids_by_hash.clear();
        for summary in torrents {
            self.insert(summary);
        }
        self.revision = 0;
        self.generation += 1;
    }

    /// One torrent's fresher summary (e.g. from its detail).
    pub fn update(&mut self, summary: TorrentSummary) {
        self.insert(summary);
        self.generation += 1;
    }

    fn insert(&mut self, summary: TorrentSummary) {
        self.ids_by_hash.insert(summary.info_hash.clone(), summary.id);
        self.torrents.insert(summary.id, summary);
    }

    /// The daemon went away: the next answer must be a full one.
    pub fn forget_revision(&mut self) {
        self.revision = 0;
    }

    /// Every label in use, sorted.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self.torrents.values().flat_map(|t| t.labels.iter().cloned()).collect();
        labels.sort();
        labels.dedup();
        labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_answers_replace_and_deltas_patch() {
        let mut store = TorrentStore::default();
        store.apply(TorrentChanges {
            revision: 5,
            full: true,
            torrents: vec![TorrentSummary::sample(1, "a"), TorrentSummary::sample(2, "b")],
            removed: vec![],
        });
        assert_eq!((store.len(), store.revision()), (2, 5));
        let mut b = TorrentSummary::sample(2, "b");
        b.progress = 0.9;
        store.apply(TorrentChanges {
            revision: 7,
            full: false,
            torrents: vec![b, TorrentSummary::sample(3, "c")],
            removed: vec![format!("{:040x}", 1)],
        });
        assert!(store.get(1).is_none());
        assert_eq!(store.get(2).map(|t| t.progress), Some(0.9));
        assert_eq!((store.len(), store.revision()), (2, 7));
        // A full answer drops what it does not list.
        store.apply(TorrentChanges {
            revision: 9,
            full: true,
            torrents: vec![TorrentSummary::sample(3, "c")],
            removed: vec![],
        });
        assert_eq!(store.len(), 1);
        assert!(store.get(2).is_none());
    }
}
