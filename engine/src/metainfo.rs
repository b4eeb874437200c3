//! v1 metainfo (`.torrent` files, BEP 3) with BEP 12 tracker tiers, BEP 19 web seeds
//! and BEP 47 padding files.
//!
//! Parsing is strict about everything that decides what gets downloaded and where it
//! is written (the info dictionary, tracker lists) and names the offending field in
//! every error, so a user can tell what is wrong with a file. Purely informational
//! fields (`comment`, `created by`, `creation date`) are ignored when mistyped: other
//! clients accept such files and refusing a download over a comment helps no one.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use sha1::{Digest, Sha1};

use crate::bencode::{self, BencodeError, Value};
use crate::path_sanitizer::{display_path, sanitize_component, sanitize_path, PathError};
use crate::types::{InfoHash, PieceIndex};

/// Largest accepted `piece length`: 256 MiB, beyond what any client creates, and a
/// bound on the memory one piece needs while it is assembled and hashed.
pub const MAX_PIECE_LENGTH: u32 = 256 * 1024 * 1024;

/// A parsed v1 `.torrent` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// SHA-1 of `info_bytes`.
    pub info_hash: InfoHash,
    /// The parsed info dictionary.
    pub info: Info,
    /// The info dictionary exactly as it appears in the file (served to ut_metadata peers).
    pub info_bytes: Vec<u8>,
    /// `announce`: the primary tracker, if any.
    pub announce: Option<String>,
    /// `announce-list` (BEP 12): tiers of tracker URLs; empty strings and tiers dropped.
    pub announce_list: Vec<Vec<String>>,
    /// `url-list` (BEP 19): web seed URLs.
    pub url_list: Vec<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
}

/// The info dictionary: what identifies the torrent's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Sanitized `name` (or `name.utf-8`): the file name, or the root directory name.
    pub name: String,
    /// `piece length` in bytes, 1..=[`MAX_PIECE_LENGTH`].
    pub piece_length: u32,
    /// SHA-1 of each piece, in order; shared (not copied) with the running torrent.
    pub piece_hashes: Arc<[[u8; 20]]>,
    /// Files in torrent order; a single-file torrent has exactly one.
    pub files: Vec<FileEntry>,
    /// `private` (BEP 27): peers only from the trackers, no DHT or PEX.
    pub private: bool,
    /// Sum of all file lengths, padding files included.
    pub total_length: u64,
    /// True when the torrent uses `length` rather than `files`.
    pub single_file: bool,
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Safe relative path: the torrent name for a single-file torrent, otherwise the
    /// torrent name followed by the file's own components.
    pub path: PathBuf,
    /// Length in bytes (may be 0).
    pub length: u64,
    /// Offset of the file's first byte in the concatenated torrent data.
    pub offset: u64,
    /// BEP 47 padding file (`attr` contains `p`): its bytes are zeros and it is never
    /// written to disk.
    pub padding: bool,
}

/// Why a `.torrent` was refused (or could not be built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    /// The file is not valid bencode.
    #[error("invalid bencode: {0}")]
    Bencode(#[from] BencodeError),
    /// The file is bencode but not a dictionary.
    #[error("torrent is not a bencoded dictionary")]
    NotADictionary,
    /// A required field is absent.
    #[error("missing field `{field}`")]
    MissingField {
        /// Dotted path of the field, e.g. `info.files[3].length`.
        field: String,
    },
    /// A field has the wrong bencode type.
    #[error("field `{field}` has the wrong type: expected {expected}")]
    WrongType {
        /// Dotted path of the field.
        field: String,
        /// The type the field must have.
        expected: &'static str,
    },
    /// A field has the right type but an unacceptable value.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// Dotted path of the field.
        field: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// A file name or path that could escape the download directory.
    #[error("unsafe file path in torrent: {path}")]
    UnsafePath {
        /// The path as written in the torrent, components joined with '/'.
        path: String,
    },
    /// Two files with the same path.
    #[error("duplicate file path in torrent: {path}")]
    DuplicatePath {
        /// The repeated path (after sanitizing).
        path: String,
    },
    /// A path used both as a file and as a directory.
    #[error("file path in torrent is also used as a directory: {path}")]
    PathConflict {
        /// The path of the file that another file's path goes through.
        path: String,
    },
    /// All files are empty, so there is nothing to download or verify.
    #[error("torrent contains no data: the total length of its files is 0")]
    EmptyTorrent,
}

type Dict = BTreeMap<Vec<u8>, Value>;

