//! Deleting and moving a stopped torrent's data files (`btbt torrent remove
//! --delete-data`, `btbt torrent set --move`).
//!
//! Plain blocking std calls: the daemon runs them off the data path, once the
//! torrent has stopped and closed its files. Both keep to the rules of `paths`:
//! only the torrent's own files are touched (never a padding file), every path is
//! resolved below its directory without following a symlink, and directories are
//! removed only when empty and inside the torrent's own top directory.
//!
//! Every path is checked before anything is changed, so a refused path (a symlink
//! planted in the download directory, say) changes nothing.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::{io_error, Op};
use super::paths::{self, Existing};
use super::{StorageError, StorageFile};

/// Bytes compared at a time when checking a copy.
const COMPARE_CHUNK: usize = 1 << 20;

/// What [`delete_data`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteReport {
    pub files_removed: u32,
    pub bytes_removed: u64,
    /// Files of the torrent that were not there.
    pub files_absent: u32,
    /// Directories of the torrent left empty, removed.
    pub dirs_removed: u32,
}

/// What [`move_data`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MoveReport {
    pub files_moved: u32,
    pub bytes_moved: u64,
    /// Files of the torrent that were not at the source (nothing to move).
    pub files_absent: u32,
    /// Both directories are on one file system: files were renamed, not copied.
    pub renamed: bool,
}

fn data_error<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::DataFile {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// A file of the torrent found below a directory.
struct Found {
    rel: PathBuf,
    full: PathBuf,
    len: u64,
}

/// Resolves every non-padding file below `dir` without creating anything;
/// refuses the whole set if one path is unsafe or crosses a symlink.
fn find_files(dir: &Path, files: &[StorageFile]) -> Result<(Vec<Found>, u32), StorageError> {
    let mut found = Vec::with_capacity(files.len());
    let mut absent = 0;
    for f in files.iter().filter(|f| !f.padding) {
        match paths::resolve(dir, &f.path, false)? {
            (full, Existing::File(len)) => found.push(Found {
                rel: f.path.clone(),
                full,
                len,
            }),
            (_, Existing::Absent) => absent += 1,
        }
    }
    Ok((found, absent))
}

/// The directories of the torrent below `dir`, deepest first: every parent of a
/// file path, never `dir` itself.
fn torrent_dirs(files: &[StorageFile]) -> Vec<PathBuf> {
    let mut dirs = BTreeSet::new();
    for f in files.iter().filter(|f| !f.padding) {
        let mut parent = f.path.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_path_buf());
            parent = p.parent();
        }
    }
    let mut dirs: Vec<PathBuf> = dirs.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs
}

