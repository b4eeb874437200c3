//! Resume records: what a restart may trust without reading the data again.
//!
//! A record holds the verified pieces (a BitTorrent bitfield) and, per file of the
//! torrent, the size and modification time it had when the record was taken,
//! after the torrent's written data was flushed to disk. At the next start a piece
//! is *trusted* (not read) only when the record has it and every file it touches
//! still has its recorded size and mtime; every other piece is hashed. A piece
//! verified after the record was taken is not in it, so it is hashed too.
//!
//! The daemon serializes records itself; these are plain values.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use ccbt_engine::file_layout::FileLayout;
use ccbt_engine::{Bitfield, PieceIndex};

/// What a torrent had verified on disk when the record was taken.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeRecord {
    /// Verified pieces as a BitTorrent bitfield: piece 0 is the high bit of byte 0.
    pub have: Vec<u8>,
    /// One stamp per file of the metainfo, in order (a padding file: all zero, ignored).
    pub files: Vec<FileStamp>,
}

/// A file's size and modification time, as `stat` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStamp {
    pub length: u64,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
}

/// How a torrent's start went: what was trusted from its record and what was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Pieces taken as verified from the record without reading them.
    pub trusted_pieces: u32,
    /// Pieces read from disk and hashed (pieces lying wholly in holes, or past the
    /// end of a file, are decided without reading and are not counted).
    pub hashed_pieces: u32,
    /// Files (padding excluded) whose size or mtime differ from the record.
    pub changed_files: u32,
    /// Why the record was not used at all, when it was given but did not fit.
    pub record_problem: Option<String>,
    /// Wall time of the check, in milliseconds.
    pub millis: u64,
    /// Bytes of the pieces found verified (trusted or hashed): what the torrent
    /// holds before its first status.
    pub verified_bytes: u64,
}

/// The stamp of the file at `path`, without following a symlink; `None` when it
/// cannot be inspected (absent, say) or is not a regular file.
pub fn stamp_file(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    Some(FileStamp {
        length: meta.len(),
        mtime_secs: meta.mtime(),
        mtime_nanos: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
    })
}

/// A file of the torrent, as far as stamping it goes.
#[derive(Clone, Copy, Debug)]
pub struct StampedFile<'a> {
    /// Relative to the download directory.
    pub path: &'a Path,
    pub padding: bool,
}

/// The current stamp of every file (`None`: absent, or a padding file).
pub fn current_stamps(download_dir: &Path, files: &[StampedFile<'_>]) -> Vec<Option<FileStamp>> {
    files
        .iter()
        .map(|f| {
            if f.padding {
                None
            } else {
                stamp_file(&download_dir.join(f.path))
            }
        })
        .collect()
}

/// The stamps to record: padding and absent files get the all-zero stamp (an
/// absent file never matches it at the next start, since it is still absent or has
/// a real mtime).
pub fn stamps_for_record(current: &[Option<FileStamp>]) -> Vec<FileStamp> {
    current.iter().map(|s| s.unwrap_or_default()).collect()
}

/// What a fitting record lets a start skip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trusted {
    /// Pieces in the record whose files are all unchanged.
    pub pieces: Bitfield,
    /// Files (padding excluded) that changed since the record.
    pub changed_files: u32,
}

