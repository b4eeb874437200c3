//! Piece storage for one torrent: maps pieces onto the torrent's files and reads,
//! writes, preallocates and rechecks them through glommio `BufferedFile`s.
//!
//! # Why `BufferedFile` (measured)
//!
//! `cargo run --release -p ccbt-io --example storage_bench` on this machine kind
//! (2 shared vCPUs, virtio disk, ext4, 1 GiB file, 1 MiB pieces, 16 KiB blocks;
//! "cold" = page cache of the file dropped; an unmeasured warm-up pass precedes the
//! writes; MB/s, ranges over 4 runs on a busy machine):
//!
//! | pattern                          | BufferedFile cold | warm      | DmaFile   |
//! |----------------------------------|-------------------|-----------|-----------|
//! | write pieces sequential          | 850–2060          |           | 750–955   |
//! | … + fdatasync                    | 620–1130          |           | same      |
//! | write pieces random              | 440–2000          |           | 1110–1450 |
//! | … + fdatasync                    | 370–1110          |           | same      |
//! | read 16 KiB blocks random, qd 1  | 108–156           | 1150–1780 | 91–180    |
//! | read 16 KiB blocks random, qd 16 | 390–480           | 2300–3580 | 500–660   |
//! | read 1 MiB pieces random, qd 1   | 370–810           | 2700–3770 | 1080–1310 |
//! | read 1 MiB pieces random, qd 16  | 540–1420          | 940–2700  | 1100–1290 |
//!
//! Through this `Storage` (8 files, pieces crossing them): `recheck` 400–720 MB/s
//! cold, 1050–1130 MB/s warm (SHA-1 alone: 1260–1800 MB/s, 0.59 CPU-s/GiB).
//!
//! DmaFile is faster for cold whole-piece reads and is durable per write, but
//! buffered writes are comparable (faster without a sync, and downloads do not
//! sync per piece), warm reads (a seeder serving popular
//! pieces) are 2–4x faster from the page cache, and DmaFile needs 512-byte aligned
//! offsets and lengths, which multi-file torrents do not have (a span starting at
//! an odd file offset would need read-modify-write), plus the polled-I/O probe
//! workaround (DESIGN.md). So storage reads and small writes use `BufferedFile`;
//! callers that need durability call [`Storage::sync_all`].
//!
//! # Direct writes
//!
//! The page-aligned middle of each span a verified piece covers is written with
//! `O_DIRECT` (`DmaFile`, see `direct`) unless [`Storage::set_direct_writes`] turned
//! it off or the device refused. In `ccbt-bench` (1 GiB single file, 1 MiB pieces,
//! from libtorrent, six runs each, alternated): buffered 1.93–5.03 CPU-s/GiB with
//! peak RSS 64–286 MiB (dirty-page throttling stalls the writes and pieces pile up),
//! direct 1.86–2.17 CPU-s/GiB with 87–97 MiB.
//!
//! # Semantics
//!
//! - Paths are checked and created defensively (see `paths`): nothing is written
//!   outside the download directory and no symlink below it is followed.
//! - Existing files are never truncated; a file shorter than the torrent says is
//!   extended (sparsely or with `fallocate`), so a restart resumes.
//! - Reading bytes that are not on disk (file absent or too short) fails with
//!   [`StorageError::Missing`]; it never returns zeros. `recheck` treats it as
//!   "piece not present".
//! - BEP 47 padding files ([`StorageFile::padding`]) are zeros by definition: never
//!   created, read or written, always present, so a piece spanning one hashes with
//!   zeros in its place (libtorrent and qBittorrent keep no pad files on disk).
//! - Files are opened lazily into one pool per executor, shared by all its torrents
//!   (see `handles`): at most [`files_per_executor`] stay open, least recently used
//!   closed first. Running out of descriptors closes idle files and retries the open.
//! - Not `Send`: a `Storage` lives on the shard (executor) that owns the torrent.

mod create;
pub mod data_files;
mod direct;
mod error;
mod handles;
mod open_files;
#[cfg(test)]
mod padding_tests;
mod paths;
mod recheck;
#[cfg(test)]
mod tests;
mod write;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ccbt_engine::file_layout::{FileLayout, LayoutError};
use ccbt_engine::piece_memory::PieceData;
use ccbt_engine::{Bitfield, PieceIndex};
use glommio::io::{BufferedFile, OpenOptions};

