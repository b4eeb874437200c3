//! The session file, the resume records and the saved .torrent files of a state
//! dir: where each lives, how it is written (atomically) and read back
//! (bounded, checked, validated).
//!
//! A damaged file is an error naming the file and what failed, and touches
//! nothing else: a bad resume record costs one torrent a recheck; a bad session
//! file is kept aside as `session.rkyv.corrupt-<unix time>` and the core
//! rebuilds the session from `torrents/*.torrent` ([`StateStore::list_saved_metainfo`]).

mod record_file;
mod records;
mod records_v1;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub use record_file::{RecordError, RecordKind, FORMAT_VERSION};
pub use records::{
    FileStamp, LimitRecord, ResumeFile, ScheduleError, ScheduleRecord, SessionRecord, SettingsRecord, StopReason,
    TorrentRecord,
};

use crate::state_dir::{write_atomic, AtomicWriteError, RESUME_DIR, TORRENTS_DIR};

const SESSION_FILE: &str = "session.rkyv";
const RESUME_EXT: &str = "resume";
const METAINFO_EXT: &str = "torrent";
const MAGNET_EXT: &str = "magnet";
/// Upper bounds on what a load reads into memory. A session of 100,000
/// torrents is a few tens of MiB; a resume record of a million pieces and
/// files, a few MiB; the limits leave room and stop a runaway file.
pub const MAX_SESSION_BYTES: u64 = 512 << 20;
pub const MAX_RESUME_BYTES: u64 = 64 << 20;
pub const MAX_METAINFO_BYTES: u64 = 64 << 20;
/// A magnet link with many trackers and peers is a few KiB.
pub const MAX_MAGNET_BYTES: u64 = 1 << 20;

/// Why a state file could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Write(#[from] AtomicWriteError),
    #[error("cannot serialize {what}: {reason}")]
    Encode { what: String, reason: String },
    #[error("{} is damaged: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: RecordError,
    },
    #[error(
        "session file {} is damaged ({source}); kept a copy as {}, the session is rebuilt from the saved .torrent files",
        path.display(),
        kept_as.display()
    )]
    CorruptSession {
        path: PathBuf,
        kept_as: PathBuf,
        #[source]
        source: RecordError,
    },
}

impl StoreError {
    /// True when the file was there but damaged (as opposed to unreadable).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. } | StoreError::CorruptSession { .. })
    }
}

/// A session file of this build's format or of an older one still read.
fn decode_session(bytes: &[u8]) -> Result<SessionRecord, RecordError> {
    let (version, payload) = record_file::checked_payload(RecordKind::Session, bytes)?;
    if version == 1 {
        let v1: records_v1::SessionRecordV1 = record_file::decode_payload(payload)?;
        return Ok(v1.into());
    }
    record_file::decode_payload(payload)
}

/// The records of one state dir. Holds only the path: the caller owns the
/// state dir's lock ([`crate::state_dir::StateDir::store`]).
#[derive(Clone, Debug)]
pub struct StateStore {
    root: PathBuf,
}

impl StateStore {
    pub fn new(root: &Path) -> StateStore {
        StateStore {
            root: root.to_path_buf(),
        }
    }

    pub fn session_path(&self) -> PathBuf {
        self.root.join(SESSION_FILE)
    }

    pub fn resume_path(&self, info_hash: &[u8; 20]) -> PathBuf {
        self.root.join(RESUME_DIR).join(file_name(info_hash, RESUME_EXT))
    }

    pub fn metainfo_path(&self, info_hash: &[u8; 20]) -> PathBuf {
        self.root.join(TORRENTS_DIR).join(file_name(info_hash, METAINFO_EXT))
    }

    /// A magnet waiting for its metadata: its link, in the torrents' folder.
    pub fn magnet_path(&self, info_hash: &[u8; 20]) -> PathBuf {
        self.root.join(TORRENTS_DIR).join(file_name(info_hash, MAGNET_EXT))
    }

