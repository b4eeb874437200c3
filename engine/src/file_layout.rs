//! Where the bytes of a piece live: the mapping from (piece, offset, length) to
//! spans of the torrent's files.
//!
//! A torrent's content is the concatenation of its files in torrent order, cut into
//! pieces of `piece_length` bytes (the last piece may be shorter). A piece, or a
//! block inside it, can start in one file and end in another, and zero-length files
//! occupy no bytes at all. [`FileLayout`] answers "which file spans does this range
//! cover" and "which pieces does this file touch"; it does no I/O.

use std::ops::RangeInclusive;

use thiserror::Error;

use crate::types::PieceIndex;

/// Why a set of file lengths and a piece length do not describe a valid layout.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LayoutError {
    /// A piece length of zero cannot cut anything.
    #[error("piece length is zero")]
    ZeroPieceLength,
    /// The file lengths do not add up to the torrent's total length.
    #[error("file lengths add up to {sum} bytes, but the total length is {total}")]
    LengthMismatch { sum: u64, total: u64 },
    /// The file lengths overflow a 64-bit byte count.
    #[error("file lengths overflow a 64-bit total")]
    Overflow,
    /// The torrent would have more pieces than a 32-bit piece index can name.
    #[error("{pieces} pieces do not fit a 32-bit piece index")]
    TooManyPieces { pieces: u64 },
}

/// One contiguous run of bytes of a piece that lies within a single file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileSpan {
    /// Index of the file, in torrent order.
    pub file_index: usize,
    /// Byte offset of the span within that file.
    pub file_offset: u64,
    /// Byte offset of the span within the piece.
    pub piece_offset: u32,
    /// Length of the span in bytes (never zero).
    pub length: u32,
}

/// The files of a torrent laid end to end and cut into pieces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLayout {
    /// `ends[i]` is the absolute offset one past the last byte of file `i`
    /// (a non-decreasing prefix sum of the file lengths).
    ends: Vec<u64>,
    piece_length: u32,
    total_length: u64,
    num_pieces: u32,
}

impl FileLayout {
    /// Builds the layout for files of `file_lengths` bytes (torrent order), cut into
    /// pieces of `piece_length` bytes; `total_length` must equal the sum of the files.
    pub fn new(file_lengths: &[u64], piece_length: u32, total_length: u64) -> Result<Self, LayoutError> {
        if piece_length == 0 {
            return Err(LayoutError::ZeroPieceLength);
        }
        let mut ends = Vec::with_capacity(file_lengths.len());
        let mut sum: u64 = 0;
        for &len in file_lengths {
            sum = sum.checked_add(len).ok_or(LayoutError::Overflow)?;
            ends.push(sum);
        }
        if sum != total_length {
            return Err(LayoutError::LengthMismatch {
                sum,
                total: total_length,
            });
        }
        let pieces = total_length.div_ceil(u64::from(piece_length));
        let num_pieces = u32::try_from(pieces).map_err(|_| LayoutError::TooManyPieces { pieces })?;
        Ok(FileLayout {
            ends,
            piece_length,
            total_length,
            num_pieces,
        })
    }

    /// Number of pieces (zero for an empty torrent).
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// Nominal piece length; every piece but the last has exactly this size.
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// Total content length in bytes.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// Number of files, zero-length ones included.
    pub fn num_files(&self) -> usize {
        self.ends.len()
    }

    /// Length of file `file_index`, or `None` if there is no such file.
    pub fn file_length(&self, file_index: usize) -> Option<u64> {
        let end = *self.ends.get(file_index)?;
        Some(end - self.file_start(file_index))
    }

    /// Absolute offset of the first byte of file `file_index` within the torrent.
    fn file_start(&self, file_index: usize) -> u64 {
        match file_index {
            0 => 0,
            i => self.ends[i - 1],
        }
    }

