//! The open files of every torrent on one executor: a bounded pool with
//! least-recently-used eviction, as libtorrent's file pool does.
//!
//! Why one pool per executor and not a bound per torrent: 1,100 seeding torrents of
//! one file each, or 10 torrents of 300 files, kept more descriptors open than the
//! common `ulimit -n 1024` allows, and running out ended the process. With one pool
//! the number of open files is bounded by [`files_per_executor`] however many
//! torrents there are; a file closed for lack of room is reopened on its next use.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Open files per executor when nobody set a bound (tests, tools).
pub const DEFAULT_FILES_PER_EXECUTOR: usize = 256;

/// The bound new executors' pools start with (see [`set_files_per_executor`]).
static FILES_PER_EXECUTOR: AtomicUsize = AtomicUsize::new(DEFAULT_FILES_PER_EXECUTOR);

/// Sets the bound on open files for the pools of executors that have not opened a
/// file yet: call once at start, before the executors run (the session does).
pub fn set_files_per_executor(max: usize) {
    FILES_PER_EXECUTOR.store(max.max(1), Ordering::Relaxed);
}

/// The bound a new executor's pool starts with.
pub fn files_per_executor() -> usize {
    FILES_PER_EXECUTOR.load(Ordering::Relaxed)
}

/// Which handle: one file of one storage, opened buffered or for direct writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct HandleKey {
    /// The storage (torrent) it belongs to, unique per process.
    pub storage: u64,
    /// Index of the file in the torrent.
    pub file: usize,
    /// Opened with `O_DIRECT`.
    pub direct: bool,
}

/// One open file and how it was opened.
struct Slot<F> {
    file: F,
    writable: bool,
    tick: u64,
}

/// Open handles by key, at most `max` of them (in-flight operations may briefly
/// keep an evicted handle alive; its fd closes when they finish).
pub(crate) struct FilePool<F> {
    slots: BTreeMap<HandleKey, Slot<F>>,
    by_age: BTreeMap<u64, HandleKey>,
    tick: u64,
    max: usize,
}

