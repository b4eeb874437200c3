//! A set of integers held as sorted, merged, non-overlapping inclusive ranges:
//! two flat arrays (starts, ends), so a million ranges of IPv4 take 8 MB and a
//! lookup is one binary search over the starts.

use std::fmt::Debug;

/// An integer type a [`RangeSet`] can hold (`u32` for IPv4, `u128` for IPv6).
pub trait RangeBound: Copy + Ord + Debug {
    /// The value after this one, `None` at the type's maximum.
    fn successor(self) -> Option<Self>;
    /// The value before this one, `None` at zero.
    fn predecessor(self) -> Option<Self>;
}

macro_rules! range_bound {
    ($t:ty) => {
        impl RangeBound for $t {
            fn successor(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn predecessor(self) -> Option<Self> {
                self.checked_sub(1)
            }
        }
    };
}
range_bound!(u32);
range_bound!(u128);

/// Sorted, merged, non-overlapping inclusive ranges; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeSet<T> {
    starts: Box<[T]>,
    /// `ends[i]` closes `starts[i]`; `ends[i] < starts[i + 1]` minus one at least
    /// (neighbours that touch are merged).
    ends: Box<[T]>,
}

impl<T> Default for RangeSet<T> {
    fn default() -> Self {
        RangeSet {
            starts: Box::new([]),
            ends: Box::new([]),
        }
    }
}