use direct::DirectMode;
pub use direct::DmaPiece;
pub use error::StorageError;
use error::{from_glommio, glommio_error, io_error, Op};
use handles::HandleKey;
pub use handles::{files_per_executor, set_files_per_executor, DEFAULT_FILES_PER_EXECUTOR};
use open_files::close_detached;
use open_files::{close_handle, open_retrying, OpenFile};
use paths::Existing;

use crate::shard_counters::{count_disk_read, count_disk_write};
pub use recheck::RecheckOutcome;

/// One file of the torrent, in torrent order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageFile {
    /// Path relative to the download directory, already sanitized by the metainfo
    /// parser (checked again here).
    pub path: PathBuf,
    /// Length in bytes.
    pub length: u64,
    /// A BEP 47 padding file: zeros by definition, never created, read or written,
    /// always present.
    pub padding: bool,
}

impl StorageFile {
    /// The files of a torrent, in metainfo order.
    pub fn of_metainfo(meta: &ccbt_engine::metainfo::Metainfo) -> Vec<StorageFile> {
        meta.info
            .files
            .iter()
            .map(|f| StorageFile {
                path: f.path.clone(),
                length: f.length,
                padding: f.padding,
            })
            .collect()
    }
}

/// How files are reserved on disk when opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preallocation {
    /// `set_len` to the full length: a sparse file, no blocks reserved.
    #[default]
    Sparse,
    /// `fallocate`: blocks reserved up front, so a full disk shows at start
    /// (falls back to `set_len` where the file system lacks fallocate).
    Full,
}

/// The files of one torrent on disk.
pub struct Storage {
    inner: Rc<Inner>,
}

/// A file of the torrent as `open` found it.
struct FileInfo {
    /// Path relative to the download directory.
    rel: PathBuf,
    /// `download_dir/rel`.
    full: PathBuf,
    /// `open` created it (it held no data).
    created_new: bool,
    /// Its length on disk before `open` extended it (a padding file: its length).
    len_at_open: u64,
    /// A padding file: not on disk, reads as zeros.
    padding: bool,
}

struct Inner {
    /// Names this storage's handles in the executor's file pool.
    id: u64,
    root: PathBuf,
    files: Vec<FileInfo>,
    layout: FileLayout,
    /// Whether aligned spans are written with `O_DIRECT` (see `direct`).
    direct: Cell<DirectMode>,
    /// Pieces written since `open`.
    written: RefCell<Bitfield>,
    /// Files written since the last `sync_all`.
    dirty: RefCell<BTreeSet<usize>>,
}

impl Storage {
    /// Creates the directories and files of the torrent below `download_dir`
    /// (zero-length files too) and preallocates them; existing data is kept.
    ///
    /// All paths are validated before anything is created. Blocking metadata
    /// calls (lstat, mkdir, set_len) run on the executor thread: fast, but a
    /// 10,000-file torrent costs a few tens of milliseconds.
    pub async fn open(
        download_dir: &Path,
        files: &[StorageFile],
        piece_length: u32,
        prealloc: Preallocation,
    ) -> Result<Storage, StorageError> {
        let lengths: Vec<u64> = files.iter().map(|f| f.length).collect();
        let total = lengths
            .iter()
            .try_fold(0u64, |acc, &l| acc.checked_add(l))
            .ok_or(LayoutError::Overflow)?;
        let layout = FileLayout::new(&lengths, piece_length, total)?;
        let mut seen = HashSet::with_capacity(files.len());
        // Padding files are named by their size, so two of them may share a path.
        for f in files.iter().filter(|f| !f.padding) {
            paths::check_relative(&f.path)?;
            if !seen.insert(f.path.as_path()) {
                return Err(StorageError::DuplicatePath {
                    path: download_dir.join(&f.path),
                });
            }
        }
        std::fs::create_dir_all(download_dir).map_err(|e| io_error(Op::CreateDir, download_dir, e))?;
        let mut infos = Vec::with_capacity(files.len());
        for f in files {
            infos.push(if f.padding {
                FileInfo {
                    rel: f.path.clone(),
                    full: download_dir.join(&f.path),
                    created_new: false,
                    len_at_open: f.length,
                    padding: true,
                }
            } else {
                create::prepare_file(download_dir, f, prealloc).await?
            });
        }
        let created = infos.iter().filter(|f| f.created_new).count();
        tracing::debug!(dir = ?download_dir, files = infos.len(), created, "storage opened");
        Ok(Storage {
            inner: Rc::new(Inner {
                id: NEXT_STORAGE_ID.fetch_add(1, Ordering::Relaxed),
                root: download_dir.to_path_buf(),
                files: infos,
                written: RefCell::new(Bitfield::new(layout.num_pieces())),
                layout,
                direct: Cell::new(DirectMode::Untried),
                dirty: RefCell::new(BTreeSet::new()),
            }),
        })
    }

