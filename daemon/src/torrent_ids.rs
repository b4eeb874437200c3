//! The session's torrent ids, and what a user may type to name a torrent: the
//! small integer shown by `btbt list`, the full 40-digit info-hash, or a unique
//! prefix of it (at least 4 hex digits, either case).
//!
//! A string of digits that is an existing id means that id, even when it is
//! also the start of some info-hash: ids are what `list` shows, so they win.

use std::collections::BTreeMap;

use crate::control::ApiError;

/// Fewest hex digits accepted as an info-hash prefix; shorter ones would match
/// too much to be useful and collide with ids.
pub const MIN_PREFIX_DIGITS: usize = 4;
const HASH_HEX_DIGITS: usize = 40;

/// One torrent, as resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TorrentRef {
    pub id: u32,
    pub info_hash: [u8; 20],
}

/// What a user typed names no torrent, or more than one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "no torrent {0:?}: give an id shown by `btbt list`, a 40-digit info-hash, or a unique prefix of at least {MIN_PREFIX_DIGITS} hex digits"
    )]
    NotFound(String),
    #[error("{prefix:?} is the start of {matches} torrents' info-hashes; type more digits")]
    Ambiguous { prefix: String, matches: usize },
}

impl From<IdError> for ApiError {
    fn from(err: IdError) -> ApiError {
        match err {
            IdError::NotFound(_) => ApiError::not_found(err.to_string()),
            IdError::Ambiguous { .. } => ApiError::bad_request(err.to_string()),
        }
    }
}

/// Restoring a session gave one id or info-hash twice.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "torrent id {id} / info-hash {} is already taken by another torrent",
    ccbt_engine::types::to_hex(info_hash)
)]
pub struct IdConflict {
    pub id: u32,
    pub info_hash: [u8; 20],
}

/// Ids ↔ info-hashes of the session's torrents. Ids start at 1 and are never
/// reused while the session lives (its `next_id` is saved with it).
#[derive(Clone, Debug)]
pub struct TorrentIds {
    by_id: BTreeMap<u32, [u8; 20]>,
    by_hash: BTreeMap<[u8; 20], u32>,
    next_id: u32,
}

impl Default for TorrentIds {
    fn default() -> Self {
        TorrentIds::new(1)
    }
}

impl TorrentIds {
    /// Empty, handing out `next_id` next (1 when given 0).
    pub fn new(next_id: u32) -> TorrentIds {
        TorrentIds {
            by_id: BTreeMap::new(),
            by_hash: BTreeMap::new(),
            next_id: next_id.max(1),
        }
    }

    /// The id the next new torrent gets; saved in the session record.
    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The torrent's id, a new one if it has none yet.
    pub fn assign(&mut self, info_hash: [u8; 20]) -> u32 {
        if let Some(&id) = self.by_hash.get(&info_hash) {
            return id;
        }
        // Bounded: at most len() ids are taken, so a free one is found within len() + 1 steps.
        let mut id = self.next_id;
        for _ in 0..=self.by_id.len() {
            if !self.by_id.contains_key(&id) {
                break;
            }
            id = id.checked_add(1).unwrap_or(1);
        }
        debug_assert!(!self.by_id.contains_key(&id));
        self.next_id = id.checked_add(1).unwrap_or(1);
        self.by_id.insert(id, info_hash);
        self.by_hash.insert(info_hash, id);
        id
    }

    /// Restores a saved pair; `next_id` moves past `id`.
    pub fn insert(&mut self, id: u32, info_hash: [u8; 20]) -> Result<(), IdConflict> {
        let same = self.by_id.get(&id) == Some(&info_hash);
        if !same && (self.by_id.contains_key(&id) || self.by_hash.contains_key(&info_hash) || id == 0) {
            return Err(IdConflict { id, info_hash });
        }
        self.by_id.insert(id, info_hash);
        self.by_hash.insert(info_hash, id);
        if id >= self.next_id {
            self.next_id = id.checked_add(1).unwrap_or(1);
        }
        Ok(())
    }

    /// Forgets a removed torrent; its id is not handed out again.
    pub fn remove(&mut self, id: u32) -> Option<[u8; 20]> {
        let info_hash = self.by_id.remove(&id)?;
        self.by_hash.remove(&info_hash);
        Some(info_hash)
    }

    pub fn id_of(&self, info_hash: &[u8; 20]) -> Option<u32> {
        self.by_hash.get(info_hash).copied()
    }

    pub fn info_hash_of(&self, id: u32) -> Option<[u8; 20]> {
        self.by_id.get(&id).copied()
    }

    /// Every torrent, by id.
    pub fn iter(&self) -> impl Iterator<Item = TorrentRef> + '_ {
        self.by_id.iter().map(|(&id, &info_hash)| TorrentRef { id, info_hash })
    }

    /// The one torrent `typed` names.
    pub fn resolve(&self, typed: &str) -> Result<TorrentRef, IdError> {
        let text = typed.trim();
        let not_found = || IdError::NotFound(text.to_string());
        if text.bytes().all(|b| b.is_ascii_digit()) {
            let known = text
                .parse::<u32>()
                .ok()
                .and_then(|id| Some((id, self.info_hash_of(id)?)));
            if let Some((id, info_hash)) = known {
                return Ok(TorrentRef { id, info_hash });
            }
        }
        if text.len() < MIN_PREFIX_DIGITS || text.len() > HASH_HEX_DIGITS {
            return Err(not_found());
        }
        let (low, high) = prefix_bounds(text).ok_or_else(not_found)?;
        let mut matches = self.by_hash.range(low..=high);
        match (matches.next(), matches.next()) {
            (None, _) => Err(not_found()),
            (Some((&info_hash, &id)), None) => Ok(TorrentRef { id, info_hash }),
            (Some(_), Some(_)) => Err(IdError::Ambiguous {
                prefix: text.to_string(),
                matches: 2 + matches.count(),
            }),
        }
    }
}

