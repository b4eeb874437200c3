//! Creating `.torrent` files.
//!
//! The info dictionary holds exactly the keys mktorrent 1.1 writes, so a torrent made
//! here from the same files and piece length has the same info-hash as mktorrent's and
//! both swarms are one. The caller reads the files and supplies the piece hashes
//! ([`PieceHasher`] helps); this module does no I/O.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

use crate::bencode::{encode, Value};
use crate::metainfo::{Metainfo, MetainfoError, MAX_PIECE_LENGTH};
use crate::path_sanitizer::sanitize_component;

/// Smallest piece length [`default_piece_length`] picks.
pub const MIN_DEFAULT_PIECE_LENGTH: u32 = 16 * 1024;
/// Largest piece length [`default_piece_length`] picks.
pub const MAX_DEFAULT_PIECE_LENGTH: u32 = 16 * 1024 * 1024;

/// Everything needed to write a v1 `.torrent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetainfoBuilder {
    /// The file name (single file) or root directory name (multi-file).
    pub name: String,
    /// `(path components below the root, length)` in torrent order (the caller sorts).
    /// A single file is one entry with no components; a directory, even one holding a
    /// single file, has components for every entry.
    pub files: Vec<(Vec<String>, u64)>,
    /// Bytes per piece.
    pub piece_length: u32,
    /// SHA-1 of each piece of the concatenated file data.
    pub piece_hashes: Vec<[u8; 20]>,
    /// Tracker tiers: `announce` is the first URL; `announce-list` is written only
    /// when there is more than one URL in all, as mktorrent does.
    pub announce_tiers: Vec<Vec<String>>,
    /// Sets `private` (BEP 27) in the info dictionary.
    pub private: bool,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    /// Web seeds (BEP 19): one is written as a string, several as a list.
    pub url_list: Vec<String>,
}

