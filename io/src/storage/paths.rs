//! Defensive path handling: torrent paths stay below the download directory.
//!
//! Every torrent path must consist of plain `Normal` components (no `..`, no root,
//! no `.`, no empty or NUL components). Walking from the download directory, each
//! existing component is checked with `symlink_metadata` and a symlink is refused,
//! so a link planted inside the directory cannot redirect writes outside it; files
//! are opened with `O_NOFOLLOW`. The check and the open are separate system calls:
//! someone who can rename directories inside the download directory between them
//! is not defended against (that would need `openat2(RESOLVE_BENEATH)`).

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::error::{io_error, Op, StorageError};

/// Checks that `rel` is a non-empty path of plain relative components.
pub(crate) fn check_relative(rel: &Path) -> Result<(), StorageError> {
    let unsafe_path = || StorageError::UnsafePath {
        path: rel.to_path_buf(),
    };
    // `components()` silently drops interior `.` and repeated `/`; look at raw bytes too.
    let raw = rel.as_os_str().as_bytes();
    if raw.is_empty() || raw.contains(&0) || raw.starts_with(b"/") || raw.ends_with(b"/") {
        return Err(unsafe_path());
    }
    for part in raw.split(|&b| b == b'/') {
        if part.is_empty() || part == b"." || part == b".." {
            return Err(unsafe_path());
        }
    }
    if rel.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(())
    } else {
        Err(unsafe_path())
    }
}

/// What lies at the final component of a torrent path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Nothing: the file does not exist (or a parent directory is missing).
    Absent,
    /// A regular file of this many bytes.
    File(u64),
}

/// Resolves `rel` below `root` without following symlinks: every existing parent
/// must be a real directory and the file, if it exists, a regular file. Missing
/// parent directories are created when `create_dirs` is set.
pub(crate) fn resolve(root: &Path, rel: &Path, create_dirs: bool) -> Result<(PathBuf, Existing), StorageError> {
    check_relative(rel)?;
    let mut parts = rel.components().peekable();
    let mut cur = root.to_path_buf();
    while let Some(part) = parts.next() {
        cur.push(part);
        let last = parts.peek().is_none();
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(StorageError::SymlinkRefused { path: cur });
            }
            Ok(m) if last => {
                return if m.file_type().is_file() {
                    Ok((cur, Existing::File(m.len())))
                } else {
                    Err(StorageError::NotAFile { path: cur })
                };
            }
            Ok(m) if !m.is_dir() => return Err(StorageError::NotADirectory { path: cur }),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if last {
                    return Ok((cur, Existing::Absent));
                }
                if !create_dirs {
                    let rest: PathBuf = parts.collect();
                    return Ok((cur.join(rest), Existing::Absent));
                }
                match std::fs::create_dir(&cur) {
                    Ok(()) => {}
                    // Raced with another creator: loop around and re-check what it made.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let m = std::fs::symlink_metadata(&cur).map_err(|e| io_error(Op::Inspect, &cur, e))?;
                        if m.file_type().is_symlink() {
                            return Err(StorageError::SymlinkRefused { path: cur });
                        }
                        if !m.is_dir() {
                            return Err(StorageError::NotADirectory { path: cur });
                        }
                    }
                    Err(e) => return Err(io_error(Op::CreateDir, &cur, e)),
                }
            }
            Err(e) => return Err(io_error(Op::Inspect, &cur, e)),
        }
    }
    // Unreachable for a path that passed `check_relative` (at least one component).
    Err(StorageError::UnsafePath {
        path: rel.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn only_plain_relative_paths_pass() {
        for ok in ["a", "a/b.bin", "dir/sub/file name.txt", "..a", "a..", ".hidden"] {
            assert!(check_relative(Path::new(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/..",
            "./a",
            "a/./b",
            "a//b",
            "a/",
            ".",
        ] {
            assert!(
                matches!(check_relative(Path::new(bad)), Err(StorageError::UnsafePath { .. })),
                "{bad:?}"
            );
        }
        let nul = Path::new(OsStr::from_bytes(b"a\0b"));
        assert!(check_relative(nul).is_err());
    }
}
