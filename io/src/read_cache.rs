//! The per-shard seeding read cache: whole pieces, read once from disk and served
//! to many peers.
//!
//! Keyed by (torrent, piece), bounded by the total bytes of the cached pieces,
//! least-recently-used eviction. Single-threaded like the shard that owns it (wrap
//! it in a `RefCell`); values are `Bytes`, so a hit is a reference-count bump and a
//! peer can keep serving a piece after it was evicted.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use ccbt_engine::{InfoHash, PieceIndex};

type Key = (InfoHash, PieceIndex);

struct Entry {
    data: Bytes,
    tick: u64,
}

/// Counters of a [`ReadCache`] since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// `get` calls that found the piece.
    pub hits: u64,
    /// `get` calls that did not.
    pub misses: u64,
    /// Pieces dropped to make room.
    pub evictions: u64,
    /// Pieces currently cached.
    pub entries: usize,
    /// Bytes currently cached.
    pub bytes: u64,
    /// The byte bound.
    pub capacity: u64,
}

/// An LRU cache of whole pieces bounded by total bytes.
pub struct ReadCache {
    entries: HashMap<Key, Entry>,
    by_age: BTreeMap<u64, Key>,
    tick: u64,
    bytes: u64,
    capacity: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
}

impl ReadCache {
    /// A cache holding at most `capacity_bytes` of piece data (0 disables it).
    pub fn new(capacity_bytes: u64) -> Self {
        ReadCache {
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            capacity: capacity_bytes,
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    /// The cached piece, marking it most recently used; counts a hit or a miss.
    pub fn get(&mut self, info_hash: InfoHash, piece: PieceIndex) -> Option<Bytes> {
        self.tick += 1;
        let tick = self.tick;
        match self.entries.get_mut(&(info_hash, piece)) {
            Some(e) => {
                self.by_age.remove(&e.tick);
                e.tick = tick;
                self.by_age.insert(tick, (info_hash, piece));
                self.hits += 1;
                Some(e.data.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Whether the piece is cached (does not count or reorder).
    pub fn contains(&self, info_hash: InfoHash, piece: PieceIndex) -> bool {
        self.entries.contains_key(&(info_hash, piece))
    }

    /// Caches a piece, evicting least recently used pieces to fit. A piece larger
    /// than the whole capacity is not cached; returns whether it was.
    pub fn insert(&mut self, info_hash: InfoHash, piece: PieceIndex, data: Bytes) -> bool {
        let key = (info_hash, piece);
        self.remove_key(&key);
        let len = data.len() as u64;
        if len > self.capacity {
            return false;
        }
        while self.bytes + len > self.capacity {
            let Some((_, old)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(e) = self.entries.remove(&old) {
                self.bytes -= e.data.len() as u64;
                self.evictions += 1;
            }
        }
        self.tick += 1;
        self.by_age.insert(self.tick, key);
        self.entries.insert(key, Entry { data, tick: self.tick });
        self.bytes += len;
        true
    }

    /// Drops one piece (e.g. it failed a recheck); returns whether it was cached.
    pub fn remove(&mut self, info_hash: InfoHash, piece: PieceIndex) -> bool {
        self.remove_key(&(info_hash, piece))
    }

    /// Drops every piece of a torrent (removed or paused); returns how many.
    /// Scans the whole cache: meant for rare events, not the request path.
    pub fn remove_torrent(&mut self, info_hash: InfoHash) -> usize {
        let keys: Vec<Key> = self.entries.keys().filter(|k| k.0 == info_hash).copied().collect();
        for key in &keys {
            self.remove_key(key);
        }
        keys.len()
    }

    /// Changes the byte bound, evicting as needed.
    pub fn set_capacity(&mut self, capacity_bytes: u64) {
        self.capacity = capacity_bytes;
        while self.bytes > self.capacity {
            let Some((_, old)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(e) = self.entries.remove(&old) {
                self.bytes -= e.data.len() as u64;
                self.evictions += 1;
            }
        }
    }

    /// Counters and sizes.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits,
            misses: self.misses,
            evictions: self.evictions,
            entries: self.entries.len(),
            bytes: self.bytes,
            capacity: self.capacity,
        }
    }

    /// Pieces cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No piece is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn remove_key(&mut self, key: &Key) -> bool {
        match self.entries.remove(key) {
            Some(e) => {
                self.by_age.remove(&e.tick);
                self.bytes -= e.data.len() as u64;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: InfoHash = InfoHash([1; 20]);
    const B: InfoHash = InfoHash([2; 20]);

    fn piece(n: usize, fill: u8) -> Bytes {
        Bytes::from(vec![fill; n])
    }

    #[test]
    fn lru_eviction_by_bytes_and_counters() {
        let mut c = ReadCache::new(300);
        assert!(c.insert(A, PieceIndex(0), piece(100, 0)));
        assert!(c.insert(A, PieceIndex(1), piece(100, 1)));
        assert!(c.insert(B, PieceIndex(0), piece(100, 2)));
        // Touch A/0 so A/1 is the oldest.
        assert_eq!(c.get(A, PieceIndex(0)).as_deref(), Some(&[0u8; 100][..]));
        assert!(c.insert(B, PieceIndex(1), piece(150, 3)));
        assert!(!c.contains(A, PieceIndex(1)));
        assert!(!c.contains(B, PieceIndex(0)), "needed 150 bytes: two evictions");
        assert!(c.contains(A, PieceIndex(0)) && c.contains(B, PieceIndex(1)));
        assert_eq!(c.get(A, PieceIndex(1)), None);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.evictions), (1, 1, 2));
        assert_eq!((s.entries, s.bytes, s.capacity), (2, 250, 300));
    }

    #[test]
    fn oversized_piece_is_not_cached_and_replacing_keeps_accounting() {
        let mut c = ReadCache::new(100);
        assert!(!c.insert(A, PieceIndex(0), piece(101, 0)));
        assert!(c.is_empty());
        assert!(c.insert(A, PieceIndex(0), piece(60, 0)));
        assert!(c.insert(A, PieceIndex(0), piece(80, 1)));
        assert_eq!(c.stats().bytes, 80);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(A, PieceIndex(0)).unwrap()[0], 1);
        let mut off = ReadCache::new(0);
        assert!(!off.insert(A, PieceIndex(0), piece(1, 0)));
    }

    #[test]
    fn remove_torrent_and_piece_and_shrink() {
        let mut c = ReadCache::new(1000);
        for i in 0..4 {
            c.insert(A, PieceIndex(i), piece(100, 0));
            c.insert(B, PieceIndex(i), piece(100, 0));
        }
        assert_eq!(c.remove_torrent(A), 4);
        assert_eq!(c.remove_torrent(A), 0);
        assert!(c.remove(B, PieceIndex(0)));
        assert!(!c.remove(B, PieceIndex(0)));
        assert_eq!((c.len(), c.stats().bytes), (3, 300));
        c.set_capacity(150);
        assert_eq!((c.len(), c.stats().bytes), (1, 100));
        assert!(c.contains(B, PieceIndex(3)), "most recent survives");
    }

    #[test]
    fn evicted_bytes_stay_valid_for_holders() {
        let mut c = ReadCache::new(100);
        c.insert(A, PieceIndex(0), piece(100, 7));
        let held = c.get(A, PieceIndex(0)).unwrap();
        c.insert(A, PieceIndex(1), piece(100, 8));
        assert!(!c.contains(A, PieceIndex(0)));
        assert_eq!(&held[..], &[7u8; 100][..]);
    }
}
