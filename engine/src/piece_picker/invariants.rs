//! Full recount of the picker's cached state, for tests.

use super::*;

impl PiecePicker {
    /// Recounts every cached quantity from scratch; O(pieces), tests only.
    pub(crate) fn check_invariants(&self) {
        let mut bytes = 0u64;
        let mut unrequested = 0u64;
        let mut high = 0u32;
        for p in 0..self.num_pieces {
            let prio = self.priority[p as usize];
            let wanted = prio != PiecePriority::Skip && !self.have.get(p);
            assert_eq!(self.want.get(p), wanted, "piece {p}");
            assert_eq!(self.order.contains(p), wanted, "piece {p}");
            if wanted {
                let class = prio.class().unwrap();
                let bucket = bucket_of(self.availability[p as usize]);
                assert!(self.order.is_at(p, class, bucket), "piece {p}");
                bytes += u64::from(self.size_of(p));
                unrequested += u64::from(self.unrequested_in(p));
                high += u32::from(prio == PiecePriority::High);
            }
            let slot = self.partial_slot[p as usize];
            if slot != NO_PARTIAL {
                assert!(!self.have.get(p), "partial for had piece {p}");
                assert_eq!(self.partials[slot as usize].piece, p);
            }
        }
        assert_eq!(self.order.len(), self.want.count_ones() as usize);
        for partial in &self.partials {
            partial.check();
            assert!(!partial.is_idle(), "idle partial kept: {}", partial.piece);
            assert_eq!(
                self.partial_slot[partial.piece as usize] as usize,
                self.partials.iter().position(|q| q.piece == partial.piece).unwrap()
            );
        }
        let wanted_partials = self.partials.iter().filter(|q| self.want.get(q.piece)).count();
        assert_eq!(wanted_partials as u32, self.wanted_partials);
        assert_eq!(bytes, self.bytes_left_wanted);
        assert_eq!(unrequested, self.unrequested_blocks);
        assert_eq!(high, self.high_missing);
        assert!((0..self.seq_cursor).all(|p| self.have.get(p)));
    }

    /// Each piece being downloaded, with the outstanding requests of each of its blocks.
    pub(crate) fn requests_in_flight(&self) -> Vec<(PieceIndex, Vec<u8>)> {
        self.partials
            .iter()
            .map(|p| (PieceIndex(p.piece), p.requests()))
            .collect()
    }
}