/// Decides which pieces of `record` may be trusted, given each file's current
/// stamp (`current[i]`, `None` when absent) and whether it is a padding file.
/// A record that does not fit the torrent (bitfield length or spare bits, number
/// of files) is refused with the reason.
pub fn trusted_pieces(
    record: &ResumeRecord,
    layout: &FileLayout,
    padding: &[bool],
    current: &[Option<FileStamp>],
) -> Result<Trusted, String> {
    let num_files = layout.num_files();
    if record.files.len() != num_files {
        return Err(format!(
            "the record names {} files, the torrent has {num_files}",
            record.files.len()
        ));
    }
    if padding.len() != num_files || current.len() != num_files {
        return Err(format!(
            "{} padding flags and {} stamps for {num_files} files",
            padding.len(),
            current.len()
        ));
    }
    let n = layout.num_pieces();
    let have = Bitfield::from_bytes(&record.have, n).map_err(|e| format!("the record's bitfield: {e}"))?;
    let unchanged: Vec<bool> = (0..num_files)
        .map(|i| padding[i] || current[i] == Some(record.files[i]))
        .collect();
    let changed_files = unchanged.iter().filter(|u| !**u).count() as u32;
    let mut pieces = Bitfield::new(n);
    for p in have.iter_ones() {
        let piece = PieceIndex(p);
        if layout
            .spans(piece, 0, layout.piece_size(piece))
            .all(|s| unchanged[s.file_index])
        {
            pieces.set(p);
        }
    }
    Ok(Trusted { pieces, changed_files })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PL: u32 = 16;

    fn stamp(length: u64, secs: i64) -> FileStamp {
        FileStamp {
            length,
            mtime_secs: secs,
            mtime_nanos: 7,
        }
    }

    /// Three files of 24, 8 and 32 bytes, 16-byte pieces: piece 0 in file 0,
    /// piece 1 across files 0 and 1, pieces 2 and 3 in file 2.
    fn layout() -> FileLayout {
        FileLayout::new(&[24, 8, 32], PL, 64).unwrap()
    }

    fn record() -> ResumeRecord {
        ResumeRecord {
            have: vec![0b1111_0000],
            files: vec![stamp(24, 1), stamp(8, 2), stamp(32, 3)],
        }
    }

    #[test]
    fn unchanged_files_trust_every_recorded_piece() {
        let current: Vec<_> = record().files.iter().copied().map(Some).collect();
        let t = trusted_pieces(&record(), &layout(), &[false; 3], &current).unwrap();
        assert_eq!(t.pieces.iter_ones().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(t.changed_files, 0);
    }

    #[test]
    fn a_changed_file_distrusts_only_the_pieces_touching_it() {
        let mut current: Vec<_> = record().files.iter().copied().map(Some).collect();
        current[1] = Some(stamp(8, 99)); // touched since
        let t = trusted_pieces(&record(), &layout(), &[false; 3], &current).unwrap();
        assert_eq!(t.pieces.iter_ones().collect::<Vec<_>>(), vec![0, 2, 3]);
        assert_eq!(t.changed_files, 1);

        current[1] = Some(record().files[1]);
        current[2] = None; // deleted
        let t = trusted_pieces(&record(), &layout(), &[false; 3], &current).unwrap();
        assert_eq!(t.pieces.iter_ones().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(t.changed_files, 1);
    }

    #[test]
    fn pieces_missing_from_the_record_are_never_trusted() {
        let mut rec = record();
        rec.have = vec![0b1010_0000];
        let current: Vec<_> = rec.files.iter().copied().map(Some).collect();
        let t = trusted_pieces(&rec, &layout(), &[false; 3], &current).unwrap();
        assert_eq!(t.pieces.iter_ones().collect::<Vec<_>>(), vec![0, 2]);
    }

    #[test]
    fn a_padding_file_never_counts_as_changed() {
        let mut rec = record();
        rec.files[1] = FileStamp::default();
        let mut current: Vec<_> = rec.files.iter().copied().map(Some).collect();
        current[1] = None;
        let t = trusted_pieces(&rec, &layout(), &[false, true, false], &current).unwrap();
        assert_eq!(t.pieces.count_ones(), 4);
        assert_eq!(t.changed_files, 0);
    }

    #[test]
    fn a_record_that_does_not_fit_is_refused_with_the_reason() {
        let current: Vec<_> = record().files.iter().copied().map(Some).collect();
        let mut rec = record();
        rec.have = vec![0xf0, 0];
        let why = trusted_pieces(&rec, &layout(), &[false; 3], &current).unwrap_err();
        assert!(why.contains("bitfield"), "{why}");

        let mut rec = record();
        rec.have = vec![0b1111_1000]; // a spare bit set
        let why = trusted_pieces(&rec, &layout(), &[false; 3], &current).unwrap_err();
        assert!(why.contains("bitfield"), "{why}");

        let mut rec = record();
        rec.files.pop();
        let why = trusted_pieces(&rec, &layout(), &[false; 3], &current).unwrap_err();
        assert!(why.contains("2 files") && why.contains("has 3"), "{why}");
    }

    #[test]
    fn stamps_follow_the_file_and_not_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"12345").unwrap();
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("link")).unwrap();
        let files = [
            StampedFile {
                path: Path::new("a"),
                padding: false,
            },
            StampedFile {
                path: Path::new("link"),
                padding: false,
            },
            StampedFile {
                path: Path::new("pad"),
                padding: true,
            },
            StampedFile {
                path: Path::new("absent"),
                padding: false,
            },
        ];
        let current = current_stamps(dir.path(), &files);
        assert_eq!(current[0].map(|s| s.length), Some(5));
        assert!(current[0].is_some_and(|s| s.mtime_secs > 0));
        assert_eq!(current[1], None, "a symlink is not the torrent's file");
        assert_eq!(current[2], None);
        assert_eq!(current[3], None);
        let recorded = stamps_for_record(&current);
        assert_eq!(recorded[3], FileStamp::default());
    }
}
