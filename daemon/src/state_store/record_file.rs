//! The byte format of a state file: a fixed header, then an rkyv archive.
//!
//! ```text
//! offset  size  field
//!  0       8    magic: which kind of file ("CCBTSESS", "CCBTRSUM")
//!  8       4    format version, little endian
//! 12       8    payload length, little endian
//! 20      20    SHA-1 of the payload
//! 40       …    payload: rkyv archive of the record
//! ```
//!
//! The magic tells a session file from a resume file (or from anything else),
//! the version a future format from this one, and the digest a flipped bit that
//! rkyv's validation would accept (inside a number) from a good record. The
//! archive is validated by bytecheck on load; nothing is read unchecked.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// The format of every state file this build writes. Version 2 added the idle
/// seeding limit to the session; version 1 session files are still read (see
/// `records_v1.rs`), and resume records are the same in both.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format this build still reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;
pub(crate) const HEADER_LEN: usize = 40;
const MAGIC_LEN: usize = 8;
const DIGEST_LEN: usize = 20;

/// Which record a file holds; each has its own magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Session,
    Resume,
}

impl RecordKind {
    fn magic(self) -> &'static [u8; MAGIC_LEN] {
        match self {
            RecordKind::Session => b"CCBTSESS",
            RecordKind::Resume => b"CCBTRSUM",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            RecordKind::Session => "session file",
            RecordKind::Resume => "resume record",
        }
    }
}

/// Why the bytes of a state file are not a good record of this build's format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("truncated: {len} bytes, the header alone needs {HEADER_LEN}")]
    ShorterThanHeader { len: usize },
    #[error("not a ccbt {expected}: wrong magic bytes")]
    BadMagic { expected: &'static str },
    #[error("format version {found}, this build reads versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION}")]
    UnsupportedVersion { found: u32 },
    #[error("truncated or extended: header says {declared} payload bytes, file has {actual}")]
    LengthMismatch { declared: u64, actual: usize },
    #[error("checksum mismatch: the content was damaged")]
    ChecksumMismatch,
    #[error("over the size limit: {len} bytes, at most {max}")]
    TooLarge { len: u64, max: u64 },
    #[error("archive failed validation: {0}")]
    Invalid(String),
}

/// Serializes `value` as a complete state file of `kind`.
pub(crate) fn encode<T>(kind: RecordKind, value: &T) -> Result<Vec<u8>, rancor::Error>
where
    T: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
{
    let payload = rkyv::to_bytes::<rancor::Error>(value)?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(kind.magic());
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha1::digest(&payload));
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Checks the header and the digest, then validates and deserializes the
/// archive, whatever readable version it has (for records whose type did not
/// change between versions). Any input gives a value or an error, never a panic.
pub(crate) fn decode<T>(kind: RecordKind, bytes: &[u8]) -> Result<T, RecordError>
where
    T: Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>> + Deserialize<T, HighDeserializer<rancor::Error>>,
{
    let (_version, payload) = checked_payload(kind, bytes)?;
    decode_payload(payload)
}

/// Checks the header and the digest; returns the format version and the payload
/// for the caller to decode as that version's type.
pub(crate) fn checked_payload(kind: RecordKind, bytes: &[u8]) -> Result<(u32, &[u8]), RecordError> {
    if bytes.len() < HEADER_LEN {
        return Err(RecordError::ShorterThanHeader { len: bytes.len() });
    }
    let (header, payload) = bytes.split_at(HEADER_LEN);
    let (magic, rest) = header.split_at(MAGIC_LEN);
    let (version, rest) = rest.split_at(4);
    let (declared, digest) = rest.split_at(8);
    if magic != kind.magic() {
        return Err(RecordError::BadMagic {
            expected: kind.describe(),
        });
    }
    let version = u32::from_le_bytes(
        version
            .try_into()
            .map_err(|_| RecordError::ShorterThanHeader { len: bytes.len() })?,
    );
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(RecordError::UnsupportedVersion { found: version });
    }
    let declared = u64::from_le_bytes(
        declared
            .try_into()
            .map_err(|_| RecordError::ShorterThanHeader { len: bytes.len() })?,
    );
    if declared != payload.len() as u64 {
        return Err(RecordError::LengthMismatch {
            declared,
            actual: payload.len(),
        });
    }
    debug_assert_eq!(digest.len(), DIGEST_LEN);
    if Sha1::digest(payload).as_slice() != digest {
        return Err(RecordError::ChecksumMismatch);
    }
    Ok((version, payload))
}