/// Dotted field name: `prefix.key`, or just `key` at the top level.
fn field_name(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn missing(prefix: &str, key: &str) -> MetainfoError {
    MetainfoError::MissingField {
        field: field_name(prefix, key),
    }
}

fn wrong_type(field: String, expected: &'static str) -> MetainfoError {
    MetainfoError::WrongType { field, expected }
}

fn invalid(field: String, reason: impl Into<String>) -> MetainfoError {
    MetainfoError::InvalidField {
        field,
        reason: reason.into(),
    }
}

fn get_int(d: &Dict, prefix: &str, key: &str) -> Result<Option<i64>, MetainfoError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Int(n)) => Ok(Some(*n)),
        Some(_) => Err(wrong_type(field_name(prefix, key), "an integer")),
    }
}

fn get_bytes<'a>(d: &'a Dict, prefix: &str, key: &str) -> Result<Option<&'a [u8]>, MetainfoError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b)),
        Some(_) => Err(wrong_type(field_name(prefix, key), "a byte string")),
    }
}

fn get_list<'a>(d: &'a Dict, prefix: &str, key: &str) -> Result<Option<&'a [Value]>, MetainfoError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(wrong_type(field_name(prefix, key), "a list")),
    }
}

/// The byte strings of a list, or an error naming the first element that is not one.
fn byte_strings(items: &[Value], field: &str) -> Result<Vec<Vec<u8>>, MetainfoError> {
    items
        .iter()
        .enumerate()
        .map(|(j, v)| match v {
            Value::Bytes(b) => Ok(b.clone()),
            _ => Err(wrong_type(format!("{field}[{j}]"), "a byte string")),
        })
        .collect()
}

/// `key.utf-8` when it is a well-formed byte string, otherwise `key`: the UTF-8 variant
/// is an optional hint some clients add, so a broken one falls back to the original.
fn preferred_bytes<'a>(d: &'a Dict, prefix: &str, key: &str) -> Result<&'a [u8], MetainfoError> {
    if let Some(Value::Bytes(b)) = d.get(format!("{key}.utf-8").as_bytes()) {
        return Ok(b);
    }
    get_bytes(d, prefix, key)?.ok_or_else(|| missing(prefix, key))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A string field whose absence or wrong type is tolerated.
fn informational(d: &Dict, key: &str) -> Option<String> {
    let v = d
        .get(format!("{key}.utf-8").as_bytes())
        .and_then(Value::as_bytes)
        .or_else(|| d.get(key.as_bytes()).and_then(Value::as_bytes))?;
    Some(lossy(v))
}

impl Metainfo {
    /// Parses and validates a `.torrent` file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        let root = bencode::decode(bytes)?;
        let dict = root.as_dict().ok_or(MetainfoError::NotADictionary)?;
        let info_dict = match dict.get(&b"info"[..]) {
            None => return Err(missing("", "info")),
            Some(Value::Dict(d)) => d,
            Some(_) => return Err(wrong_type("info".into(), "a dictionary")),
        };
        let info = Info::from_dict(info_dict)?;
        let info_bytes = bencode::find_dict_value_span(bytes, b"info")?
            .ok_or_else(|| missing("", "info"))?
            .to_vec();
        let info_hash = InfoHash(Sha1::digest(&info_bytes).into());

        let announce = get_bytes(dict, "", "announce")?.filter(|b| !b.is_empty()).map(lossy);
        let mut announce_list = Vec::new();
        if let Some(tiers) = get_list(dict, "", "announce-list")? {
            for (t, tier) in tiers.iter().enumerate() {
                let field = format!("announce-list[{t}]");
                let urls = tier.as_list().ok_or_else(|| wrong_type(field.clone(), "a list"))?;
                let urls: Vec<String> = byte_strings(urls, &field)?
                    .iter()
                    .filter(|u| !u.is_empty())
                    .map(|u| lossy(u))
                    .collect();
                if !urls.is_empty() {
                    announce_list.push(urls);
                }
            }
        }
        let url_list = match dict.get(&b"url-list"[..]) {
            None => Vec::new(),
            Some(Value::Bytes(u)) => vec![u.clone()],
            Some(Value::List(l)) => byte_strings(l, "url-list")?,
            Some(_) => return Err(wrong_type("url-list".into(), "a byte string or a list of byte strings")),
        }
        .iter()
        .filter(|u| !u.is_empty())
        .map(|u| lossy(u))
        .collect();

