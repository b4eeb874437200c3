//! Checking what is on disk at start: every piece read and SHA-1'd, except pieces
//! that cannot hold data.
//!
//! # Holes
//!
//! A partly downloaded torrent is a sparse file (or one reserved with fallocate)
//! whose missing pieces are holes. Reading and hashing them cost as much as real
//! data: 8 GiB of holes took 40 s and 19 CPU-s. `lseek(SEEK_DATA)` tells where the
//! next data is, so a piece whose every byte lies in a hole is known to read as
//! zeros without reading it: it is present only if its hash is the hash of zeros
//! (computed once per piece size), which keeps a torrent of real zeros, stored
//! sparsely by whoever wrote it, correct. ext4 and tmpfs report unwritten
//! (fallocated) extents as holes too; a file system without `SEEK_DATA` answers
//! "data here", and the piece is read as before.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use bytes::Bytes;
use ccbt_engine::{Bitfield, PieceIndex};
use rustix::fs::SeekFrom;

use super::{Inner, Storage, StorageError};
use crate::piece_hasher::{sha1_piece, verify_piece};

/// Bytes of pieces `recheck` reads ahead while hashing.
const RECHECK_READAHEAD_BYTES: u64 = 8 << 20;
/// At most this many pieces in flight during `recheck`.
const RECHECK_MAX_DEPTH: u64 = 8;

/// What checking one piece takes.
enum Check {
    /// A resume record vouches for it: present, not read.
    Trusted,
    /// Certainly not on disk.
    Missing,
    /// Every byte lies in a hole (or a padding file): the piece reads as zeros.
    Zeros,
    /// Read in a task of its own, so the disk works while we hash.
    Read(glommio::Task<Result<Bytes, StorageError>>),
}

/// What [`Storage::recheck_trusting`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecheckOutcome {
    /// Pieces present: trusted, or read (or found in holes) and matching their hash.
    pub have: Bitfield,
    /// Pieces read from disk and hashed.
    pub hashed: u32,
}

impl Storage {
    /// Reads and SHA-1s every piece, returning the set whose hash matches
    /// `hashes[i]`. Pieces that are [`known_missing`](Self::known_missing) are not
    /// read, nor are pieces that lie wholly in holes of sparse files (see the
    /// module doc); absent or short files count as "not present"; other I/O errors
    /// abort. `progress` is called with the number of pieces checked so far.
    pub async fn recheck(&self, hashes: &[[u8; 20]], mut progress: impl FnMut(u32)) -> Result<Bitfield, StorageError> {
        let none = Bitfield::new(self.inner.layout.num_pieces());
        let outcome = self
            .recheck_trusting(hashes, &none, |checked| {
                // Asked before each piece and once at the end: report pieces done.
                if checked > 0 {
                    progress(checked);
                }
                false
            })
            .await?;
        Ok(outcome.map(|o| o.have).unwrap_or(none))
    }

    /// Like [`recheck`](Self::recheck), but pieces set in `trusted` are taken as
    /// present without reading them (a resume record vouches for them), and
    /// `cancelled` is asked before each piece with the number checked so far: once
    /// it says yes, reads in flight are dropped and `None` comes back.
    pub async fn recheck_trusting(
        &self,
        hashes: &[[u8; 20]],
        trusted: &Bitfield,
        mut cancelled: impl FnMut(u32) -> bool,
    ) -> Result<Option<RecheckOutcome>, StorageError> {
        let layout = &self.inner.layout;
        let n = layout.num_pieces();
        if hashes.len() != n as usize {
            return Err(StorageError::HashCount {
                expected: n,
                got: hashes.len(),
            });
        }
        let depth = (RECHECK_READAHEAD_BYTES / u64::from(layout.piece_length())).clamp(1, RECHECK_MAX_DEPTH) as u32;
        let mut holes = HoleFinder::default();
        let mut zero_hashes: HashMap<u32, [u8; 20]> = HashMap::new();
        let mut have = Bitfield::new(n);
        let mut hashed = 0u32;
        let mut window = VecDeque::new();
        let mut next = 0u32;
        for (i, expected) in (0..n).zip(hashes) {
            if cancelled(i) {
                // Dropping the window cancels its reads.
                return Ok(None);
            }
            while next < n && next < i.saturating_add(depth) {
                let piece = PieceIndex(next);
                window.push_back(if trusted.get(next) {
                    Check::Trusted
                } else {
                    self.plan_check(piece, &mut holes)
                });
                next += 1;
            }
            match window.pop_front() {
                Some(Check::Trusted) => {
                    have.set(i);
                }
                Some(Check::Read(task)) => {
                    hashed += 1;
                    match task.await {
                        Ok(data) => {
                            if verify_piece(&data, expected) {
                                have.set(i);
                            }
                        }
                        Err(e) if e.is_missing() => {}
                        Err(e) => return Err(e),
                    }
                }
                Some(Check::Zeros) => {
                    let size = layout.piece_size(PieceIndex(i));
                    let zeros = zero_hashes
                        .entry(size)
                        .or_insert_with(|| sha1_piece(&vec![0u8; size as usize]));
                    if zeros == expected {
                        have.set(i);
                    }
                }
                Some(Check::Missing) | None => {}
            }
            glommio::yield_if_needed().await;
        }
        if cancelled(n) {
            return Ok(None);
        }
        Ok(Some(RecheckOutcome { have, hashed }))
    }

