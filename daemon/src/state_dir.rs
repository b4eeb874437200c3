//! The daemon's state directory: its layout, the lock that keeps a second daemon
//! out, and the small files clients read to find a running daemon (pid, API
//! token, endpoint).
//!
//! ```text
//! <root>/                  mode 0700
//!   daemon.lock            flock'ed for the daemon's life
//!   daemon.pid             the running daemon's pid
//!   daemon.json            where it listens (Endpoint)
//!   daemon.log             its log when detached
//!   api.token              the API bearer token, mode 0600
//!   session.rkyv           the session (state_store)
//!   torrents/<hex>.torrent copies of the added .torrent files
//!   resume/<hex>.resume    fast-resume records
//! ```

mod atomic_write;

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};

pub(crate) use atomic_write::sweep_temp_files;
pub use atomic_write::{write_atomic, AtomicWriteError};

use crate::state_store::StateStore;

const LOCK_FILE: &str = "daemon.lock";
const PID_FILE: &str = "daemon.pid";
const ENDPOINT_FILE: &str = "daemon.json";
const LOG_FILE: &str = "daemon.log";
const TOKEN_FILE: &str = "api.token";
pub(crate) const TORRENTS_DIR: &str = "torrents";
pub(crate) const RESUME_DIR: &str = "resume";
/// Random bytes in a generated API token (written as hex).
const TOKEN_BYTES: usize = 32;
/// Used when neither `$XDG_DATA_HOME` nor `$HOME` is set (a bare system service).
const FALLBACK_STATE_DIR: &str = "/var/lib/ccbt";

/// Why the state dir could not be opened or one of its small files not read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state dir {} is in use by another ccbt daemon ({}); stop it with `btbt daemon exit` or use another --state-dir",
        dir.display(),
        describe_pid(*pid)
    )]
    Locked { dir: PathBuf, pid: Option<u32> },
    #[error("state dir: cannot {action} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Write(#[from] AtomicWriteError),
    #[error("API token file {} is empty or holds characters other than printable ASCII", path.display())]
    BadToken { path: PathBuf },
    #[error("daemon endpoint file {} is not valid: {source}", path.display())]
    BadEndpoint {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn describe_pid(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown".to_string(),
    }
}

fn io_error<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Where a running daemon can be reached; `daemon.json` in the state dir.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub pid: u32,
    /// `http://127.0.0.1:PORT`, as clients pass it to `--api`.
    pub api_url: String,
    /// The peer listen address, `ADDR:PORT`.
    pub listen: String,
}

/// An open, locked state directory. The lock is held until this is dropped, so
/// one daemon at a time owns the directory; clients read its files through the
/// free functions ([`read_pid`], [`read_token`], [`read_endpoint`]) without it.
#[derive(Debug)]
pub struct StateDir {
    root: PathBuf,
    /// Holds the `flock`; closing the file releases it.
    _lock: File,
}

impl StateDir {
    /// Creates `root` (mode 0700) with `torrents/` and `resume/` and takes the
    /// lock. A second open while another holds it, in this process or another,
    /// fails with [`StateError::Locked`]. A stale `daemon.pid` left by a dead
    /// daemon does not block. Temp files a killed writer left are removed.
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        let root = std::path::absolute(root).map_err(io_error(root, "resolve"))?;
        if let Some(parent) = root.parent() {
            fs::create_dir_all(parent).map_err(io_error(parent, "create directory"))?;
        }
        match DirBuilder::new().mode(0o700).create(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && root.is_dir() => {}
            Err(e) => return Err(io_error(&root, "create directory")(e)),
        }
        let lock_path = root.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_error(&lock_path, "open"))?;
        match rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(StateError::Locked {
                    pid: read_pid(&root),
                    dir: root,
                })
            }
            Err(errno) => return Err(io_error(&lock_path, "lock")(errno.into())),
        }
        for sub in [TORRENTS_DIR, RESUME_DIR] {
            let dir = root.join(sub);
            match DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(io_error(&dir, "create directory")(e)),
            }
        }
        for dir in [root.clone(), root.join(TORRENTS_DIR), root.join(RESUME_DIR)] {
            let removed = sweep_temp_files(&dir).map_err(io_error(&dir, "clean up temp files in"))?;
            if removed > 0 {
                tracing::info!(dir = %dir.display(), removed, "removed temp files of an interrupted write");
            }
        }
        Ok(StateDir { root, _lock: lock })
    }

    /// The directory, as an absolute path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a detached daemon writes its log.
    pub fn log_path(&self) -> PathBuf {
        self.root.join(LOG_FILE)
    }

    /// The session and resume records in this directory.
    pub fn store(&self) -> StateStore {
        StateStore::new(&self.root)
    }

    /// Records this process as the directory's daemon.
    pub fn write_pid(&self) -> Result<(), StateError> {
        write_atomic(
            &self.root.join(PID_FILE),
            format!("{}\n", std::process::id()).as_bytes(),
        )?;
        Ok(())
    }

    /// Removes `daemon.pid` at shutdown; a missing file is fine.
    pub fn remove_pid(&self) -> Result<(), StateError> {
        remove_if_present(&self.root.join(PID_FILE))
    }

    /// The API token: read from `api.token`, or generated (32 random bytes as
    /// hex) and written there with mode 0600 on first use.
    pub fn ensure_token(&self) -> Result<String, StateError> {
        if let Some(token) = read_token(&self.root)? {
            return Ok(token);
        }
        let path = self.root.join(TOKEN_FILE);
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| io_error(&path, "generate a token for")(io::Error::other(e)))?;
        let token = ccbt_engine::types::to_hex(&bytes);
        write_atomic(&path, format!("{token}\n").as_bytes())?;
        Ok(token)
    }

    /// Writes `daemon.json` so clients find the API and the listen address.
    pub fn write_endpoint(&self, endpoint: &Endpoint) -> Result<(), StateError> {
        let path = self.root.join(ENDPOINT_FILE);
        let mut json = serde_json::to_vec_pretty(endpoint).map_err(|source| StateError::BadEndpoint {
            path: path.clone(),
            source,
        })?;
        json.push(b'\n');
        write_atomic(&path, &json)?;
        Ok(())
    }

    /// Removes `daemon.json` at shutdown; a missing file is fine.
    pub fn remove_endpoint(&self) -> Result<(), StateError> {
        remove_if_present(&self.root.join(ENDPOINT_FILE))
    }
}

