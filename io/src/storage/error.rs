//! Errors of [`Storage`](super::Storage): each names the file and the operation.

use std::io;
use std::path::{Path, PathBuf};

use ccbt_engine::file_layout::LayoutError;
use ccbt_engine::PieceIndex;
use thiserror::Error;

/// Why a storage operation failed. Paths are full paths below the download directory.
#[derive(Debug, Error)]
pub enum StorageError {
    /// A torrent path that is not purely relative (`..`, absolute, `.`, empty, NUL).
    #[error("refusing unsafe path {path:?}: only plain relative components are allowed")]
    UnsafePath { path: PathBuf },
    /// A symlink where a directory or file of the torrent should be.
    #[error("refusing to follow symlink {path:?} inside the download directory")]
    SymlinkRefused { path: PathBuf },
    /// Something that is not a directory where the torrent needs one.
    #[error("{path:?} exists and is not a directory")]
    NotADirectory { path: PathBuf },
    /// Something that is not a regular file where the torrent needs one.
    #[error("{path:?} exists and is not a regular file")]
    NotAFile { path: PathBuf },
    /// Two files of the torrent have the same path.
    #[error("the torrent names {path:?} twice")]
    DuplicatePath { path: PathBuf },
    /// The file lengths and piece length do not form a layout.
    #[error("invalid file layout: {0}")]
    Layout(#[from] LayoutError),
    /// The file system is full (ENOSPC) or the quota is exhausted (EDQUOT).
    #[error("disk full writing {path:?}")]
    DiskFull { path: PathBuf },
    /// The file is absent or shorter than the torrent says: these bytes were never written.
    #[error("{path:?} has no data at offset {offset} ({len} bytes missing)")]
    Missing { path: PathBuf, offset: u64, len: u64 },
    /// Creating a directory failed.
    #[error("cannot create directory {path:?}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    /// Inspecting a path (lstat) failed.
    #[error("cannot inspect {path:?}: {source}")]
    Inspect { path: PathBuf, source: io::Error },
    /// Opening or creating a file failed.
    #[error("cannot open {path:?}: {source}")]
    Open { path: PathBuf, source: io::Error },
    /// Preallocating (set_len / fallocate) failed.
    #[error("cannot preallocate {path:?}: {source}")]
    Preallocate { path: PathBuf, source: io::Error },
    /// Writing failed.
    #[error("cannot write {path:?}: {source}")]
    Write { path: PathBuf, source: io::Error },
    /// Reading failed.
    #[error("cannot read {path:?}: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// fdatasync failed.
    #[error("cannot sync {path:?}: {source}")]
    Sync { path: PathBuf, source: io::Error },
    /// Closing failed.
    #[error("cannot close {path:?}: {source}")]
    Close { path: PathBuf, source: io::Error },
    /// A piece index past the end of the torrent.
    #[error("piece {piece} out of range ({num_pieces} pieces)")]
    PieceOutOfRange { piece: PieceIndex, num_pieces: u32 },
    /// A byte range that does not lie within the piece, or data of the wrong size.
    #[error("bad range for piece {piece}: offset {offset}, length {len}, piece size {piece_size}")]
    BadRange {
        piece: PieceIndex,
        offset: u32,
        len: u64,
        piece_size: u32,
    },
    /// `recheck` got a number of hashes different from the number of pieces.
    #[error("{got} piece hashes for {expected} pieces")]
    HashCount { expected: u32, got: usize },
    /// Moving data: a file of the torrent already exists at the destination.
    #[error("{path:?} already exists: not overwriting it with the moved data")]
    DestinationExists { path: PathBuf },
    /// Moving data: the copy does not read back as the source.
    #[error("the copy {copy:?} of {source_path:?} differs from it")]
    CopyMismatch { source_path: PathBuf, copy: PathBuf },
    /// Moving or deleting data: an operation not covered above (rename, remove, copy).
    #[error("cannot {op} {path:?}: {source}")]
    DataFile {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl StorageError {
    /// Whether this is [`StorageError::DiskFull`]: the torrent should stop and keep
    /// what it verified.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StorageError::DiskFull { .. })
    }

    /// Whether the process or system ran out of file descriptors (EMFILE, ENFILE):
    /// a passing shortage, not a fault of the torrent's data.
    pub fn is_out_of_descriptors(&self) -> bool {
        match self {
            StorageError::Open { source, .. } | StorageError::Read { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
            }
            _ => false,
        }
    }

    /// Whether the data is simply not there yet ([`StorageError::Missing`]).
    pub fn is_missing(&self) -> bool {
        matches!(self, StorageError::Missing { .. })
    }
}

/// The operation an I/O error came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    CreateDir,
    Inspect,
    Open,
    Preallocate,
    Write,
    Read,
    Sync,
    Close,
}

/// Maps an I/O error of `op` on `path`: ENOSPC/EDQUOT become `DiskFull`, ELOOP on
/// open (O_NOFOLLOW met a symlink) becomes `SymlinkRefused`.
pub(crate) fn io_error(op: Op, path: &Path, source: io::Error) -> StorageError {
    let path = path.to_path_buf();
    match source.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => return StorageError::DiskFull { path },
        Some(libc::ELOOP) if op == Op::Open => return StorageError::SymlinkRefused { path },
        _ => {}
    }
    match op {
        Op::CreateDir => StorageError::CreateDir { path, source },
        Op::Inspect => StorageError::Inspect { path, source },
        Op::Open => StorageError::Open { path, source },
        Op::Preallocate => StorageError::Preallocate { path, source },
        Op::Write => StorageError::Write { path, source },
        Op::Read => StorageError::Read { path, source },
        Op::Sync => StorageError::Sync { path, source },
        Op::Close => StorageError::Close { path, source },
    }
}