/// Removes the torrent's directories below `dir` that are empty (and real
/// directories, not symlinks). Returns how many went.
fn remove_empty_dirs(dir: &Path, files: &[StorageFile]) -> u32 {
    let mut removed = 0;
    for rel in torrent_dirs(files) {
        let full = dir.join(&rel);
        let is_dir = std::fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_dir());
        // Not empty (something else lives there) or already gone: left as it is.
        if is_dir && std::fs::remove_dir(&full).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Removes the torrent's files below `download_dir` (never a padding file, never
/// anything outside it, no symlink followed), then the torrent's directories
/// left empty. Absent files are counted, not an error.
pub fn delete_data(download_dir: &Path, files: &[StorageFile]) -> Result<DeleteReport, StorageError> {
    let (found, files_absent) = find_files(download_dir, files)?;
    let mut report = DeleteReport {
        files_absent,
        ..DeleteReport::default()
    };
    for f in &found {
        match std::fs::remove_file(&f.full) {
            Ok(()) => {
                report.files_removed += 1;
                report.bytes_removed += f.len;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => report.files_absent += 1,
            Err(e) => return Err(data_error("remove", &f.full)(e)),
        }
    }
    report.dirs_removed = remove_empty_dirs(download_dir, files);
    Ok(report)
}

/// Moves the torrent's files from `from_dir` to `to_dir` (created if needed),
/// keeping their relative paths. On one file system each file is renamed; across
/// file systems each is copied, synced and compared with its source, and only
/// when every copy is good are the sources deleted. On any error the source stays
/// intact: renames done so far are undone, partial copies removed. A file already
/// at the destination is an error (nothing is overwritten).
pub fn move_data(from_dir: &Path, to_dir: &Path, files: &[StorageFile]) -> Result<MoveReport, StorageError> {
    let (found, files_absent) = find_files(from_dir, files)?;
    std::fs::create_dir_all(to_dir).map_err(|e| io_error(Op::CreateDir, to_dir, e))?;
    for f in &found {
        if let (path, Existing::File(_)) = paths::resolve(to_dir, &f.rel, false)? {
            return Err(StorageError::DestinationExists { path });
        }
    }
    let device = |dir: &Path| {
        std::fs::metadata(dir)
            .map(|m| m.dev())
            .map_err(|e| io_error(Op::Inspect, dir, e))
    };
    let mut renamed = device(from_dir)? == device(to_dir)?;
    if renamed {
        match rename_all(to_dir, &found) {
            Ok(()) => {}
            // One device, two mounts (a bind mount): rename refuses, a copy works.
            // What was renamed is back in place already.
            Err(StorageError::DataFile { source, .. }) if source.raw_os_error() == Some(libc::EXDEV) => {
                renamed = false;
            }
            Err(e) => {
                remove_empty_dirs(to_dir, files);
                return Err(e);
            }
        }
    }
    if !renamed {
        if let Err(e) = copy_all(to_dir, &found) {
            remove_empty_dirs(to_dir, files);
            return Err(e);
        }
        for f in &found {
            std::fs::remove_file(&f.full).map_err(data_error("remove", &f.full))?;
        }
    }
    remove_empty_dirs(from_dir, files);
    Ok(MoveReport {
        files_moved: found.len() as u32,
        bytes_moved: found.iter().map(|f| f.len).sum(),
        files_absent,
        renamed,
    })
}

/// Renames each file below `to_dir`; on an error, renames back what was done.
fn rename_all(to_dir: &Path, found: &[Found]) -> Result<(), StorageError> {
    let mut done: Vec<(&Path, PathBuf)> = Vec::with_capacity(found.len());
    for f in found {
        let moved = paths::resolve(to_dir, &f.rel, true).and_then(|(dest, existing)| {
            if existing != Existing::Absent {
                return Err(StorageError::DestinationExists { path: dest });
            }
            std::fs::rename(&f.full, &dest).map_err(data_error("rename", &f.full))?;
            Ok(dest)
        });
        match moved {
            Ok(dest) => done.push((&f.full, dest)),
            Err(e) => {
                for (source, dest) in done.iter().rev() {
                    if let Err(undo) = std::fs::rename(dest, source) {
                        tracing::error!(?dest, ?source, error = %undo, "cannot undo a rename of torrent data");
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Copies each file below `to_dir`, syncs and compares it; on an error removes
/// every copy made.
fn copy_all(to_dir: &Path, found: &[Found]) -> Result<(), StorageError> {
    let mut copies: Vec<PathBuf> = Vec::with_capacity(found.len());
    for f in found {
        let copied = paths::resolve(to_dir, &f.rel, true).and_then(|(dest, existing)| {
            if existing != Existing::Absent {
                return Err(StorageError::DestinationExists { path: dest });
            }
            let file = create_copy(&dest)?;
            // Created here (create_new), so it is ours to remove if anything fails.
            copies.push(dest.clone());
            copy_verified(&f.full, file, &dest)
        });
        if let Err(e) = copied {
            for copy in &copies {
                if let Err(rm) = std::fs::remove_file(copy) {
                    tracing::warn!(?copy, error = %rm, "cannot remove a partial copy of torrent data");
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Creates the file a copy goes to; never one that exists, never through a symlink.
fn create_copy(dest: &Path) -> Result<File, StorageError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dest)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => StorageError::DestinationExists {
                path: dest.to_path_buf(),
            },
            _ => io_error(Op::Open, dest, e),
        })
}

/// Copies `source` into `to` (the new file at `dest`), syncs it, then reads both
/// back and compares them.
fn copy_verified(source: &Path, mut to: File, dest: &Path) -> Result<(), StorageError> {
    let open_source = || {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(source)
            .map_err(|e| io_error(Op::Open, source, e))
    };
    let mut from = open_source()?;
    io::copy(&mut from, &mut to).map_err(data_error("copy", source))?;
    to.flush().map_err(|e| io_error(Op::Write, dest, e))?;
    to.sync_all().map_err(|e| io_error(Op::Sync, dest, e))?;
    let copy = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dest)
        .map_err(|e| io_error(Op::Open, dest, e))?;
    if !same_bytes(open_source()?, source, copy, dest)? {
        return Err(StorageError::CopyMismatch {
            source_path: source.to_path_buf(),
            copy: dest.to_path_buf(),
        });
    }
    // The copy holds the same bytes, so it keeps the source's mtime: the torrent's
    // resume record (which stamps each file's size and mtime) stays valid and the
    // moved torrent starts without a recheck.
    if let Ok(modified) = from.metadata().and_then(|m| m.modified()) {
        to.set_modified(modified).map_err(|e| io_error(Op::Write, dest, e))?;
    }
    Ok(())
}

/// Whether two files hold the same bytes.
fn same_bytes(mut a: File, a_path: &Path, mut b: File, b_path: &Path) -> Result<bool, StorageError> {
    let mut buf_a = vec![0u8; COMPARE_CHUNK];
    let mut buf_b = vec![0u8; COMPARE_CHUNK];
    loop {
        let got = read_full(&mut a, &mut buf_a).map_err(|e| io_error(Op::Read, a_path, e))?;
        let got_b = read_full(&mut b, &mut buf_b).map_err(|e| io_error(Op::Read, b_path, e))?;
        if got != got_b || buf_a[..got] != buf_b[..got] {
            return Ok(false);
        }
        if got == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
#[path = "data_files_tests.rs"]
mod tests;
