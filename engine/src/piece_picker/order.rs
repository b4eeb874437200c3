//! Wanted, missing pieces bucketed by priority class and availability.
//!
//! A piece moves between buckets in O(1) (swap-remove, then insert at a random
//! position), so availability updates are cheap and a rarest-first scan walks
//! buckets from the rarest up. Inserting at a random position keeps pieces of equal
//! availability in a shuffled order however they arrive (a BITFIELD arrives in index
//! order), which is the random tie-break of rarest-first.

/// Priority classes, scanned in index order: High, Normal, Low. Skip pieces are absent.
pub(super) const CLASSES: usize = 3;

/// `pos` of a piece that is in no bucket.
const ABSENT: u32 = u32::MAX;

pub(super) struct Order {
    /// `buckets[class][bucket]`: the pieces of that class and availability bucket.
    buckets: [Vec<Vec<u32>>; CLASSES],
    /// Index of each piece within its bucket, or `ABSENT`.
    pos: Vec<u32>,
    /// splitmix64 state for the insertion positions.
    rng: u64,
}

impl Order {
    pub(super) fn new(num_pieces: u32, seed: u64) -> Self {
        Order {
            buckets: [Vec::new(), Vec::new(), Vec::new()],
            pos: vec![ABSENT; num_pieces as usize],
            rng: seed,
        }
    }

    pub(super) fn contains(&self, piece: u32) -> bool {
        self.pos.get(piece as usize).is_some_and(|&pos| pos != ABSENT)
    }

    pub(super) fn num_buckets(&self, class: usize) -> usize {
        self.buckets[class].len()
    }

    pub(super) fn bucket(&self, class: usize, bucket: usize) -> &[u32] {
        self.buckets[class].get(bucket).map_or(&[], |b| b.as_slice())
    }

    pub(super) fn insert(&mut self, piece: u32, class: usize, bucket: usize) {
        debug_assert!(!self.contains(piece), "piece {piece} already ordered");
        debug_assert!((piece as usize) < self.pos.len());
        let buckets = &mut self.buckets[class];
        if buckets.len() <= bucket {
            buckets.resize_with(bucket + 1, Vec::new);
        }
        let list = &mut buckets[bucket];
        list.push(piece);
        let last = list.len() - 1;
        let j = (next_random(&mut self.rng) % list.len() as u64) as usize;
        list.swap(j, last);
        self.pos[list[last] as usize] = last as u32;
        self.pos[piece as usize] = j as u32;
    }

    pub(super) fn remove(&mut self, piece: u32, class: usize, bucket: usize) {
        let Some(&i) = self.pos.get(piece as usize) else {
            debug_assert!(false, "piece {piece} out of range");
            return;
        };
        let i = i as usize;
        let Some(list) = self.buckets[class].get_mut(bucket) else {
            debug_assert!(false, "piece {piece}: no bucket {class}/{bucket}");
            return;
        };
        if list.get(i) != Some(&piece) {
            debug_assert!(false, "piece {piece} not at its position");
            return;
        }
        list.swap_remove(i);
        if let Some(&moved) = list.get(i) {
            self.pos[moved as usize] = i as u32;
        }
        self.pos[piece as usize] = ABSENT;
    }

    /// Whether `piece` sits in exactly `class`/`bucket`, for invariant checks.
    #[cfg(test)]
    pub(super) fn is_at(&self, piece: u32, class: usize, bucket: usize) -> bool {
        let Some(&i) = self.pos.get(piece as usize) else {
            return false;
        };
        self.bucket(class, bucket).get(i as usize) == Some(&piece)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.buckets.iter().flatten().map(Vec::len).sum()
    }
}

/// splitmix64: tiny, fast and well mixed; quality needs are modest (tie-breaking).
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