/// The OS error inside a glommio error. glommio's own `Into<io::Error>` rebuilds
/// enhanced errors from their message and loses the errno, so unwrap it here.
pub(crate) fn from_glommio<T>(e: glommio::GlommioError<T>) -> io::Error {
    match e {
        glommio::GlommioError::IoError(source) | glommio::GlommioError::EnhancedIoError { source, .. } => source,
        other => other.into(),
    }
}

/// [`io_error`] for a glommio error.
pub(crate) fn glommio_error<T>(op: Op, path: &Path, e: glommio::GlommioError<T>) -> StorageError {
    io_error(op, path, from_glommio(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_and_edquot_map_to_disk_full() {
        let p = Path::new("/dl/a.bin");
        for errno in [libc::ENOSPC, libc::EDQUOT] {
            for op in [Op::Write, Op::Preallocate, Op::Sync, Op::CreateDir] {
                let e = io_error(op, p, io::Error::from_raw_os_error(errno));
                assert!(e.is_disk_full(), "{op:?} {errno}: {e}");
                assert!(e.to_string().contains("/dl/a.bin"));
            }
        }
        let g: glommio::GlommioError<()> = glommio::GlommioError::EnhancedIoError {
            source: io::Error::from_raw_os_error(libc::ENOSPC),
            op: "Writing",
            path: None,
            fd: Some(3),
        };
        assert!(glommio_error(Op::Write, p, g).is_disk_full());
    }

    #[test]
    fn other_errors_keep_path_and_operation() {
        let p = Path::new("/dl/a.bin");
        let e = io_error(Op::Write, p, io::Error::from_raw_os_error(libc::EIO));
        assert!(matches!(&e, StorageError::Write { path, .. } if path == p));
        let e = io_error(Op::Open, p, io::Error::from_raw_os_error(libc::ELOOP));
        assert!(matches!(e, StorageError::SymlinkRefused { .. }));
        let e = io_error(Op::Read, p, io::Error::from_raw_os_error(libc::ELOOP));
        assert!(matches!(e, StorageError::Read { .. }));
        assert!(io_error(Op::Open, p, io::Error::from_raw_os_error(libc::EMFILE)).is_out_of_descriptors());
        assert!(io_error(Op::Open, p, io::Error::from_raw_os_error(libc::ENFILE)).is_out_of_descriptors());
        assert!(!io_error(Op::Open, p, io::Error::from_raw_os_error(libc::EACCES)).is_out_of_descriptors());
    }
}