/// The lowest and highest info-hash that start with the hex digits `prefix`;
/// `None` if it is not hex.
fn prefix_bounds(prefix: &str) -> Option<([u8; 20], [u8; 20])> {
    let mut low = [0x00u8; 20];
    let mut high = [0xffu8; 20];
    for (i, c) in prefix.bytes().enumerate() {
        let nibble = (c as char).to_digit(16)? as u8;
        let shift = if i % 2 == 0 { 4 } else { 0 };
        let byte = i / 2;
        low[byte] = (low[byte] & !(0x0f << shift)) | (nibble << shift);
        high[byte] = (high[byte] & !(0x0f << shift)) | (nibble << shift);
    }
    Some((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(hex: &str) -> [u8; 20] {
        ccbt_engine::InfoHash::from_hex(hex).unwrap().0
    }

    const A: &str = "abcd000000000000000000000000000000000001";
    const B: &str = "abcd100000000000000000000000000000000002";
    const C: &str = "1234ffffffffffffffffffffffffffffffffffff";

    fn ids() -> TorrentIds {
        let mut ids = TorrentIds::default();
        assert_eq!(ids.assign(hash(A)), 1);
        assert_eq!(ids.assign(hash(B)), 2);
        assert_eq!(ids.assign(hash(C)), 3);
        ids
    }

    fn resolved_id(ids: &TorrentIds, typed: &str) -> u32 {
        ids.resolve(typed).unwrap().id
    }

    #[test]
    fn resolves_small_integer_id() {
        let ids = ids();
        assert_eq!(
            ids.resolve("2").unwrap(),
            TorrentRef {
                id: 2,
                info_hash: hash(B)
            }
        );
        assert_eq!(resolved_id(&ids, " 3 "), 3);
    }

    #[test]
    fn resolves_full_hash_in_either_case() {
        let ids = ids();
        assert_eq!(resolved_id(&ids, A), 1);
        assert_eq!(resolved_id(&ids, &B.to_uppercase()), 2);
    }

    #[test]
    fn resolves_unique_prefix_of_odd_and_even_length() {
        let ids = ids();
        assert_eq!(resolved_id(&ids, "abcd0"), 1);
        assert_eq!(resolved_id(&ids, "ABCD1"), 2);
        assert_eq!(resolved_id(&ids, "abcd10"), 2);
        assert_eq!(resolved_id(&ids, &C[..39]), 3);
    }

    #[test]
    fn shared_prefix_is_ambiguous_with_count() {
        let mut ids = ids();
        ids.assign(hash("abcd200000000000000000000000000000000003"));
        let err = ids.resolve("abcd").unwrap_err();
        assert_eq!(
            err,
            IdError::Ambiguous {
                prefix: "abcd".into(),
                matches: 3
            }
        );
        assert!(err.to_string().contains("3 torrents"), "{err}");
    }

    #[test]
    fn existing_id_wins_over_hash_prefix_and_missing_id_falls_back_to_prefix() {
        let mut ids = TorrentIds::new(1234);
        assert_eq!(ids.assign(hash(A)), 1234);
        ids.assign(hash(C));
        assert_eq!(resolved_id(&ids, "1234"), 1234);
        ids.remove(1234);
        assert_eq!(ids.resolve("1234").unwrap().info_hash, hash(C));
    }

    #[test]
    fn unknown_short_or_malformed_input_is_not_found_and_explains_forms() {
        let ids = ids();
        for typed in ["", "9", "abc", "ffff", "abcx", &format!("{A}0"), "-1", "abcd!"] {
            assert_eq!(
                ids.resolve(typed),
                Err(IdError::NotFound(typed.trim().into())),
                "{typed:?}"
            );
        }
        let message = ids.resolve("zz").unwrap_err().to_string();
        assert!(message.contains("\"zz\"") && message.contains("btbt list"), "{message}");
    }

    #[test]
    fn removed_ids_are_not_reused() {
        let mut ids = ids();
        assert_eq!(ids.remove(3), Some(hash(C)));
        assert_eq!(ids.remove(3), None);
        assert_eq!(ids.id_of(&hash(C)), None);
        assert_eq!(ids.assign(hash(C)), 4);
        assert_eq!(ids.next_id(), 5);
        assert_eq!(ids.assign(hash(C)), 4, "assigning a known hash keeps its id");
    }

    #[test]
    fn insert_restores_and_moves_next_id_past_it() {
        let mut ids = TorrentIds::new(2);
        ids.insert(7, hash(A)).unwrap();
        ids.insert(7, hash(A)).unwrap();
        assert_eq!(ids.next_id(), 8);
        assert_eq!(
            ids.insert(7, hash(B)),
            Err(IdConflict {
                id: 7,
                info_hash: hash(B)
            })
        );
        assert!(ids.insert(9, hash(A)).is_err());
        assert!(ids.insert(0, hash(B)).is_err());
        assert_eq!(ids.assign(hash(B)), 8);
        let listed: Vec<u32> = ids.iter().map(|t| t.id).collect();
        assert_eq!(listed, vec![7, 8]);
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn errors_map_to_api_statuses() {
        assert_eq!(ApiError::from(IdError::NotFound("x".into())).status, 404);
        let ambiguous = IdError::Ambiguous {
            prefix: "abcd".into(),
            matches: 2,
        };
        assert_eq!(ApiError::from(ambiguous).status, 400);
    }
}