        Ok(Metainfo {
            info_hash,
            info,
            info_bytes,
            announce,
            announce_list,
            url_list,
            comment: informational(dict, "comment"),
            created_by: informational(dict, "created by"),
            creation_date: dict.get(&b"creation date"[..]).and_then(Value::as_int),
        })
    }

    /// Builds a `Metainfo` from a bare info dictionary, as fetched from peers with
    /// ut_metadata (BEP 9); the tracker and informational fields are left empty for the
    /// caller to fill from the magnet link. Compare `info_hash` with the expected one.
    pub fn from_info_bytes(info_bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        let value = bencode::decode(info_bytes)?;
        let dict = value
            .as_dict()
            .ok_or_else(|| wrong_type("info".into(), "a dictionary"))?;
        Ok(Metainfo {
            info_hash: InfoHash(Sha1::digest(info_bytes).into()),
            info: Info::from_dict(dict)?,
            info_bytes: info_bytes.to_vec(),
            announce: None,
            announce_list: Vec::new(),
            url_list: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
        })
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.info.num_pieces()
    }

    /// Length of piece `index` in bytes: `piece_length`, except a shorter last piece;
    /// 0 for an index past the end.
    pub fn piece_size(&self, index: PieceIndex) -> u32 {
        self.info.piece_size(index)
    }

    /// Expected SHA-1 of piece `index`, if it exists.
    pub fn piece_hash(&self, index: PieceIndex) -> Option<&[u8; 20]> {
        self.info.piece_hash(index)
    }
}

impl Info {
    /// Parses and validates an info dictionary.
    pub fn from_dict(d: &Dict) -> Result<Info, MetainfoError> {
        const P: &str = "info";
        let piece_length = get_int(d, P, "piece length")?.ok_or_else(|| missing(P, "piece length"))?;
        let piece_length = match u32::try_from(piece_length) {
            Ok(n) if (1..=MAX_PIECE_LENGTH).contains(&n) => n,
            _ => {
                return Err(invalid(
                    field_name(P, "piece length"),
                    format!("{piece_length} is outside 1..={MAX_PIECE_LENGTH}"),
                ))
            }
        };
        let pieces = get_bytes(d, P, "pieces")?.ok_or_else(|| missing(P, "pieces"))?;
        if pieces.len() % 20 != 0 {
            return Err(invalid(
                field_name(P, "pieces"),
                format!("length {} is not a multiple of 20", pieces.len()),
            ));
        }
        let name_raw = preferred_bytes(d, P, "name")?;
        let name = match sanitize_component(name_raw) {
            Ok(name) => name,
            Err(_) if name_raw.is_empty() => return Err(invalid(field_name(P, "name"), "empty")),
            Err(_) => return Err(MetainfoError::UnsafePath { path: lossy(name_raw) }),
        };
        let private = get_int(d, P, "private")?.is_some_and(|n| n != 0);

        let (files, single_file) = match (get_int(d, P, "length")?, get_list(d, P, "files")?) {
            (Some(_), Some(_)) => return Err(invalid(field_name(P, "files"), "both `length` and `files` are present")),
            (None, None) => {
                return Err(invalid(
                    P.to_string(),
                    "neither `length` (single file) nor `files` (multi-file) is present",
                ))
            }
            (Some(length), None) => {
                let length = u64::try_from(length).map_err(|_| invalid(field_name(P, "length"), "negative"))?;
                let entry = FileEntry {
                    path: PathBuf::from(&name),
                    length,
                    offset: 0,
                    padding: false,
                };
                (vec![entry], true)
            }
            (None, Some(list)) => (parse_files(list, &name)?, false),
        };
        let total_length = files.last().map_or(0, |f| f.offset + f.length);
        if total_length == 0 {
            return Err(MetainfoError::EmptyTorrent);
        }

        let expected = total_length.div_ceil(u64::from(piece_length));
        let actual = pieces.len() / 20;
        if u64::try_from(actual).ok() != Some(expected) || u32::try_from(actual).is_err() {
            return Err(invalid(
                field_name(P, "pieces"),
                format!(
                    "{actual} piece hashes, but {total_length} bytes in pieces of \
                     {piece_length} need {expected}"
                ),
            ));
        }
        let piece_hashes: Arc<[[u8; 20]]> = pieces
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();

        Ok(Info {
            name,
            piece_length,
            piece_hashes,
            files,
            private,
            total_length,
            single_file,
        })
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        // Validated to fit when parsed.
        u32::try_from(self.piece_hashes.len()).unwrap_or(u32::MAX)
    }

    /// Length of piece `index` in bytes: `piece_length`, except a shorter last piece;
    /// 0 for an index past the end.
    pub fn piece_size(&self, index: PieceIndex) -> u32 {
        let n = self.num_pieces();
        if index.0 >= n {
            return 0;
        }
        let start = u64::from(index.0) * u64::from(self.piece_length);
        let len = self
            .total_length
            .saturating_sub(start)
            .min(u64::from(self.piece_length));
        // len <= piece_length, which is a u32.
        u32::try_from(len).unwrap_or(self.piece_length)
    }

    /// Expected SHA-1 of piece `index`, if it exists.
    pub fn piece_hash(&self, index: PieceIndex) -> Option<&[u8; 20]> {
        self.piece_hashes.get(usize::try_from(index.0).ok()?)
    }
}