    /// Size of `piece` in bytes: `piece_length` except for a shorter last piece,
    /// and zero for an index out of range.
    pub fn piece_size(&self, piece: PieceIndex) -> u32 {
        if piece.0 >= self.num_pieces {
            return 0;
        }
        let start = u64::from(piece.0) * u64::from(self.piece_length);
        let rest = self.total_length - start;
        // `rest` > 0 because the piece is in range; the min fits in u32.
        rest.min(u64::from(self.piece_length)) as u32
    }

    /// The file spans covering `len` bytes at `offset_in_piece` within `piece`,
    /// in order; spans cross file boundaries and zero-length files never appear.
    ///
    /// The range is clamped to the piece: a piece out of range or a range past the
    /// piece's end yields fewer (or no) bytes, never bytes of another piece. Callers
    /// that must reject such requests compare against [`piece_size`](Self::piece_size).
    pub fn spans(&self, piece: PieceIndex, offset_in_piece: u32, len: u32) -> Spans<'_> {
        let size = self.piece_size(piece);
        let begin = offset_in_piece.min(size);
        let end = offset_in_piece.saturating_add(len).min(size);
        let piece_start = u64::from(piece.0) * u64::from(self.piece_length);
        let abs = piece_start + u64::from(begin);
        // The first file whose end lies past `abs` holds byte `abs`; zero-length
        // files end where they start and are skipped by this search.
        let file_index = self.ends.partition_point(|&e| e <= abs);
        Spans {
            layout: self,
            file_index,
            abs,
            piece_offset: begin,
            remaining: end - begin,
        }
    }

    /// The pieces that hold bytes of file `file_index`, or `None` for a
    /// zero-length file or an index out of range. Used to map file priorities
    /// onto pieces; the first and last piece may be shared with neighbours.
    pub fn piece_range_of_file(&self, file_index: usize) -> Option<RangeInclusive<u32>> {
        let end = *self.ends.get(file_index)?;
        let start = self.file_start(file_index);
        if end == start {
            return None;
        }
        let pl = u64::from(self.piece_length);
        // Both quotients are below `num_pieces`, which fits in u32.
        Some((start / pl) as u32..=((end - 1) / pl) as u32)
    }
}

/// Iterator over the [`FileSpan`]s of a range of a piece; see [`FileLayout::spans`].
#[derive(Clone, Debug)]
pub struct Spans<'a> {
    layout: &'a FileLayout,
    file_index: usize,
    abs: u64,
    piece_offset: u32,
    remaining: u32,
}