impl<T: RangeBound> RangeSet<T> {
    /// Builds the set from inclusive `(start, end)` ranges in any order, overlapping
    /// or touching. A range with `start > end` is empty and is ignored.
    pub fn from_ranges(mut ranges: Vec<(T, T)>) -> RangeSet<T> {
        ranges.retain(|(s, e)| s <= e);
        ranges.sort_unstable();
        let mut starts = Vec::with_capacity(ranges.len());
        let mut ends: Vec<T> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            if let Some(last) = ends.last_mut() {
                // Overlapping or adjacent (the last end's successor reaches `s`), or
                // the last range already runs to the type's maximum.
                let touches = last.successor().is_none_or(|next| s <= next);
                if touches {
                    *last = (*last).max(e);
                    continue;
                }
            }
            starts.push(s);
            ends.push(e);
        }
        RangeSet {
            starts: starts.into_boxed_slice(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// Whether `x` lies in one of the ranges: O(log n).
    pub fn contains(&self, x: T) -> bool {
        let after = self.starts.partition_point(|s| *s <= x);
        after > 0 && self.ends[after - 1] >= x
    }

    /// How many disjoint ranges the set holds.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The ranges in order.
    pub fn iter(&self) -> impl Iterator<Item = (T, T)> + '_ {
        self.starts.iter().copied().zip(self.ends.iter().copied())
    }

    /// The values of this set that are not in `other`: a linear walk over both.
    pub fn subtract(&self, other: &RangeSet<T>) -> RangeSet<T> {
        if other.is_empty() {
            return self.clone();
        }
        let mut starts = Vec::with_capacity(self.len());
        let mut ends = Vec::with_capacity(self.len());
        // `first` only moves forward: ranges of `other` wholly before the current
        // range cannot touch any later one either.
        let mut first = 0;
        for (s, e) in self.iter() {
            while first < other.len() && other.ends[first] < s {
                first += 1;
            }
            // `from`: where the part of (s, e) not yet cut away starts; None when
            // nothing of it is left.
            let mut from = Some(s);
            let mut k = first;
            while let Some(cur) = from {
                if k >= other.len() || other.starts[k] > e {
                    break;
                }
                let (cut_s, cut_e) = (other.starts[k], other.ends[k]);
                if cut_s > cur {
                    if let Some(before) = cut_s.predecessor() {
                        starts.push(cur);
                        ends.push(before);
                    }
                }
                from = if cut_e >= e { None } else { cut_e.successor() };
                k += 1;
            }
            if let Some(cur) = from {
                starts.push(cur);
                ends.push(e);
            }
        }
        RangeSet {
            starts: starts.into_boxed_slice(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// Checks the invariant: each range non-empty, sorted, apart from the next by
    /// at least one value.
    pub fn is_canonical(&self) -> bool {
        self.starts.len() == self.ends.len()
            && self.iter().all(|(s, e)| s <= e)
            && self
                .iter()
                .zip(self.iter().skip(1))
                .all(|((_, e), (next, _))| e.successor().is_some_and(|after| after < next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(r: &[(u32, u32)]) -> RangeSet<u32> {
        RangeSet::from_ranges(r.to_vec())
    }

    #[test]
    fn overlapping_and_adjacent_ranges_merge() {
        let s = set(&[(10, 20), (15, 30), (31, 40), (50, 60), (5, 9), (100, 100)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(5, 40), (50, 60), (100, 100)]);
        assert!(s.is_canonical());
        assert!(s.contains(5) && s.contains(40) && s.contains(100));
        assert!(!s.contains(4) && !s.contains(41) && !s.contains(49) && !s.contains(101));
    }

    #[test]
    fn the_edges_of_the_type_are_handled() {
        let s = set(&[(u32::MAX - 1, u32::MAX), (0, 0), (u32::MAX, u32::MAX), (1, 1)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 1), (u32::MAX - 1, u32::MAX)]);
        assert!(s.contains(u32::MAX) && s.contains(0));
        let all = set(&[(0, u32::MAX), (7, 9)]);
        assert_eq!(all.len(), 1);
        assert!(all.subtract(&all).is_empty());
        let holes = all.subtract(&set(&[(0, 0), (u32::MAX, u32::MAX), (5, 6)]));
        assert_eq!(holes.iter().collect::<Vec<_>>(), vec![(1, 4), (7, u32::MAX - 1)]);
    }

    #[test]
    fn reversed_ranges_are_empty() {
        assert!(set(&[(9, 3)]).is_empty());
        assert!(!set(&[]).contains(0));
    }

    #[test]
    fn subtract_cuts_holes_and_edges() {
        let s = set(&[(0, 100), (200, 300)]);
        let cut = s.subtract(&set(&[(0, 9), (50, 60), (95, 210), (300, 400)]));
        assert_eq!(cut.iter().collect::<Vec<_>>(), vec![(10, 49), (61, 94), (211, 299)]);
        assert!(cut.is_canonical());
    }

    /// Values small enough that random ranges overlap and touch often.
    const DOMAIN: u32 = 96;

    fn ranges() -> impl Strategy<Value = Vec<(u32, u32)>> {
        proptest::collection::vec((0..DOMAIN, 0..12u32).prop_map(|(s, len)| (s, s + len)), 0..24)
    }

    fn naive(ranges: &[(u32, u32)], x: u32) -> bool {
        ranges.iter().any(|(s, e)| *s <= x && x <= *e)
    }

    proptest! {
        #[test]
        fn a_range_set_equals_the_naive_model(r in ranges()) {
            let s = RangeSet::from_ranges(r.clone());
            prop_assert!(s.is_canonical());
            for x in 0..DOMAIN + 16 {
                prop_assert_eq!(s.contains(x), naive(&r, x), "probe {}", x);
            }
            // Merged: no fewer values, never more ranges than given.
            prop_assert!(s.len() <= r.len());
        }

        #[test]
        fn subtract_equals_the_naive_model(a in ranges(), b in ranges()) {
            let d = RangeSet::from_ranges(a.clone()).subtract(&RangeSet::from_ranges(b.clone()));
            prop_assert!(d.is_canonical());
            for x in 0..DOMAIN + 16 {
                prop_assert_eq!(d.contains(x), naive(&a, x) && !naive(&b, x), "probe {}", x);
            }
        }

        #[test]
        fn u128_sets_behave_as_u32_sets(r in ranges(), shift in 0u32..100) {
            let wide: Vec<(u128, u128)> =
                r.iter().map(|(s, e)| ((*s as u128) << shift, (*e as u128) << shift)).collect();
            let s = RangeSet::from_ranges(wide.clone());
            prop_assert!(s.is_canonical());
            for x in 0..DOMAIN + 16 {
                let probe = (x as u128) << shift;
                let expected = wide.iter().any(|(a, b)| *a <= probe && probe <= *b);
                prop_assert_eq!(s.contains(probe), expected);
            }
        }
    }
}