/// The `files` list of a multi-file torrent, rooted at `name`.
fn parse_files(list: &[Value], name: &str) -> Result<Vec<FileEntry>, MetainfoError> {
    let mut files = Vec::with_capacity(list.len());
    let mut offset: u64 = 0;
    for (i, entry) in list.iter().enumerate() {
        let prefix = format!("info.files[{i}]");
        let fd = entry
            .as_dict()
            .ok_or_else(|| wrong_type(prefix.clone(), "a dictionary"))?;
        let attr = get_bytes(fd, &prefix, "attr")?.unwrap_or_default();
        // BEP 47 lets symlink entries omit their (always zero) length.
        let length = match get_int(fd, &prefix, "length")? {
            Some(n) => n,
            None if attr.contains(&b'l') => 0,
            None => return Err(missing(&prefix, "length")),
        };
        let length = u64::try_from(length).map_err(|_| invalid(field_name(&prefix, "length"), "negative"))?;
        let components = file_path(fd, &prefix)?;
        let padding = attr.contains(&b'p') || is_pad_path(&components, length);
        let rel = sanitize_path(&components).map_err(|e| match e {
            PathError::Empty => invalid(field_name(&prefix, "path"), "empty path"),
            PathError::Unsafe { .. } => MetainfoError::UnsafePath {
                path: display_path(&components),
            },
        })?;
        files.push(FileEntry {
            path: PathBuf::from(name).join(rel),
            length,
            offset,
            padding,
        });
        offset = offset.checked_add(length).ok_or_else(|| {
            invalid(
                field_name(&prefix, "length"),
                "total length of the torrent overflows 64 bits",
            )
        })?;
    }
    check_unique(&files)?;
    Ok(files)
}

/// libtorrent's name for a padding file, `.pad/<its length>`: some tools that add
/// pads this way leave out the `attr` (BEP 47 says a pad's bytes are zeros, so
/// treating such a file as one is safe as long as the name states its length).
fn is_pad_path(components: &[Vec<u8>], length: u64) -> bool {
    match components {
        [dir, name] => dir == b".pad" && name == length.to_string().as_bytes(),
        _ => false,
    }
}

/// Raw components of a file's path: `path.utf-8` when well-formed, else `path`.
fn file_path(fd: &Dict, prefix: &str) -> Result<Vec<Vec<u8>>, MetainfoError> {
    if let Some(Value::List(l)) = fd.get(&b"path.utf-8"[..]) {
        if let Ok(components) = byte_strings(l, "") {
            return Ok(components);
        }
    }
    let list = get_list(fd, prefix, "path")?.ok_or_else(|| missing(prefix, "path"))?;
    byte_strings(list, &field_name(prefix, "path"))
}

/// Refuses two files at one path, and a file whose path another file goes through:
/// either would make two files share bytes on disk. Padding files are never written,
/// and BEP 47 names them by size, so they repeat legitimately.
fn check_unique(files: &[FileEntry]) -> Result<(), MetainfoError> {
    let real = || files.iter().filter(|f| !f.padding);
    let mut seen = HashSet::new();
    for f in real() {
        if !seen.insert(f.path.as_path()) {
            return Err(MetainfoError::DuplicatePath {
                path: f.path.to_string_lossy().into_owned(),
            });
        }
    }
    for f in real() {
        if let Some(dir) = f.path.ancestors().skip(1).find(|a| seen.contains(a)) {
            return Err(MetainfoError::PathConflict {
                path: dir.to_string_lossy().into_owned(),
            });
        }
    }
    Ok(())
}

/// A `.torrent` file made of verified info-dictionary bytes (fetched for a magnet,
/// say) and tracker tiers: `announce` is the first URL, `announce-list` the tiers
/// when there is more than one URL. The info bytes are copied as they are, so the
/// file's info-hash is theirs.
pub fn torrent_file_bytes(info_bytes: &[u8], trackers: &[Vec<String>]) -> Vec<u8> {
    let urls: Vec<&String> = trackers.iter().flatten().collect();
    let mut out = Vec::with_capacity(info_bytes.len() + 64 * urls.len() + 32);
    out.push(b'd');
    if let Some(first) = urls.first() {
        bencode::encode_into(&Value::string("announce"), &mut out);
        bencode::encode_into(&Value::string(first), &mut out);
    }
    if urls.len() > 1 {
        let tiers = trackers
            .iter()
            .filter(|tier| !tier.is_empty())
            .map(|tier| Value::List(tier.iter().map(|u| Value::string(u)).collect()))
            .collect();
        bencode::encode_into(&Value::string("announce-list"), &mut out);
        bencode::encode_into(&Value::List(tiers), &mut out);
    }
    bencode::encode_into(&Value::string("info"), &mut out);
    out.extend_from_slice(info_bytes);
    out.push(b'e');
    out
}

#[cfg(test)]
mod tests;