    /// The saved session; `None` in a fresh dir. A damaged file is copied to
    /// `session.rkyv.corrupt-<unix time>` and reported as
    /// [`StoreError::CorruptSession`]; the damaged file stays in place, so a
    /// crash before the rebuilt session is saved finds it damaged again
    /// rather than taking the dir for a fresh one. If even the copy cannot be
    /// made, that is an [`StoreError::Io`]: nothing should then overwrite the
    /// only copy of the damaged file.
    pub fn load_session(&self) -> Result<Option<SessionRecord>, StoreError> {
        let path = self.session_path();
        let Some(bytes) = read_bounded(&path, MAX_SESSION_BYTES)? else {
            return Ok(None);
        };
        let decoded = bytes.and_then(|b| decode_session(&b));
        match decoded {
            Ok(session) => Ok(Some(session)),
            Err(source) => {
                let kept_as = self.keep_corrupt_session(&path)?;
                tracing::error!(
                    path = %path.display(),
                    kept_as = %kept_as.display(),
                    error = %source,
                    "session file is damaged; rebuilding from the saved .torrent files"
                );
                Err(StoreError::CorruptSession { path, kept_as, source })
            }
        }
    }

    pub fn save_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let bytes = record_file::encode(RecordKind::Session, session).map_err(|e| StoreError::Encode {
            what: "the session".to_string(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.session_path(), &bytes)?;
        Ok(())
    }

    pub fn save_resume(&self, info_hash: &[u8; 20], resume: &ResumeFile) -> Result<(), StoreError> {
        let bytes = record_file::encode(RecordKind::Resume, resume).map_err(|e| StoreError::Encode {
            what: format!("the resume record of {}", hex(info_hash)),
            reason: e.to_string(),
        })?;
        write_atomic(&self.resume_path(info_hash), &bytes)?;
        Ok(())
    }

    /// The torrent's resume record; `None` when it has none yet. A damaged one
    /// is [`StoreError::Corrupt`]: recheck that torrent, the file is replaced
    /// at its next save.
    pub fn load_resume(&self, info_hash: &[u8; 20]) -> Result<Option<ResumeFile>, StoreError> {
        let path = self.resume_path(info_hash);
        let Some(bytes) = read_bounded(&path, MAX_RESUME_BYTES)? else {
            return Ok(None);
        };
        bytes
            .and_then(|b| record_file::decode::<ResumeFile>(RecordKind::Resume, &b))
            .map(Some)
            .map_err(|source| StoreError::Corrupt { path, source })
    }

    /// Keeps the .torrent as it was added, so the session can be rebuilt from it.
    pub fn save_metainfo(&self, info_hash: &[u8; 20], metainfo: &[u8]) -> Result<(), StoreError> {
        write_atomic(&self.metainfo_path(info_hash), metainfo)?;
        Ok(())
    }

    /// The saved .torrent bytes, unparsed; `None` when there are none.
    pub fn load_metainfo(&self, info_hash: &[u8; 20]) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.metainfo_path(info_hash);
        match read_bounded(&path, MAX_METAINFO_BYTES)? {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(source)) => Err(StoreError::Corrupt { path, source }),
        }
    }

    /// Keeps a magnet link until its metadata arrives, so a restart fetches again.
    pub fn save_magnet(&self, info_hash: &[u8; 20], link: &str) -> Result<(), StoreError> {
        write_atomic(&self.magnet_path(info_hash), link.as_bytes())?;
        Ok(())
    }

    /// The saved magnet link; `None` when there is none.
    pub fn load_magnet(&self, info_hash: &[u8; 20]) -> Result<Option<String>, StoreError> {
        let path = self.magnet_path(info_hash);
        match read_bounded(&path, MAX_MAGNET_BYTES)? {
            None => Ok(None),
            Some(Ok(bytes)) => String::from_utf8(bytes).map(Some).map_err(|_| StoreError::Corrupt {
                path,
                source: RecordError::Invalid("a magnet link that is not UTF-8".into()),
            }),
            Some(Err(source)) => Err(StoreError::Corrupt { path, source }),
        }
    }

    /// Deletes the saved magnet link (its `.torrent` is saved now); a missing one is fine.
    pub fn remove_magnet(&self, info_hash: &[u8; 20]) -> Result<(), StoreError> {
        let path = self.magnet_path(info_hash);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                path,
                action: "remove",
                source,
            }),
        }
    }

    /// Removes a torrent's resume record, saved .torrent and magnet link; missing
    /// ones are fine.
    pub fn remove_torrent_files(&self, info_hash: &[u8; 20]) -> Result<(), StoreError> {
        for path in [
            self.resume_path(info_hash),
            self.metainfo_path(info_hash),
            self.magnet_path(info_hash),
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path,
                        action: "remove",
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Info-hashes of every saved .torrent (`torrents/<40 hex>.torrent`), in
    /// order; other files there are ignored.
    pub fn list_saved_metainfo(&self) -> Result<Vec<[u8; 20]>, StoreError> {
        self.list_saved(METAINFO_EXT)
    }

    /// Info-hashes of every saved magnet link (`torrents/<40 hex>.magnet`), in order.
    pub fn list_saved_magnets(&self) -> Result<Vec<[u8; 20]>, StoreError> {
        self.list_saved(MAGNET_EXT)
    }

    fn list_saved(&self, ext: &str) -> Result<Vec<[u8; 20]>, StoreError> {
        let dir = self.root.join(TORRENTS_DIR);
        let io_error = |source| StoreError::Io {
            path: dir.clone(),
            action: "list",
            source,
        };
        let mut hashes = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_error)? {
            let name = entry.map_err(io_error)?.file_name();
            let hash = name
                .to_str()
                .and_then(|n| n.strip_suffix(ext))
                .and_then(|n| n.strip_suffix('.'))
                .and_then(ccbt_engine::InfoHash::from_hex);
            // Only the names the saves write (lowercase), so each one loads back.
            if let Some(hash) = hash.filter(|h| Some(file_name(&h.0, ext).as_str()) == name.to_str()) {
                hashes.push(hash.0);
            }
        }
        hashes.sort_unstable();
        Ok(hashes)
    }

    fn keep_corrupt_session(&self, path: &Path) -> Result<PathBuf, StoreError> {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let kept_as = self.root.join(format!("{SESSION_FILE}.corrupt-{secs}"));
        fs::copy(path, &kept_as).map_err(|source| StoreError::Io {
            path: kept_as.clone(),
            action: "keep a copy of the damaged session file as",
            source,
        })?;
        Ok(kept_as)
    }
}

/// Reads a whole file of at most `max` bytes. `None` when it does not exist;
/// `Some(Err)` when it is over the limit (damaged, not unreadable).
fn read_bounded(path: &Path, max: u64) -> Result<Option<Result<Vec<u8>, RecordError>>, StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(e)),
    };
    let len = file.metadata().map_err(io_error)?.len();
    if len > max {
        return Ok(Some(Err(RecordError::TooLarge { len, max })));
    }
    // `take` bounds the read even if the file grows meanwhile.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max + 1).read_to_end(&mut bytes).map_err(io_error)?;
    if bytes.len() as u64 > max {
        return Ok(Some(Err(RecordError::TooLarge {
            len: bytes.len() as u64,
            max,
        })));
    }
    Ok(Some(Ok(bytes)))
}

fn file_name(info_hash: &[u8; 20], ext: &str) -> String {
    format!("{}.{ext}", hex(info_hash))
}

fn hex(info_hash: &[u8; 20]) -> String {
    ccbt_engine::types::to_hex(info_hash)
}

#[cfg(test)]
mod tests;