/// Validates and deserializes an archive; rkyv needs it aligned, so it is
/// copied into an aligned buffer first.
pub(crate) fn decode_payload<T>(payload: &[u8]) -> Result<T, RecordError>
where
    T: Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>> + Deserialize<T, HighDeserializer<rancor::Error>>,
{
    let mut aligned = AlignedVec::<16>::with_capacity(payload.len());
    aligned.extend_from_slice(payload);
    rkyv::from_bytes::<T, rancor::Error>(&aligned).map_err(|e| RecordError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_store::records::{FileStamp, ResumeFile};
    use proptest::prelude::*;

    fn resume() -> ResumeFile {
        ResumeFile {
            have: vec![0xff, 0x80],
            files: vec![FileStamp {
                length: 1 << 33,
                mtime_secs: 1_700_000_000,
                mtime_nanos: 5,
            }],
        }
    }

    fn with_digest(mut file: Vec<u8>) -> Vec<u8> {
        let digest = Sha1::digest(&file[HEADER_LEN..]);
        file[20..40].copy_from_slice(&digest);
        file
    }

    #[test]
    fn round_trip() {
        let bytes = encode(RecordKind::Resume, &resume()).unwrap();
        assert_eq!(&bytes[..8], b"CCBTRSUM");
        assert_eq!(decode::<ResumeFile>(RecordKind::Resume, &bytes).unwrap(), resume());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(RecordKind::Resume, &resume()).unwrap();
        for len in 0..bytes.len() {
            let err = decode::<ResumeFile>(RecordKind::Resume, &bytes[..len]).unwrap_err();
            if len < HEADER_LEN {
                assert_eq!(err, RecordError::ShorterThanHeader { len });
            } else {
                assert!(matches!(err, RecordError::LengthMismatch { .. }), "{len}: {err:?}");
            }
        }
    }

    #[test]
    fn every_single_bit_flip_is_an_error() {
        let bytes = encode(RecordKind::Resume, &resume()).unwrap();
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            assert!(decode::<ResumeFile>(RecordKind::Resume, &damaged).is_err(), "bit {i}");
        }
    }

    #[test]
    fn wrong_magic_and_other_kind_are_refused() {
        let session_magic = encode(RecordKind::Resume, &resume()).unwrap();
        let err = decode::<ResumeFile>(RecordKind::Session, &session_magic).unwrap_err();
        assert_eq!(
            err,
            RecordError::BadMagic {
                expected: "session file"
            }
        );
        assert!(err.to_string().contains("session file"));
    }

    #[test]
    fn other_version_is_refused_and_named() {
        let mut bytes = encode(RecordKind::Resume, &resume()).unwrap();
        for version in [0, FORMAT_VERSION + 1] {
            bytes[8..12].copy_from_slice(&version.to_le_bytes());
            let err = decode::<ResumeFile>(RecordKind::Resume, &bytes).unwrap_err();
            assert_eq!(err, RecordError::UnsupportedVersion { found: version });
            assert!(err.to_string().contains(&format!("version {version}")), "{err}");
        }
    }

    #[test]
    fn payload_with_good_digest_but_bad_archive_fails_validation() {
        let mut bytes = encode(RecordKind::Resume, &resume()).unwrap();
        // The root's relative pointer sits at the end of the archive: point it far away.
        let end = bytes.len();
        for b in &mut bytes[end - 8..] {
            *b = 0x7f;
        }
        let err = decode::<ResumeFile>(RecordKind::Resume, &with_digest(bytes)).unwrap_err();
        assert!(matches!(err, RecordError::Invalid(_)), "{err:?}");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode::<ResumeFile>(RecordKind::Resume, &bytes);
        }

        /// Random archives behind a valid header reach rkyv's validator itself.
        #[test]
        fn random_payload_behind_valid_header_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut file = encode(RecordKind::Resume, &resume()).unwrap();
            file.truncate(HEADER_LEN);
            file[12..20].copy_from_slice(&(payload.len() as u64).to_le_bytes());
            file.extend_from_slice(&payload);
            let _ = decode::<ResumeFile>(RecordKind::Resume, &with_digest(file));
        }
    }
}
