//! The small table that says which shard owns which torrent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use ccbt_engine::InfoHash;

/// info-hash → shard, shared by every shard and the session.
///
/// Read on each accepted connection (not on the data path); written when a torrent
/// is added or removed.
#[derive(Debug, Default)]
pub struct Router {
    owners: RwLock<HashMap<InfoHash, usize>>,
    handovers: AtomicU64,
    unroutable: AtomicU64,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// The shard that owns the torrent, if it is loaded.
    pub fn owner(&self, info_hash: &InfoHash) -> Option<usize> {
        self.owners.read().ok().and_then(|m| m.get(info_hash).copied())
    }

    /// Records the owner of a torrent; returns false if it already had one.
    pub fn assign(&self, info_hash: InfoHash, shard: usize) -> bool {
        match self.owners.write() {
            Ok(mut m) => {
                if m.contains_key(&info_hash) {
                    return false;
                }
                m.insert(info_hash, shard);
                true
            }
            Err(_) => false,
        }
    }

    pub fn unassign(&self, info_hash: &InfoHash) {
        if let Ok(mut m) = self.owners.write() {
            m.remove(info_hash);
        }
    }

    /// Number of torrents routed.
    pub fn len(&self) -> usize {
        self.owners.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Connections accepted on one shard and handed to the owner on another.
    pub fn handovers(&self) -> u64 {
        self.handovers.load(Ordering::Relaxed)
    }

    pub(crate) fn count_handover(&self) {
        self.handovers.fetch_add(1, Ordering::Relaxed);
    }

    /// Incoming connections for torrents nobody here has.
    pub fn unroutable(&self) -> u64 {
        self.unroutable.load(Ordering::Relaxed)
    }

    pub(crate) fn count_unroutable(&self) {
        self.unroutable.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_once() {
        let r = Router::new();
        let h = InfoHash([1; 20]);
        assert!(r.assign(h, 1));
        assert!(!r.assign(h, 0));
        assert_eq!(r.owner(&h), Some(1));
        r.unassign(&h);
        assert_eq!(r.owner(&h), None);
    }
}
