//! How much each file of a torrent is wanted, and what that means for its pieces.
//!
//! The user ranks files; the picker ranks pieces. A piece that holds bytes of
//! several files takes the highest rank among them, so a wanted file is never
//! left incomplete because its neighbour is skipped.

use crate::file_layout::FileLayout;
use crate::piece_picker::PiecePriority;

/// How much a file is wanted. Ordered: `Skip < Low < Normal < High`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FilePriority {
    /// Do not download (bytes shared with a wanted file's pieces still arrive).
    Skip,
    /// Download after every Normal and High file's pieces.
    Low,
    #[default]
    Normal,
    /// Download before every Normal file's pieces.
    High,
}

impl FilePriority {
    /// Whether the file's bytes are to be downloaded at all.
    pub fn is_wanted(self) -> bool {
        self != FilePriority::Skip
    }

    /// The piece priority of a piece that holds only this file's bytes.
    pub fn piece_priority(self) -> PiecePriority {
        match self {
            FilePriority::Skip => PiecePriority::Skip,
            FilePriority::Low => PiecePriority::Low,
            FilePriority::Normal => PiecePriority::Normal,
            FilePriority::High => PiecePriority::High,
        }
    }
}

/// The priority of every piece of `layout` given each file's: the highest among the
/// files a piece holds bytes of. `files` shorter than the file list leaves the
/// remaining files Normal (an empty list means every file Normal); extra entries
/// are ignored.
pub fn piece_priorities(layout: &FileLayout, files: &[FilePriority]) -> Vec<PiecePriority> {
    let num_pieces = layout.num_pieces() as usize;
    let mut highest: Vec<Option<FilePriority>> = vec![None; num_pieces];
    for file in 0..layout.num_files() {
        let priority = files.get(file).copied().unwrap_or_default();
        let Some(range) = layout.piece_range_of_file(file) else {
            continue;
        };
        for p in range {
            if let Some(slot) = highest.get_mut(p as usize) {
                *slot = Some(slot.map_or(priority, |h| h.max(priority)));
            }
        }
    }
    highest
        .into_iter()
        .map(|h| h.unwrap_or_default().piece_priority())
        .collect()
}

/// Bytes of the files that are wanted (every file when `files` is empty).
pub fn wanted_bytes(layout: &FileLayout, files: &[FilePriority]) -> u64 {
    (0..layout.num_files())
        .filter(|&f| files.get(f).copied().unwrap_or_default().is_wanted())
        .filter_map(|f| layout.file_length(f))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use FilePriority::*;

    /// Files of 10, 25 and 5 bytes over 10-byte pieces: piece 0 = file 0, pieces 1
    /// and 2 = file 1, piece 3 = file 1's last 5 bytes and all of file 2.
    fn layout() -> FileLayout {
        FileLayout::new(&[10, 25, 5], 10, 40).unwrap()
    }

    #[test]
    fn every_file_normal_when_none_given() {
        assert_eq!(piece_priorities(&layout(), &[]), vec![PiecePriority::Normal; 4]);
        assert_eq!(wanted_bytes(&layout(), &[]), 40);
    }

    #[test]
    fn a_shared_piece_takes_the_highest_of_its_files() {
        let got = piece_priorities(&layout(), &[Low, Skip, High]);
        assert_eq!(
            got,
            vec![
                PiecePriority::Low,
                PiecePriority::Skip,
                PiecePriority::Skip,
                PiecePriority::High
            ]
        );
        let got = piece_priorities(&layout(), &[Skip, Normal, Skip]);
        assert_eq!(got[0], PiecePriority::Skip);
        assert_eq!(got[3], PiecePriority::Normal, "file 1's tail keeps piece 3 wanted");
    }

    #[test]
    fn a_short_list_leaves_the_rest_normal() {
        let got = piece_priorities(&layout(), &[Skip]);
        assert_eq!(got[0], PiecePriority::Skip);
        assert!(got[1..].iter().all(|p| *p == PiecePriority::Normal), "{got:?}");
    }

    #[test]
    fn wanted_bytes_counts_only_files_not_skipped() {
        assert_eq!(wanted_bytes(&layout(), &[Skip, Low, Skip]), 25);
        assert_eq!(wanted_bytes(&layout(), &[Skip, Skip, Skip]), 0);
        assert_eq!(wanted_bytes(&layout(), &[High, Skip]), 15);
    }

    #[test]
    fn order_is_skip_low_normal_high() {
        assert!(Skip < Low && Low < Normal && Normal < High);
    }
}