impl MetainfoBuilder {
    /// A builder for a torrent called `name` with everything else empty.
    pub fn new(name: impl Into<String>) -> Self {
        MetainfoBuilder {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Total length of all files.
    pub fn total_length(&self) -> u64 {
        self.files.iter().fold(0u64, |acc, (_, len)| acc.saturating_add(*len))
    }

    /// Writes the `.torrent` bytes, after checking that the result is a torrent
    /// [`Metainfo::from_bytes`] accepts (safe, unique paths; matching piece count).
    pub fn build(&self) -> Result<Vec<u8>, MetainfoError> {
        let info = self.info_value()?;
        let mut root = BTreeMap::new();

        let urls: Vec<&String> = self.announce_tiers.iter().flatten().filter(|u| !u.is_empty()).collect();
        if let Some(first) = urls.first() {
            root.insert(b"announce".to_vec(), Value::string(first));
        }
        if urls.len() > 1 {
            let tiers = self
                .announce_tiers
                .iter()
                .map(|tier| {
                    tier.iter()
                        .filter(|u| !u.is_empty())
                        .map(|u| Value::string(u))
                        .collect::<Vec<_>>()
                })
                .filter(|tier| !tier.is_empty())
                .map(Value::List)
                .collect();
            root.insert(b"announce-list".to_vec(), Value::List(tiers));
        }
        if let Some(c) = &self.comment {
            root.insert(b"comment".to_vec(), Value::string(c));
        }
        if let Some(c) = &self.created_by {
            root.insert(b"created by".to_vec(), Value::string(c));
        }
        if let Some(d) = self.creation_date {
            root.insert(b"creation date".to_vec(), Value::Int(d));
        }
        root.insert(b"info".to_vec(), info);
        match self.url_list.as_slice() {
            [] => {}
            [one] => {
                root.insert(b"url-list".to_vec(), Value::string(one));
            }
            many => {
                let list = many.iter().map(|u| Value::string(u)).collect();
                root.insert(b"url-list".to_vec(), Value::List(list));
            }
        }

        let bytes = encode(&Value::Dict(root));
        Metainfo::from_bytes(&bytes)?;
        Ok(bytes)
    }

    /// The info dictionary, with exactly mktorrent's keys.
    fn info_value(&self) -> Result<Value, MetainfoError> {
        let invalid = |field: &str, reason: String| MetainfoError::InvalidField {
            field: field.to_string(),
            reason,
        };
        if self.name.is_empty() {
            return Err(invalid("info.name", "empty".into()));
        }
        if sanitize_component(self.name.as_bytes()).is_err() {
            return Err(MetainfoError::UnsafePath {
                path: self.name.clone(),
            });
        }
        if !(1..=MAX_PIECE_LENGTH).contains(&self.piece_length) {
            return Err(invalid(
                "info.piece length",
                format!("{} is outside 1..={MAX_PIECE_LENGTH}", self.piece_length),
            ));
        }
        let total = self
            .files
            .iter()
            .try_fold(0u64, |acc, (_, len)| acc.checked_add(*len))
            .ok_or_else(|| invalid("info.files", "total length overflows 64 bits".into()))?;
        if total == 0 {
            return Err(MetainfoError::EmptyTorrent);
        }
        let expected = piece_count(total, self.piece_length);
        if self.piece_hashes.len() != expected as usize {
            return Err(invalid(
                "info.pieces",
                format!(
                    "{} piece hashes, but {total} bytes in pieces of {} need {expected}",
                    self.piece_hashes.len(),
                    self.piece_length
                ),
            ));
        }

        let mut info = BTreeMap::new();
        match self.files.as_slice() {
            [(path, len)] if path.is_empty() => {
                info.insert(b"length".to_vec(), int(*len)?);
            }
            files => {
                let mut list = Vec::with_capacity(files.len());
                for (i, (path, len)) in files.iter().enumerate() {
                    if path.is_empty() {
                        return Err(invalid(
                            &format!("info.files[{i}].path"),
                            "empty path in a multi-file torrent".into(),
                        ));
                    }
                    let path = path.iter().map(|c| Value::string(c)).collect();
                    list.push(Value::dict([("length", int(*len)?), ("path", Value::List(path))]));
                }
                info.insert(b"files".to_vec(), Value::List(list));
            }
        }
        info.insert(b"name".to_vec(), Value::string(&self.name));
        info.insert(b"piece length".to_vec(), Value::Int(i64::from(self.piece_length)));
        info.insert(b"pieces".to_vec(), Value::Bytes(self.piece_hashes.concat()));
        if self.private {
            info.insert(b"private".to_vec(), Value::Int(1));
        }
        Ok(Value::Dict(info))
    }
}

/// A file length as a bencode integer (bencode integers are signed 64-bit).
fn int(len: u64) -> Result<Value, MetainfoError> {
    i64::try_from(len)
        .map(Value::Int)
        .map_err(|_| MetainfoError::InvalidField {
            field: "info.files".into(),
            reason: format!("length {len} does not fit a bencode integer"),
        })
}

/// Number of pieces of `piece_length` bytes needed for `total_length` bytes
/// (0 when `piece_length` is 0; saturates at `u32::MAX`).
pub fn piece_count(total_length: u64, piece_length: u32) -> u32 {
    if piece_length == 0 {
        return 0;
    }
    u32::try_from(total_length.div_ceil(u64::from(piece_length))).unwrap_or(u32::MAX)
}

/// A power-of-two piece length giving about 1000 to 2000 pieces, within
/// [`MIN_DEFAULT_PIECE_LENGTH`]..=[`MAX_DEFAULT_PIECE_LENGTH`]: fewer pieces mean a
/// smaller .torrent, more mean finer-grained verification and sharing.
pub fn default_piece_length(total_length: u64) -> u32 {
    let wanted = total_length
        .div_ceil(2000)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX);
    let clamped = wanted.clamp(u64::from(MIN_DEFAULT_PIECE_LENGTH), u64::from(MAX_DEFAULT_PIECE_LENGTH));
    u32::try_from(clamped).unwrap_or(MAX_DEFAULT_PIECE_LENGTH)
}

/// SHA-1 of each `piece_length` chunk of `data` (the last may be short).
pub fn hash_pieces(data: &[u8], piece_length: u32) -> Vec<[u8; 20]> {
    let mut hasher = PieceHasher::new(piece_length);
    hasher.update(data);
    hasher.finish()
}

/// Hashes the concatenated file data into pieces as it streams past, so a caller can
/// feed files one after the other in whatever chunks it reads them.
#[derive(Debug, Clone)]
pub struct PieceHasher {
    piece_length: u64,
    current: Sha1,
    filled: u64,
    hashes: Vec<[u8; 20]>,
}

impl PieceHasher {
    /// A hasher for pieces of `piece_length` bytes (0 is treated as 1).
    pub fn new(piece_length: u32) -> Self {
        PieceHasher {
            piece_length: u64::from(piece_length.max(1)),
            current: Sha1::new(),
            filled: 0,
            hashes: Vec::new(),
        }
    }

    /// Feeds the next bytes of the torrent's data.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = self.piece_length - self.filled;
            let take = usize::try_from(room).map_or(data.len(), |r| r.min(data.len()));
            let (now, rest) = data.split_at(take);
            self.current.update(now);
            self.filled += take as u64;
            data = rest;
            if self.filled == self.piece_length {
                let done = std::mem::replace(&mut self.current, Sha1::new());
                self.hashes.push(done.finalize().into());
                self.filled = 0;
            }
        }
    }

    /// The piece hashes, including a short last piece.
    pub fn finish(mut self) -> Vec<[u8; 20]> {
        if self.filled > 0 {
            self.hashes.push(self.current.finalize().into());
        }
        self.hashes
    }
}

#[cfg(test)]
mod tests;
