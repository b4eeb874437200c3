//! The session's ban list: every address a torrent banned (corrupt data, a block
//! smart-ban proved wrong, hostile protocol), with its expiry, kept in the state dir
//! (`bans.json`, written atomically) so bans outlive a restart or a `kill -9` after
//! the write. Bounded: when full, the ban that ends soonest goes. Expired bans are
//! dropped on load and on every tick.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api_types::BanView;

/// File name of the list in the state dir.
pub const BAN_LIST_FILE: &str = "bans.json";
/// Largest ban list file read back (4096 bans take about 600 KB).
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// How long bans last and how many are kept (`[bans]` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BanPolicy {
    pub duration: Duration,
    pub max_bans: usize,
}

impl Default for BanPolicy {
    fn default() -> Self {
        BanPolicy {
            duration: Duration::from_secs(3600),
            max_bans: ccbt_engine::torrent::MAX_BANNED_ADDRS,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct BanRecord {
    reason: String,
    /// Info-hash (hex) of the torrent that banned it.
    torrent: Option<String>,
    /// Unix seconds.
    banned_at: u64,
    expires_at: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BanListError {
    #[error("ban list {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("ban list {path}: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("ban list {path}: {size} bytes, more than the {MAX_FILE_BYTES} read back")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("ban list {path}: {source}")]
    Write {
        path: PathBuf,
        source: crate::state_dir::AtomicWriteError,
    },
}

/// The bans in force, by address.
#[derive(Debug)]
pub struct BanList {
    path: PathBuf,
    policy: BanPolicy,
    bans: BTreeMap<IpAddr, BanRecord>,
}

impl BanList {
    /// An empty list kept at `state_dir/bans.json`.
    pub fn new(state_dir: &Path, policy: BanPolicy) -> BanList {
        BanList {
            path: state_dir.join(BAN_LIST_FILE),
            policy,
            bans: BTreeMap::new(),
        }
    }

    /// Reads the list back, dropping what expired before `now` (unix seconds). A
    /// missing file is an empty list; a broken one is an error (the caller logs it
    /// and starts empty, so the daemon still runs).
    pub fn load(state_dir: &Path, policy: BanPolicy, now: u64) -> Result<BanList, BanListError> {
        let mut list = BanList::new(state_dir, policy);
        let path = list.path.clone();
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(list),
            Err(source) => return Err(BanListError::Read { path, source }),
        };
        if size > MAX_FILE_BYTES {
            return Err(BanListError::TooLarge { path, size });
        }
        let bytes = std::fs::read(&path).map_err(|source| BanListError::Read {
            path: path.clone(),
            source,
        })?;
        let bans: BTreeMap<IpAddr, BanRecord> =
            serde_json::from_slice(&bytes).map_err(|source| BanListError::Parse { path, source })?;
        for (ip, record) in bans {
            if record.expires_at > now {
                list.insert(ip, record);
            }
        }
        Ok(list)
    }

    /// Writes the list (temp file, fsync, rename).
    pub fn save(&self) -> Result<(), BanListError> {
        let bytes = serde_json::to_vec(&self.bans).unwrap_or_default();
        crate::state_dir::write_atomic(&self.path, &bytes).map_err(|source| BanListError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Bans `ip` from `now` for the policy's duration; a ban already in force is
    /// extended. Always a change worth saving.
    pub fn ban(&mut self, ip: IpAddr, reason: &str, torrent: Option<String>, now: u64) {
        let record = BanRecord {
            reason: reason.to_string(),
            torrent,
            banned_at: now,
            expires_at: now.saturating_add(self.policy.duration.as_secs()),
        };
        self.insert(ip, record);
    }

    fn insert(&mut self, ip: IpAddr, record: BanRecord) {
        if self.policy.max_bans == 0 {
            return;
        }
        if self.bans.len() >= self.policy.max_bans && !self.bans.contains_key(&ip) {
            let soonest = self.bans.iter().min_by_key(|(_, r)| r.expires_at).map(|(ip, _)| *ip);
            if let Some(old) = soonest {
                self.bans.remove(&old);
            }
        }
        self.bans.insert(ip, record);
    }

    /// Lifts the ban on `ip`; whether there was one.
    pub fn unban(&mut self, ip: IpAddr) -> bool {
        self.bans.remove(&ip).is_some()
    }

    /// Drops bans that ended by `now`; whether any did.
    pub fn expire(&mut self, now: u64) -> bool {
        let before = self.bans.len();
        self.bans.retain(|_, r| r.expires_at > now);
        self.bans.len() != before
    }

    /// Each address with the time its ban has left, for the shards.
    pub fn in_force(&self, now: u64) -> Vec<(IpAddr, Duration)> {
        self.bans
            .iter()
            .filter(|(_, r)| r.expires_at > now)
            .map(|(ip, r)| (*ip, Duration::from_secs(r.expires_at - now)))
            .collect()
    }

    /// The list for `GET /api/v1/bans`, by address.
    pub fn views(&self) -> Vec<BanView> {
        self.bans
            .iter()
            .map(|(ip, r)| BanView {
                ip: ip.to_string(),
                reason: r.reason.clone(),
                info_hash: r.torrent.clone(),
                banned_at: r.banned_at,
                expires_at: r.expires_at,
            })
            .collect()
    }

    /// How long a ban lasts: the session's, and each torrent's own too.
    pub fn duration(&self) -> Duration {
        self.policy.duration
    }

    pub fn len(&self) -> usize {
        self.bans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bans_survive_a_reload_and_expired_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let policy = BanPolicy {
            duration: Duration::from_secs(100),
            max_bans: 10,
        };
        let mut list = BanList::new(dir.path(), policy);
        list.ban(ip("10.0.0.1"), "proven_corrupt_block", Some("ab".repeat(20)), 1_000);
        list.ban(ip("::1"), "corrupt_data", None, 1_050);
        list.save().unwrap();

        let back = BanList::load(dir.path(), policy, 1_090).unwrap();
        assert_eq!(back.views(), list.views());
        assert_eq!(
            back.in_force(1_090),
            vec![
                (ip("10.0.0.1"), Duration::from_secs(10)),
                (ip("::1"), Duration::from_secs(60))
            ]
        );
        let later = BanList::load(dir.path(), policy, 1_100).unwrap();
        assert_eq!(later.views().len(), 1, "the first ban ended at 1100");
        assert_eq!(later.views()[0].ip, "::1");
    }

    #[test]
    fn the_list_is_bounded_and_drops_the_ban_ending_soonest() {
        let dir = tempfile::tempdir().unwrap();
        let policy = BanPolicy {
            duration: Duration::from_secs(100),
            max_bans: 3,
        };
        let mut list = BanList::new(dir.path(), policy);
        for i in 0..5u8 {
            list.ban(IpAddr::from([10, 0, 0, i]), "corrupt_data", None, 1_000 + i as u64);
        }
        let kept: Vec<String> = list.views().into_iter().map(|v| v.ip).collect();
        assert_eq!(kept, vec!["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
        assert!(list.unban(ip("10.0.0.3")));
        assert!(!list.unban(ip("10.0.0.3")));
        assert!(list.expire(1_103));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(BanList::load(dir.path(), BanPolicy::default(), 0).unwrap().is_empty());
        std::fs::write(dir.path().join(BAN_LIST_FILE), b"{not json").unwrap();
        let err = BanList::load(dir.path(), BanPolicy::default(), 0).unwrap_err();
        assert!(err.to_string().contains(BAN_LIST_FILE), "{err}");
    }
}