impl<F: Clone> FilePool<F> {
    pub(crate) fn new(max: usize) -> Self {
        FilePool {
            slots: BTreeMap::new(),
            by_age: BTreeMap::new(),
            tick: 0,
            max: max.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// How many handles of `storage` are open.
    pub(crate) fn len_of(&self, storage: u64) -> usize {
        self.range_of(storage).count()
    }

    /// Changes the bound; returns handles to close now.
    pub(crate) fn set_max(&mut self, max: usize) -> Vec<F> {
        self.max = max.max(1);
        self.evict_over(self.max)
    }

    /// The open handle of `key`, if it is open and writable when `write` is asked;
    /// it becomes the most recently used.
    pub(crate) fn get(&mut self, key: HandleKey, write: bool) -> Option<F> {
        self.tick += 1;
        let tick = self.tick;
        let slot = self.slots.get_mut(&key)?;
        if write && !slot.writable {
            return None;
        }
        self.by_age.remove(&slot.tick);
        slot.tick = tick;
        self.by_age.insert(tick, key);
        Some(slot.file.clone())
    }

    /// Adds a freshly opened handle (replacing a weaker or concurrent one) and
    /// returns the handle to use plus the handles to close.
    pub(crate) fn insert(&mut self, key: HandleKey, file: F, writable: bool) -> (F, Vec<F>) {
        // Another task may have opened it while we awaited; keep the better one.
        if let Some(existing) = self.get(key, writable) {
            return (existing, vec![file]);
        }
        let mut to_close = Vec::new();
        if let Some(old) = self.slots.remove(&key) {
            self.by_age.remove(&old.tick);
            to_close.push(old.file);
        }
        self.tick += 1;
        self.slots.insert(
            key,
            Slot {
                file: file.clone(),
                writable,
                tick: self.tick,
            },
        );
        self.by_age.insert(self.tick, key);
        to_close.extend(self.evict_over(self.max));
        (file, to_close)
    }

    /// Removes every handle of `storage`; returns them to close.
    pub(crate) fn drain_storage(&mut self, storage: u64) -> Vec<(HandleKey, F)> {
        let keys: Vec<HandleKey> = self.range_of(storage).map(|(k, _)| *k).collect();
        keys.into_iter()
            .filter_map(|k| {
                let slot = self.slots.remove(&k)?;
                self.by_age.remove(&slot.tick);
                Some((k, slot.file))
            })
            .collect()
    }

    /// Closes the least recently used half (at least one): the process ran out of
    /// descriptors, and open files are the ones we can give back.
    pub(crate) fn shed_half(&mut self) -> Vec<F> {
        let keep = self.slots.len() / 2;
        self.evict_over(keep)
    }

    fn range_of(&self, storage: u64) -> impl Iterator<Item = (&HandleKey, &Slot<F>)> {
        let from = HandleKey {
            storage,
            file: 0,
            direct: false,
        };
        let to = HandleKey {
            storage,
            file: usize::MAX,
            direct: true,
        };
        self.slots.range(from..=to)
    }

    fn evict_over(&mut self, bound: usize) -> Vec<F> {
        let mut out = Vec::new();
        while self.slots.len() > bound {
            let Some((_, key)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.remove(&key) {
                out.push(slot.file);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(storage: u64, file: usize) -> HandleKey {
        HandleKey {
            storage,
            file,
            direct: false,
        }
    }

    #[test]
    fn bound_holds_across_storages_and_the_least_recently_used_goes_first() {
        let mut pool: FilePool<u32> = FilePool::new(3);
        for (i, k) in [key(1, 0), key(1, 1), key(2, 0)].into_iter().enumerate() {
            let (_, closed) = pool.insert(k, i as u32, false);
            assert!(closed.is_empty());
        }
        // Touch (1,0): (1,1) is now the oldest and goes when a fourth file opens.
        assert_eq!(pool.get(key(1, 0), false), Some(0));
        let (_, closed) = pool.insert(key(3, 7), 9, true);
        assert_eq!(closed, vec![1]);
        assert_eq!(pool.len(), 3);
        assert_eq!(pool.get(key(1, 1), false), None);
        assert_eq!(pool.len_of(1), 1);
        assert_eq!(pool.len_of(3), 1);
        // 1,000 files of 100 storages never hold more than the bound.
        for s in 10..110u64 {
            for f in 0..10 {
                pool.insert(key(s, f), f as u32, false);
                assert!(pool.len() <= 3);
            }
        }
        assert_eq!(pool.len(), 3);
        assert_eq!(pool.len_of(109), 3, "the three most recent remain");
    }

    #[test]
    fn read_only_handle_is_replaced_for_a_write_and_storages_drain_alone() {
        let mut pool: FilePool<u32> = FilePool::new(10);
        pool.insert(key(1, 0), 1, false);
        assert_eq!(pool.get(key(1, 0), true), None, "a read-only handle cannot write");
        let (used, closed) = pool.insert(key(1, 0), 2, true);
        assert_eq!((used, closed), (2, vec![1]));
        // A concurrent opener of the same file gets the handle already there.
        let (used, closed) = pool.insert(key(1, 0), 3, true);
        assert_eq!((used, closed), (2, vec![3]));
        pool.insert(key(1, 5), 4, false);
        pool.insert(
            HandleKey {
                storage: 1,
                file: 5,
                direct: true,
            },
            5,
            true,
        );
        pool.insert(key(2, 0), 6, false);
        let mut drained: Vec<u32> = pool.drain_storage(1).into_iter().map(|(_, f)| f).collect();
        drained.sort_unstable();
        assert_eq!(drained, vec![2, 4, 5]);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.get(key(2, 0), false), Some(6));
    }

    #[test]
    fn shedding_and_shrinking_close_the_oldest() {
        let mut pool: FilePool<u32> = FilePool::new(8);
        for f in 0..8 {
            pool.insert(key(1, f), f as u32, false);
        }
        let mut shed = pool.shed_half();
        shed.sort_unstable();
        assert_eq!(shed, vec![0, 1, 2, 3]);
        let mut closed = pool.set_max(2);
        closed.sort_unstable();
        assert_eq!(closed, vec![4, 5]);
        assert_eq!(pool.len(), 2);
    }
}
