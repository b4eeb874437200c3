//! The one way a state file is written: a temp file beside it, written and
//! fsynced, renamed over the target, then the directory fsynced. A crash or
//! `kill -9` at any point leaves either the old file or the new one, never a
//! mix, and the rename survives a power cut once the directory is synced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Marks a temp file of [`write_atomic`]; `StateDir::open` sweeps leftovers of
/// a killed process by it.
pub(crate) const TEMP_MARKER: &str = ".tmp-";

/// Makes temp names unique within the process, so two writers of one path
/// never share a temp file.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A state file could not be written; the previous content (if any) is intact.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {step}: {source}")]
pub struct AtomicWriteError {
    pub path: PathBuf,
    /// Which step failed: "create temp file", "write", "fsync", "rename", "fsync dir".
    pub step: &'static str,
    #[source]
    pub source: io::Error,
}

/// Replaces `path` with `bytes` atomically. The file is created with mode 0600
/// from the start: state files (the API token among them) are private.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// [`write_atomic`] with the content produced by `fill`; an error from `fill`
/// aborts the write and leaves the previous file as it was.
pub(crate) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), AtomicWriteError> {
    let fail = |step: &'static str| {
        move |source: io::Error| AtomicWriteError {
            path: path.to_path_buf(),
            step,
            source,
        }
    };
    let dir = parent_dir(path);
    let temp = temp_path(path).map_err(fail("create temp file"))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(fail("create temp file"))?;
    let written = fill(&mut file)
        .map_err(fail("write"))
        .and_then(|()| file.sync_all().map_err(fail("fsync")));
    drop(file);
    if let Err(err) = written.and_then(|()| fs::rename(&temp, path).map_err(fail("rename"))) {
        // Best effort: the temp file is garbage either way, and the sweep at the
        // next open removes it if this fails too.
        let _ = fs::remove_file(&temp);
        return Err(err);
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(fail("fsync dir"))
}

/// Removes temp files that a killed writer left in `dir`. Only safe while the
/// state dir's lock is held, so no live writer owns one.
pub(crate) fn sweep_temp_files(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_temp = name
            .to_str()
            .is_some_and(|n| n.starts_with('.') && n.contains(TEMP_MARKER));
        if is_temp && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no UTF-8 file name"))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp_name = format!(".{name}{TEMP_MARKER}{}-{n}", std::process::id());
    Ok(parent_dir(path).join(temp_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_new_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record");
        write_atomic(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(entries(dir.path()), vec!["record"]);
    }

    #[test]
    fn replaces_existing_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record");
        write_atomic(&path, b"a much longer first content").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(entries(dir.path()), vec!["record"]);
    }

    #[test]
    fn failing_write_leaves_previous_content_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record");
        write_atomic(&path, b"previous").unwrap();
        let err = write_atomic_with(&path, |file| {
            file.write_all(b"half of the new")?;
            Err(io::Error::other("disk gone"))
        })
        .unwrap_err();
        assert_eq!(err.step, "write");
        assert!(err.to_string().contains("record"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"previous");
        assert_eq!(entries(dir.path()), vec!["record"]);
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("record");
        let err = write_atomic(&path, b"x").unwrap_err();
        assert_eq!(err.step, "create temp file");
        assert!(err.to_string().contains("absent"), "{err}");
    }

    /// Set in the child of `killed_writer_leaves_a_whole_old_or_new_file`: the
    /// file it rewrites until it is killed.
    const CHILD_TARGET_ENV: &str = "CCBT_TEST_ATOMIC_WRITE_TARGET";
    const CHILD_VERSIONS: usize = 500;
    const CHILD_FILE_LEN: usize = 256 * 1024;

    /// Every version is one byte value repeated, so a mix of two is visible.
    fn write_versions(path: &Path) {
        for version in 0..CHILD_VERSIONS {
            write_atomic(path, &vec![(version % 251) as u8; CHILD_FILE_LEN]).unwrap();
        }
    }

    #[test]
    fn killed_writer_leaves_a_whole_old_or_new_file() {
        if let Some(target) = std::env::var_os(CHILD_TARGET_ENV) {
            write_versions(Path::new(&target));
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "state_dir::atomic_write::tests::killed_writer_leaves_a_whole_old_or_new_file",
                "--nocapture",
            ])
            .env(CHILD_TARGET_ENV, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Let the child get going (bounded wait), then kill it in the middle of its writes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !path.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        std::thread::sleep(std::time::Duration::from_millis(15));
        child.kill().unwrap();
        child.wait().unwrap();

        let content = fs::read(&path).unwrap();
        assert_eq!(content.len(), CHILD_FILE_LEN);
        assert!(content.iter().all(|&b| b == content[0]), "a mix of two versions");
        sweep_temp_files(dir.path()).unwrap();
        assert_eq!(entries(dir.path()), vec!["record"]);
    }

    #[test]
    fn sweep_removes_only_leftover_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".session.rkyv.tmp-123-0"), b"partial").unwrap();
        fs::write(dir.path().join("session.rkyv"), b"kept").unwrap();
        fs::write(dir.path().join("notes.tmp-1"), b"not ours: no leading dot").unwrap();
        assert_eq!(sweep_temp_files(dir.path()).unwrap(), 1);
        assert_eq!(entries(dir.path()), vec!["notes.tmp-1", "session.rkyv"]);
    }
}
