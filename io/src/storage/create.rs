//! Creating and preallocating the files of a torrent at `Storage::open`.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use glommio::io::OpenOptions;

use super::error::{from_glommio, glommio_error, io_error, Op, StorageError};
use super::open_files::open_retrying;
use super::paths::{self, Existing};
use super::{FileInfo, Preallocation, StorageFile};

/// Creates (if needed) and preallocates one file; records what was on disk.
pub(super) async fn prepare_file(
    root: &Path,
    f: &StorageFile,
    prealloc: Preallocation,
) -> Result<FileInfo, StorageError> {
    let (full, existing) = paths::resolve(root, &f.path, true)?;
    let nofollow = |create_new: bool| {
        let mut o = std::fs::OpenOptions::new();
        o.write(true)
            .create_new(create_new)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        o
    };
    let (created_new, len_at_open, mut handle) = match existing {
        Existing::Absent => {
            // O_CREAT|O_EXCL never follows a symlink planted since the check.
            let file = open_retrying(|| async { nofollow(true).open(&full) })
                .await
                .map_err(|e| io_error(Op::Open, &full, e))?;
            (true, 0, Some(file))
        }
        Existing::File(len) => (false, len, None),
    };
    if f.length > 0 && prealloc == Preallocation::Full {
        drop(handle.take());
        match fallocate(&full, f.length).await {
            // Complete data on a read-only file or mount: nothing to reserve, seed it.
            Err(StorageError::Open { source, .. })
                if len_at_open >= f.length && matches!(source.raw_os_error(), Some(libc::EACCES | libc::EROFS)) => {}
            other => other?,
        }
    }
    if f.length > 0 && len_at_open < f.length {
        let file = match handle {
            Some(file) => file,
            None => open_retrying(|| async { nofollow(false).open(&full) })
                .await
                .map_err(|e| io_error(Op::Open, &full, e))?,
        };
        let len_now = file.metadata().map_err(|e| io_error(Op::Inspect, &full, e))?.len();
        if len_now < f.length {
            file.set_len(f.length)
                .map_err(|e| io_error(Op::Preallocate, &full, e))?;
        }
    }
    Ok(FileInfo {
        rel: f.path.clone(),
        full,
        created_new,
        len_at_open,
        padding: false,
    })
}

/// Reserves `len` bytes for `path` with fallocate (keeps data, never shrinks); a
/// file system without fallocate is left to the sparse `set_len` that follows.
async fn fallocate(path: &Path, len: u64) -> Result<(), StorageError> {
    let mut o = OpenOptions::new();
    o.write(true).custom_flags(libc::O_NOFOLLOW);
    let file = open_retrying(|| async { o.buffered_open(path).await.map_err(from_glommio) })
        .await
        .map_err(|e| io_error(Op::Open, path, e))?;
    let res = file.pre_allocate(len, false).await.map_err(from_glommio);
    let closed = file.close().await.map_err(|e| glommio_error(Op::Close, path, e));
    match res {
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            tracing::debug!(?path, "fallocate unsupported, preallocating sparsely");
        }
        Err(e) => return Err(io_error(Op::Preallocate, path, e)),
        Ok(()) => {}
    }
    closed
}