impl Iterator for Spans<'_> {
    type Item = FileSpan;

    fn next(&mut self) -> Option<FileSpan> {
        if self.remaining == 0 {
            return None;
        }
        // Skip files that end at or before the cursor (zero-length ones included).
        while *self.layout.ends.get(self.file_index)? <= self.abs {
            self.file_index += 1;
        }
        let file_end = self.layout.ends[self.file_index];
        let file_start = self.layout.file_start(self.file_index);
        let length = (file_end - self.abs).min(u64::from(self.remaining)) as u32;
        let span = FileSpan {
            file_index: self.file_index,
            file_offset: self.abs - file_start,
            piece_offset: self.piece_offset,
            length,
        };
        self.abs += u64::from(length);
        self.piece_offset += length;
        self.remaining -= length;
        Some(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout(files: &[u64], pl: u32) -> FileLayout {
        FileLayout::new(files, pl, files.iter().sum()).unwrap()
    }

    #[test]
    fn piece_crossing_a_boundary_and_empty_files() {
        // files: 10, 0, 6, 0 ; pieces of 8 -> [0..8) [8..16)
        let l = layout(&[10, 0, 6, 0], 8);
        assert_eq!(l.num_pieces(), 2);
        assert_eq!(l.piece_size(PieceIndex(0)), 8);
        assert_eq!(l.piece_size(PieceIndex(1)), 8);
        assert_eq!(l.piece_size(PieceIndex(2)), 0);
        let s: Vec<_> = l.spans(PieceIndex(1), 0, 8).collect();
        assert_eq!(
            s,
            vec![
                FileSpan {
                    file_index: 0,
                    file_offset: 8,
                    piece_offset: 0,
                    length: 2
                },
                FileSpan {
                    file_index: 2,
                    file_offset: 0,
                    piece_offset: 2,
                    length: 6
                },
            ]
        );
        assert_eq!(l.piece_range_of_file(0), Some(0..=1));
        assert_eq!(l.piece_range_of_file(1), None);
        assert_eq!(l.piece_range_of_file(2), Some(1..=1));
        assert_eq!(l.piece_range_of_file(3), None);
        assert_eq!(l.piece_range_of_file(4), None);
    }

    #[test]
    fn short_last_piece_and_clamping() {
        let l = layout(&[20], 8);
        assert_eq!(l.num_pieces(), 3);
        assert_eq!(l.piece_size(PieceIndex(2)), 4);
        let s: Vec<_> = l.spans(PieceIndex(2), 2, 100).collect();
        assert_eq!(
            s,
            vec![FileSpan {
                file_index: 0,
                file_offset: 18,
                piece_offset: 2,
                length: 2
            }]
        );
        assert_eq!(l.spans(PieceIndex(3), 0, 8).count(), 0);
        assert_eq!(l.spans(PieceIndex(0), 9, 8).count(), 0);
        assert_eq!(l.spans(PieceIndex(0), u32::MAX, u32::MAX).count(), 0);
    }

    #[test]
    fn bad_layouts_rejected() {
        assert_eq!(FileLayout::new(&[1], 0, 1), Err(LayoutError::ZeroPieceLength));
        assert_eq!(
            FileLayout::new(&[1, 2], 4, 4),
            Err(LayoutError::LengthMismatch { sum: 3, total: 4 })
        );
        assert_eq!(FileLayout::new(&[u64::MAX, 1], 4, 0), Err(LayoutError::Overflow));
        assert!(matches!(
            FileLayout::new(&[u64::MAX], 1, u64::MAX),
            Err(LayoutError::TooManyPieces { .. })
        ));
        let empty = FileLayout::new(&[0, 0], 16, 0).unwrap();
        assert_eq!(empty.num_pieces(), 0);
        assert_eq!(empty.spans(PieceIndex(0), 0, 16).count(), 0);
    }

    proptest! {
        #[test]
        fn spans_tile_the_content_exactly_once(
            files in proptest::collection::vec(
                prop_oneof![Just(0u64), 1u64..5, 1u64..200], 0..12),
            pl in 1u32..70,
        ) {
            let l = layout(&files, pl);
            let mut cursor = 0u64; // absolute offset expected next
            for p in 0..l.num_pieces() {
                let size = l.piece_size(PieceIndex(p));
                prop_assert!(size > 0 && size <= pl);
                let mut in_piece = 0u32;
                for s in l.spans(PieceIndex(p), 0, pl) {
                    prop_assert!(s.length > 0);
                    prop_assert_eq!(s.piece_offset, in_piece);
                    let flen = files[s.file_index];
                    prop_assert!(s.file_offset + u64::from(s.length) <= flen);
                    let start: u64 = files[..s.file_index].iter().sum();
                    prop_assert_eq!(start + s.file_offset, cursor);
                    let range = l.piece_range_of_file(s.file_index).unwrap();
                    prop_assert!(range.contains(&p));
                    cursor += u64::from(s.length);
                    in_piece += s.length;
                }
                prop_assert_eq!(in_piece, size);
            }
            prop_assert_eq!(cursor, l.total_length());
            for (i, &f) in files.iter().enumerate() {
                prop_assert_eq!(l.piece_range_of_file(i).is_none(), f == 0);
            }
        }

        #[test]
        fn sub_ranges_match_whole_piece_spans(
            files in proptest::collection::vec(0u64..50, 1..8),
            pl in 1u32..40,
            off in 0u32..40,
            len in 0u32..40,
        ) {
            let l = layout(&files, pl);
            prop_assume!(l.num_pieces() > 0);
            let p = PieceIndex(l.num_pieces() - 1);
            let size = l.piece_size(p);
            let total: u32 = l.spans(p, off, len).map(|s| s.length).sum();
            let want = off.saturating_add(len).min(size) - off.min(size);
            prop_assert_eq!(total, want);
        }
    }
}