fn remove_if_present(path: &Path) -> Result<(), StateError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path, "remove")(e)),
    }
}

/// The pid in `root/daemon.pid`, if the file exists and holds one. It may be
/// stale: only the lock says whether a daemon runs.
pub fn read_pid(root: &Path) -> Option<u32> {
    fs::read_to_string(root.join(PID_FILE)).ok()?.trim().parse().ok()
}

/// The API token in `root/api.token`; `None` when there is no such file.
pub fn read_token(root: &Path) -> Result<Option<String>, StateError> {
    let path = root.join(TOKEN_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => return Err(StateError::BadToken { path }),
        Err(e) => return Err(io_error(&path, "read")(e)),
    };
    let token = text.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StateError::BadToken { path });
    }
    Ok(Some(token.to_string()))
}

/// Where the daemon of `root` said it listens; `None` when it wrote nothing
/// (not started, or shut down cleanly).
pub fn read_endpoint(root: &Path) -> Result<Option<Endpoint>, StateError> {
    let path = root.join(ENDPOINT_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path, "read")(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| StateError::BadEndpoint { path, source })
}

/// `$XDG_DATA_HOME/ccbt`, else `~/.local/share/ccbt`, else `/var/lib/ccbt`.
pub fn default_state_dir() -> PathBuf {
    state_dir_from_env(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// The XDG rule: a relative or empty `XDG_DATA_HOME` is ignored.
fn state_dir_from_env(xdg_data_home: Option<OsString>, home: Option<OsString>) -> PathBuf {
    let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(data) = absolute(xdg_data_home) {
        return data.join("ccbt");
    }
    if let Some(home) = absolute(home) {
        return home.join(".local").join("share").join("ccbt");
    }
    PathBuf::from(FALLBACK_STATE_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn open_creates_private_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a").join("state");
        let dir = StateDir::open(&root).unwrap();
        assert_eq!(dir.root(), root);
        assert_eq!(mode(&root), 0o700);
        assert!(root.join("torrents").is_dir());
        assert!(root.join("resume").is_dir());
        assert!(root.join("daemon.lock").is_file());
        assert_eq!(dir.log_path(), root.join("daemon.log"));
    }

    #[test]
    fn second_open_in_same_process_is_locked_and_names_dir_and_pid() {
        let tmp = tempfile::tempdir().unwrap();
        let first = StateDir::open(tmp.path()).unwrap();
        first.write_pid().unwrap();
        let err = StateDir::open(tmp.path()).unwrap_err();
        match &err {
            StateError::Locked { dir, pid } => {
                assert_eq!(dir, tmp.path());
                assert_eq!(*pid, Some(std::process::id()));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains(&tmp.path().display().to_string()), "{message}");
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
    }

    #[test]
    fn lock_is_released_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let first = StateDir::open(tmp.path()).unwrap();
        drop(first);
        StateDir::open(tmp.path()).unwrap();
    }

    #[test]
    fn stale_pid_file_without_lock_does_not_block() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("daemon.pid"), "4000000\n").unwrap();
        assert_eq!(read_pid(tmp.path()), Some(4_000_000));
        let dir = StateDir::open(tmp.path()).unwrap();
        dir.write_pid().unwrap();
        assert_eq!(read_pid(tmp.path()), Some(std::process::id()));
        dir.remove_pid().unwrap();
        assert_eq!(read_pid(tmp.path()), None);
        dir.remove_pid().unwrap();
    }

    /// Set in the child of `other_process_holding_the_dir_is_named_and_its_death_frees_it`.
    const CHILD_ROOT_ENV: &str = "CCBT_TEST_STATE_DIR_HOLDER";
    /// How long the child holds the lock at most, should its parent never kill it.
    const CHILD_HOLD: std::time::Duration = std::time::Duration::from_secs(20);

    #[test]
    fn other_process_holding_the_dir_is_named_and_its_death_frees_it() {
        if let Some(root) = std::env::var_os(CHILD_ROOT_ENV) {
            let dir = StateDir::open(Path::new(&root)).unwrap();
            dir.write_pid().unwrap();
            std::thread::sleep(CHILD_HOLD);
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "state_dir::tests::other_process_holding_the_dir_is_named_and_its_death_frees_it",
                "--nocapture",
            ])
            .env(CHILD_ROOT_ENV, tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + CHILD_HOLD;
        while read_pid(tmp.path()) != Some(child.id()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let err = StateDir::open(tmp.path()).unwrap_err();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            matches!(&err, StateError::Locked { pid: Some(pid), .. } if *pid == child.id()),
            "{err:?}"
        );
        // Killed with SIGKILL, the holder left its pid file but the kernel dropped its lock.
        assert_eq!(read_pid(tmp.path()), Some(child.id()));
        StateDir::open(tmp.path()).unwrap();
    }

    #[test]
    fn locked_without_pid_file_says_pid_unknown() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = StateDir::open(tmp.path()).unwrap();
        let err = StateDir::open(tmp.path()).unwrap_err();
        assert!(matches!(err, StateError::Locked { pid: None, .. }), "{err:?}");
        assert!(err.to_string().contains("pid unknown"), "{err}");
    }

    #[test]
    fn token_is_created_once_with_mode_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::open(tmp.path()).unwrap();
        assert_eq!(read_token(tmp.path()).unwrap(), None);
        let token = dir.ensure_token().unwrap();
        assert_eq!(token.len(), 2 * TOKEN_BYTES);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
        assert_eq!(mode(&tmp.path().join("api.token")), 0o600);
        assert_eq!(dir.ensure_token().unwrap(), token);
        assert_eq!(read_token(tmp.path()).unwrap(), Some(token.clone()));

        let other = tempfile::tempdir().unwrap();
        let other_token = StateDir::open(other.path()).unwrap().ensure_token().unwrap();
        assert_ne!(other_token, token);
    }

    #[test]
    fn token_set_by_hand_is_kept_and_empty_one_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::open(tmp.path()).unwrap();
        fs::write(tmp.path().join("api.token"), "  my-own-secret\n").unwrap();
        assert_eq!(dir.ensure_token().unwrap(), "my-own-secret");
        fs::write(tmp.path().join("api.token"), "\n").unwrap();
        let err = dir.ensure_token().unwrap_err();
        assert!(matches!(err, StateError::BadToken { .. }), "{err:?}");
        assert!(err.to_string().contains("api.token"), "{err}");
    }

    #[test]
    fn endpoint_round_trips_and_bad_json_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::open(tmp.path()).unwrap();
        assert_eq!(read_endpoint(tmp.path()).unwrap(), None);
        let endpoint = Endpoint {
            pid: 42,
            api_url: "http://127.0.0.1:6880".into(),
            listen: "0.0.0.0:6881".into(),
        };
        dir.write_endpoint(&endpoint).unwrap();
        assert_eq!(read_endpoint(tmp.path()).unwrap(), Some(endpoint));
        dir.remove_endpoint().unwrap();
        assert_eq!(read_endpoint(tmp.path()).unwrap(), None);

        fs::write(tmp.path().join("daemon.json"), b"{\"pid\":").unwrap();
        let err = read_endpoint(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("daemon.json"), "{err}");
    }

    #[test]
    fn open_sweeps_temp_files_of_a_killed_writer() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("resume")).unwrap();
        let leftover = tmp.path().join("resume").join(".ab.resume.tmp-77-3");
        fs::write(&leftover, b"partial").unwrap();
        let _dir = StateDir::open(tmp.path()).unwrap();
        assert!(!leftover.exists());
    }

    #[test]
    fn default_state_dir_follows_xdg_then_home() {
        assert_eq!(
            state_dir_from_env(Some("/data".into()), Some("/home/u".into())),
            PathBuf::from("/data/ccbt")
        );
        assert_eq!(
            state_dir_from_env(Some("relative".into()), Some("/home/u".into())),
            PathBuf::from("/home/u/.local/share/ccbt")
        );
        assert_eq!(
            state_dir_from_env(Some("".into()), Some("/home/u".into())),
            PathBuf::from("/home/u/.local/share/ccbt")
        );
        assert_eq!(state_dir_from_env(None, None), PathBuf::from(FALLBACK_STATE_DIR));
    }
}
