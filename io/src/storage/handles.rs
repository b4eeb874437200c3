//! A bounded set of open file handles with least-recently-used eviction.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// One open file and how it was opened.
struct Slot<F> {
    file: Rc<F>,
    writable: bool,
    tick: u64,
}

/// Open handles by file index, at most `max` of them (in-flight operations may
/// briefly keep an evicted handle alive; its fd closes when they finish).
pub(crate) struct Handles<F> {
    slots: HashMap<usize, Slot<F>>,
    by_age: BTreeMap<u64, usize>,
    tick: u64,
    max: usize,
}

impl<F> Handles<F> {
    pub(crate) fn new(max: usize) -> Self {
        Handles {
            slots: HashMap::new(),
            by_age: BTreeMap::new(),
            tick: 0,
            max: max.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Changes the bound; returns handles to close now.
    pub(crate) fn set_max(&mut self, max: usize) -> Vec<Rc<F>> {
        self.max = max.max(1);
        self.evict_over_bound()
    }

    /// The open handle of `index`, if it is open and writable when `write` is asked.
    pub(crate) fn get(&mut self, index: usize, write: bool) -> Option<Rc<F>> {
        self.tick += 1;
        let tick = self.tick;
        let slot = self.slots.get_mut(&index)?;
        if write && !slot.writable {
            return None;
        }
        self.by_age.remove(&slot.tick);
        slot.tick = tick;
        self.by_age.insert(tick, index);
        Some(slot.file.clone())
    }

    /// Adds a freshly opened handle (replacing a weaker or concurrent one) and
    /// returns the handle to use plus the handles to close.
    pub(crate) fn insert(&mut self, index: usize, file: F, writable: bool) -> (Rc<F>, Vec<Rc<F>>) {
        let mut to_close = Vec::new();
        // Another task may have opened it while we awaited; keep the better one.
        if let Some(existing) = self.get(index, writable) {
            return (existing, vec![Rc::new(file)]);
        }
        if let Some(old) = self.slots.remove(&index) {
            self.by_age.remove(&old.tick);
            to_close.push(old.file);
        }
        self.tick += 1;
        let file = Rc::new(file);
        self.slots.insert(
            index,
            Slot {
                file: file.clone(),
                writable,
                tick: self.tick,
            },
        );
        self.by_age.insert(self.tick, index);
        to_close.extend(self.evict_over_bound());
        (file, to_close)
    }

    /// Removes every handle; returns them to close.
    pub(crate) fn drain(&mut self) -> Vec<(usize, Rc<F>)> {
        self.by_age.clear();
        self.slots.drain().map(|(i, s)| (i, s.file)).collect()
    }

    fn evict_over_bound(&mut self) -> Vec<Rc<F>> {
        let mut out = Vec::new();
        while self.slots.len() > self.max {
            let Some((_, index)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.remove(&index) {
                out.push(slot.file);
            }
        }
        out
    }
}