    fn plan_check(&self, piece: PieceIndex, holes: &mut HoleFinder) -> Check {
        if self.inner.known_missing(piece) {
            return Check::Missing;
        }
        if self.inner.lies_in_holes(piece, holes) {
            return Check::Zeros;
        }
        let inner = self.inner.clone();
        Check::Read(glommio::spawn_local(async move {
            let size = inner.piece_size_checked(piece)?;
            inner.read(piece, 0, size).await
        }))
    }
}

impl Inner {
    /// Whether every byte of `piece` outside padding files lies in a hole. A piece
    /// written since `open` never does (its bytes may still be in the page cache).
    fn lies_in_holes(&self, piece: PieceIndex, holes: &mut HoleFinder) -> bool {
        if self.written.borrow().get(piece.0) {
            return false;
        }
        let size = self.layout.piece_size(piece);
        self.layout
            .spans(piece, 0, size)
            .filter(|s| !self.files[s.file_index].padding)
            .all(|s| holes.is_hole(s.file_index, &self.files[s.file_index].full, s.file_offset, s.length))
    }
}

/// Asks the file system where data is, one file at a time, remembering the last
/// answer: checking pieces in order costs one `lseek` per stretch of holes.
#[derive(Default)]
struct HoleFinder {
    probe: Option<Probe>,
}

struct Probe {
    index: usize,
    /// `None`: the file could not be opened; its pieces are read (and found missing).
    file: Option<File>,
    /// No data lies in `from..data_at`.
    from: u64,
    data_at: u64,
}

impl HoleFinder {
    /// Whether `len` bytes at `pos` of file `index` (at `path`) hold no data.
    fn is_hole(&mut self, index: usize, path: &Path, pos: u64, len: u32) -> bool {
        if self.probe.as_ref().is_none_or(|p| p.index != index) {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
                .ok();
            self.probe = Some(Probe {
                index,
                file,
                from: 0,
                data_at: 0,
            });
        }
        let Some(probe) = self.probe.as_mut() else {
            return false;
        };
        let Some(file) = &probe.file else {
            return false;
        };
        let end = pos + u64::from(len);
        if !(probe.from <= pos && pos < probe.data_at) {
            probe.from = pos;
            probe.data_at = match rustix::fs::seek(file, SeekFrom::Data(pos)) {
                Ok(data) => data,
                // No data from `pos` to the end of the file.
                Err(rustix::io::Errno::NXIO) => u64::MAX,
                // Cannot tell: assume data, and read.
                Err(_) => pos,
            };
        }
        end <= probe.data_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Preallocation, StorageFile};
    use crate::test_executor::run;

    const PL: u32 = 64 * 1024;
    const LEN: u64 = 63 * PL as u64 + 1000;

    /// 64 pieces: data in 3, 40 and the short 63; piece 10 is zeros (present
    /// though stored as a hole); the others are not downloaded.
    fn content_and_hashes() -> (Vec<u8>, Vec<[u8; 20]>) {
        let mut content = vec![0u8; LEN as usize];
        for p in [3usize, 40, 63] {
            let start = p * PL as usize;
            let end = (start + PL as usize).min(content.len());
            for (k, b) in content[start..end].iter_mut().enumerate() {
                *b = (k % 250) as u8 + 1;
            }
        }
        let hashes = content
            .chunks(PL as usize)
            .enumerate()
            .map(|(p, c)| {
                if [3, 10, 40, 63].contains(&p) {
                    sha1_piece(c)
                } else {
                    [0xab; 20]
                }
            })
            .collect();
        (content, hashes)
    }

    /// A first run writes pieces 3 and 40 (files made with `prealloc`); a restart
    /// finds every other piece in holes, reads only those two, and counts the
    /// zero piece present.
    fn holes_skipped_on_restart(root: std::path::PathBuf, prealloc: Preallocation) {
        run(move || async move {
            let (content, hashes) = content_and_hashes();
            let files = [StorageFile {
                path: "sparse.bin".into(),
                length: LEN,
                padding: false,
            }];
            let piece = |p: usize| &content[p * PL as usize..((p + 1) * PL as usize).min(content.len())];
            let st = Storage::open(&root, &files, PL, prealloc).await.unwrap();
            for p in [3u32, 40] {
                st.write_piece(PieceIndex(p), piece(p as usize)).await.unwrap();
            }
            st.sync_all().await.unwrap();
            st.close().await.unwrap();

            let st = Storage::open(&root, &files, PL, prealloc).await.unwrap();
            let mut finder = HoleFinder::default();
            let in_holes: Vec<u32> = (0..64)
                .filter(|&p| st.inner.lies_in_holes(PieceIndex(p), &mut finder))
                .collect();
            assert_eq!(in_holes.len(), 62, "all but 3 and 40: {in_holes:?}");
            assert!(!in_holes.contains(&3) && !in_holes.contains(&40));
            // Written in this run: read, not taken for a hole.
            st.write_piece(PieceIndex(63), piece(63)).await.unwrap();
            let have = st.recheck(&hashes, |_| {}).await.unwrap();
            assert_eq!(have.iter_ones().collect::<Vec<_>>(), vec![3, 10, 40, 63]);
            st.close().await.unwrap();
        });
    }

    #[test]
    fn sparse_file_holes_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        holes_skipped_on_restart(dir.path().to_path_buf(), Preallocation::Sparse);
    }

    #[test]
    fn fallocated_unwritten_extents_count_as_holes() {
        let dir = tempfile::tempdir().unwrap();
        holes_skipped_on_restart(dir.path().to_path_buf(), Preallocation::Full);
    }

    #[test]
    fn holes_on_tmpfs_are_not_read() {
        let dir = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
        holes_skipped_on_restart(dir.path().to_path_buf(), Preallocation::Sparse);
    }
}
