//! The watch directory: `.torrent` files dropped there are added, and `.magnet`
//! files holding a magnet link.
//!
//! Polled (every [`WATCH_POLL_INTERVAL`] by the core; no inotify needed at this
//! rate). A file is handed over once it is complete: the same size and mtime in
//! two scans in a row, so a file still being copied in is left alone. After it is
//! handled it is renamed `NAME.torrent.added`, or `NAME.torrent.invalid` when it
//! could not be added (the error is logged with the file's name), so it is never
//! handed over twice. An existing file of that name is replaced.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the core scans the watch directory.
pub const WATCH_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Directory entries looked at per scan, at most; the rest wait for the next one.
pub const MAX_WATCH_ENTRIES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("watch dir {}: cannot list it: {source}", dir.display())]
    List {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a scan did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Added, by their new names (`*.torrent.added`).
    pub added: Vec<PathBuf>,
    /// Refused, by their new names (`*.torrent.invalid`), with the error.
    pub invalid: Vec<(PathBuf, String)>,
}

/// Where a handled file went.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    Added(PathBuf),
    Invalid(PathBuf),
    /// The rename failed (logged); the file stays and is not handed over again
    /// until it changes.
    Stayed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileSnapshot {
    len: u64,
    modified: Option<SystemTime>,
}

/// One watched directory and what its last scan saw.
#[derive(Debug)]
pub struct WatchDir {
    dir: PathBuf,
    /// Seen once with this size and mtime; ready if the next scan sees the same.
    pending: HashMap<PathBuf, FileSnapshot>,
    /// Handed over and not settled yet.
    in_flight: HashSet<PathBuf>,
    /// Settled but could not be renamed; skipped while unchanged.
    stuck: HashMap<PathBuf, FileSnapshot>,
}

impl WatchDir {
    pub fn new(dir: impl Into<PathBuf>) -> WatchDir {
        WatchDir {
            dir: dir.into(),
            pending: HashMap::new(),
            in_flight: HashSet::new(),
            stuck: HashMap::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Scans once and hands each complete `.torrent` to `add`, then renames it by
    /// the answer. For a caller that adds asynchronously, [`WatchDir::ready_files`]
    /// and [`WatchDir::settle`] are the two halves of this.
    pub fn scan<E: Display>(&mut self, mut add: impl FnMut(&Path) -> Result<(), E>) -> Result<ScanReport, WatchError> {
        let mut report = ScanReport::default();
        for file in self.ready_files()? {
            let result = add(&file).map_err(|e| e.to_string());
            let error = result.as_ref().err().cloned();
            match (self.settle(&file, result), error) {
                (Settled::Added(to), _) => report.added.push(to),
                (Settled::Invalid(to), Some(error)) => report.invalid.push((to, error)),
                _ => {}
            }
        }
        Ok(report)
    }

    /// The `.torrent` files that were the same in this scan and the last one, and
    /// are not handed over yet. Each must be passed to [`WatchDir::settle`].
    pub fn ready_files(&mut self) -> Result<Vec<PathBuf>, WatchError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| WatchError::List {
            dir: self.dir.clone(),
            source,
        })?;
        let mut seen = HashMap::new();
        let mut ready = Vec::new();
        for entry in entries.take(MAX_WATCH_ENTRIES) {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "watch dir: cannot read an entry");
                    continue;
                }
            };
            if !is_torrent_name(&path) || self.in_flight.contains(&path) {
                continue;
            }
            // Follows a symlink: a link to a .torrent elsewhere is a .torrent.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let now = FileSnapshot {
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            if self.stuck.get(&path) == Some(&now) {
                continue;
            }
            self.stuck.remove(&path);
            if self.pending.get(&path) == Some(&now) {
                self.in_flight.insert(path.clone());
                ready.push(path);
            } else {
                seen.insert(path, now);
            }
        }
        // Files gone since the last scan are forgotten.
        self.pending = seen;
        self.stuck.retain(|path, _| path.exists());
        ready.sort();
        Ok(ready)
    }

    /// Renames a handed-over file by how adding it went, logging a failure with
    /// the file's name.
    pub fn settle(&mut self, file: &Path, result: Result<(), String>) -> Settled {
        self.in_flight.remove(file);
        let (suffix, error) = match &result {
            Ok(()) => (".added", None),
            Err(e) => (".invalid", Some(e.as_str())),
        };
        if let Some(error) = error {
            tracing::warn!(file = %file.display(), error, "watch dir: not a torrent that can be added");
        } else {
            tracing::info!(file = %file.display(), "watch dir: added");
        }
        let mut renamed = OsString::from(file.as_os_str());
        renamed.push(suffix);
        let renamed = PathBuf::from(renamed);
        match std::fs::rename(file, &renamed) {
            Ok(()) if result.is_ok() => Settled::Added(renamed),
            Ok(()) => Settled::Invalid(renamed),
            Err(e) => {
                tracing::error!(
                    file = %file.display(), to = %renamed.display(), error = %e,
                    "watch dir: cannot rename; the file is left as it is and not added again"
                );
                if let Ok(meta) = std::fs::metadata(file) {
                    let snapshot = FileSnapshot {
                        len: meta.len(),
                        modified: meta.modified().ok(),
                    };
                    self.stuck.insert(file.to_path_buf(), snapshot);
                }
                Settled::Stayed
            }
        }
    }
}

/// `*.torrent` or `*.magnet` (any case), not hidden (editors and downloaders
/// write dot files).
fn is_torrent_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    !name.starts_with('.')
        && [".torrent", ".magnet"]
            .iter()
            .any(|ext| lower.len() > ext.len() && lower.ends_with(ext))
}

/// Whether a handed-over file is a `.magnet` (a link as text), not a `.torrent`.
pub fn is_magnet_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("magnet"))
}

#[cfg(test)]
mod tests;