    /// The piece-to-file mapping.
    pub fn layout(&self) -> &FileLayout {
        &self.inner.layout
    }

    /// The download directory.
    pub fn download_dir(&self) -> &Path {
        &self.inner.root
    }

    /// Full path of file `file_index`.
    pub fn file_path(&self, file_index: usize) -> Option<&Path> {
        self.inner.files.get(file_index).map(|f| f.full.as_path())
    }

    /// Whether `open` created file `file_index` in this run (so it holds no data).
    pub fn created_new(&self, file_index: usize) -> bool {
        self.inner.files.get(file_index).is_some_and(|f| f.created_new)
    }

    /// Indices of the files `open` created in this run.
    pub fn created_files(&self) -> impl Iterator<Item = usize> + '_ {
        self.inner
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.created_new)
            .map(|(i, _)| i)
    }

    /// Whether `piece` certainly is not on disk: it was not written since `open`
    /// and some of its bytes lie past the length its file had at `open` (a newly
    /// created file has length 0). `recheck` skips such pieces without reading.
    pub fn known_missing(&self, piece: PieceIndex) -> bool {
        self.inner.known_missing(piece)
    }

    /// Changes the bound on open files of this executor's pool, which every
    /// storage on the executor shares (at least 1), closing the extra ones.
    pub fn set_max_open_files(&self, max: usize) {
        let extra = open_files::with_pool(|p| p.set_max(max));
        close_detached(extra);
    }

    /// How many files of this storage are open now (buffered and direct).
    pub fn open_file_count(&self) -> usize {
        open_files::with_pool(|p| p.len_of(self.inner.id))
    }

    /// How many files are open on this executor, all storages together.
    pub fn executor_open_file_count() -> usize {
        open_files::with_pool(|p| p.len())
    }

    /// Whether to write the page-aligned part of each piece with `O_DIRECT`
    /// (default: yes, where the device and file system allow it). Off, every
    /// write goes through the page cache.
    pub fn set_direct_writes(&self, on: bool) {
        self.inner
            .direct
            .set(if on { DirectMode::Untried } else { DirectMode::Off });
    }

    /// Whether writes have gone direct (`false` until the first aligned write).
    pub fn writes_direct(&self) -> bool {
        self.inner.direct.get() == DirectMode::On
    }

    /// Writes a whole piece: `data` must be exactly the piece's size. One write per
    /// file span (a piece crossing a file boundary is two writes).
    pub async fn write_piece(&self, piece: PieceIndex, data: &[u8]) -> Result<(), StorageError> {
        let started = Instant::now();
        let written = self.inner.write_piece(piece, data).await;
        count_disk_write(data.len() as u64, started.elapsed(), written.is_ok());
        written
    }

    /// Like [`Storage::write_piece`], taking the buffer: a piece that lies in one
    /// file and goes through the page cache is handed to the file without a copy.
    /// Otherwise the buffer is only read, and comes back for reuse. A short write is
    /// an error (the bytes are gone with the buffer), as it only happens when the
    /// disk is full.
    pub async fn write_piece_owned(&self, piece: PieceIndex, data: Vec<u8>) -> Result<Option<Vec<u8>>, StorageError> {
        let (started, len) = (Instant::now(), data.len() as u64);
        let written = self.inner.write_piece_owned(piece, data).await;
        count_disk_write(len, started.elapsed(), written.is_ok());
        written
    }

    /// Writes a whole piece handed out by the engine, in whatever memory it was
    /// assembled in: a [`DmaPiece`] that is one aligned span goes to the device as
    /// it is, a `Vec` as [`Storage::write_piece_owned`] does. Returns the buffer
    /// when it is still whole, for the engine to reuse.
    pub async fn write_piece_data(
        &self,
        piece: PieceIndex,
        data: PieceData,
    ) -> Result<Option<PieceData>, StorageError> {
        let started = Instant::now();
        let len = u64::from(self.inner.piece_size_checked(piece)?);
        let written = match data.downcast::<DmaPiece>() {
            Ok(dma) => self
                .inner
                .write_piece_dma(piece, dma)
                .await
                .map(|spare| spare.map(PieceData::new)),
            Err(data) => match data.downcast::<Vec<u8>>() {
                Ok(vec) => self
                    .inner
                    .write_piece_owned(piece, vec)
                    .await
                    .map(|spare| spare.map(PieceData::from)),
                Err(data) => self.inner.write_piece(piece, &data).await.map(|()| Some(data)),
            },
        };
        count_disk_write(len, started.elapsed(), written.is_ok());
        written
    }

    /// Reads `len` bytes at `offset` within `piece` (e.g. a 16 KiB block). The range
    /// must lie within the piece. Fails with [`StorageError::Missing`] if the bytes
    /// are not on disk.
    pub async fn read(&self, piece: PieceIndex, offset: u32, len: u32) -> Result<Bytes, StorageError> {
        let started = Instant::now();
        let read = self.inner.read(piece, offset, len).await;
        count_disk_read(u64::from(len), started.elapsed(), read.is_ok());
        read
    }

    /// Reads a whole piece (for the read cache, or to verify it).
    pub async fn read_piece(&self, piece: PieceIndex) -> Result<Bytes, StorageError> {
        let size = self.inner.piece_size_checked(piece)?;
        self.read(piece, 0, size).await
    }

    /// fdatasyncs every file written since the last call (including files whose
    /// handle was closed meanwhile). Call before recording pieces as verified in a
    /// resume record.
    pub async fn sync_all(&self) -> Result<(), StorageError> {
        let dirty: Vec<usize> = std::mem::take(&mut *self.inner.dirty.borrow_mut())
            .into_iter()
            .collect();
        for (k, &index) in dirty.iter().enumerate() {
            if let Err(e) = self.inner.sync_file(index).await {
                self.inner.dirty.borrow_mut().extend(&dirty[k..]);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Closes every file of this storage that is open now, keeping the storage
    /// usable (a later read or write opens its file again). Does not sync.
    /// Returns the first close error, after closing all.
    pub async fn close_files(&self) -> Result<(), StorageError> {
        let mut first_err = None;
        let open = open_files::with_pool(|p| p.drain_storage(self.inner.id));
        self.inner.close_each(open, &mut first_err).await;
        first_err.map_or(Ok(()), Err)
    }

    /// Closes every open file. Does not sync: call [`sync_all`](Self::sync_all)
    /// first if durability matters. Returns the first close error, after closing all.
    pub async fn close(self) -> Result<(), StorageError> {
        let mut first_err = None;
        let open = open_files::with_pool(|p| p.drain_storage(self.inner.id));
        self.inner.close_each(open, &mut first_err).await;
        first_err.map_or(Ok(()), Err)
    }
}

impl Inner {
    /// Closes each handle, keeping the first error in `first_err`.
    async fn close_each(&self, open: Vec<(HandleKey, OpenFile)>, first_err: &mut Option<StorageError>) {
        for (key, file) in open {
            if let Err(e) = close_handle(file).await {
                first_err.get_or_insert(glommio_error(Op::Close, &self.files[key.file].full, e));
            }
        }
    }

    /// The pool key of file `index`, buffered or direct.
    fn key(&self, index: usize, direct: bool) -> HandleKey {
        HandleKey {
            storage: self.id,
            file: index,
            direct,
        }
    }

    fn piece_size_checked(&self, piece: PieceIndex) -> Result<u32, StorageError> {
        let num_pieces = self.layout.num_pieces();
        if piece.0 >= num_pieces {
            return Err(StorageError::PieceOutOfRange { piece, num_pieces });
        }
        Ok(self.layout.piece_size(piece))
    }

    fn known_missing(&self, piece: PieceIndex) -> bool {
        if self.written.borrow().get(piece.0) {
            return false;
        }
        let size = self.layout.piece_size(piece);
        self.layout
            .spans(piece, 0, size)
            .any(|s| s.file_offset + u64::from(s.length) > self.files[s.file_index].len_at_open)
    }

    async fn read(&self, piece: PieceIndex, offset: u32, len: u32) -> Result<Bytes, StorageError> {
        let size = self.piece_size_checked(piece)?;
        if u64::from(offset) + u64::from(len) > u64::from(size) {
            let len = u64::from(len);
            return Err(StorageError::BadRange {
                piece,
                offset,
                len,
                piece_size: size,
            });
        }
        let mut out = BytesMut::with_capacity(len as usize);
        for span in self.layout.spans(piece, offset, len) {
            self.read_span(span.file_index, span.file_offset, span.length as usize, &mut out)
                .await?;
        }
        Ok(out.freeze())
    }

    async fn read_span(&self, index: usize, pos: u64, len: usize, out: &mut BytesMut) -> Result<(), StorageError> {
        if self.files[index].padding {
            out.resize(out.len() + len, 0);
            return Ok(());
        }
        let path = &self.files[index].full;
        let missing = |done: usize| StorageError::Missing {
            path: path.clone(),
            offset: pos + done as u64,
            len: (len - done) as u64,
        };
        let Some(file) = self.file(index, false).await? else {
            return Err(missing(0));
        };
        let mut done = 0usize;
        while done < len {
            let got = file
                .read_at(pos + done as u64, len - done)
                .await
                .map_err(|e| glommio_error(Op::Read, path, e))?;
            if got.is_empty() {
                return Err(missing(done));
            }
            out.extend_from_slice(&got);
            done += got.len();
        }
        Ok(())
    }

    async fn sync_file(&self, index: usize) -> Result<(), StorageError> {
        let path = &self.files[index].full;
        match self.file(index, false).await? {
            Some(file) => file.fdatasync().await.map_err(|e| glommio_error(Op::Sync, path, e)),
            None => Ok(()), // deleted behind our back: nothing to make durable
        }
    }

    /// The handle of file `index`, opening it (re-validating its path) if needed.
    /// For reads, `None` means the file does not exist; writes recreate it.
    async fn file(&self, index: usize, write: bool) -> Result<Option<Rc<BufferedFile>>, StorageError> {
        if let Some(f) = open_files::get_buffered(self.key(index, false), write) {
            return Ok(Some(f));
        }
        let (full, existing) = paths::resolve(&self.root, &self.files[index].rel, write)?;
        if !write && existing == Existing::Absent {
            return Ok(None);
        }
        let mut rw = OpenOptions::new();
        rw.read(true).write(true).create(write).custom_flags(libc::O_NOFOLLOW);
        let opened = open_retrying(|| async { rw.buffered_open(&full).await.map_err(from_glommio) }).await;
        let (file, writable) = match opened {
            Ok(f) => (f, true),
            Err(e) if !write && e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            // Read-only data (seeding from a read-only mount or file): open for reading.
            Err(e) if !write && matches!(e.raw_os_error(), Some(libc::EACCES | libc::EROFS)) => {
                let mut ro = OpenOptions::new();
                ro.read(true).custom_flags(libc::O_NOFOLLOW);
                let f = open_retrying(|| async { ro.buffered_open(&full).await.map_err(from_glommio) })
                    .await
                    .map_err(|e| io_error(Op::Open, &full, e))?;
                (f, false)
            }
            Err(e) => return Err(io_error(Op::Open, &full, e)),
        };
        Ok(Some(open_files::insert_buffered(
            self.key(index, false),
            file,
            writable,
        )))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        open_files::forget_storage(self.id);
    }
}

/// Storage ids, unique in the process.
static NEXT_STORAGE_ID: AtomicU64 = AtomicU64::new(1);
