//! `.torrent` parsing: a whole file (`Metainfo::from_bytes`) and a bare info dictionary
//! as fetched from peers over ut_metadata (`Metainfo::from_info_bytes`).
//!
//! Properties: nothing panics; no allocation is sized by a claimed length; an accepted
//! torrent is self-consistent (info-hash is the SHA-1 of the info bytes, which parse to
//! the same info on their own; pieces cover the files exactly; files are contiguous;
//! every path is relative and free of `..`).

#![no_main]

use std::path::Component;

use ccbt_engine::metainfo::{Metainfo, MAX_PIECE_LENGTH};
use ccbt_engine::PieceIndex;
use ccbt_fuzz::assert_bounded_allocation;
use libfuzzer_sys::fuzz_target;
use sha1::{Digest, Sha1};

fn check(m: &Metainfo) {
    assert_eq!(
        m.info_hash.0,
        <[u8; 20]>::from(Sha1::digest(&m.info_bytes)),
        "info-hash"
    );
    let info = &m.info;
    assert!((1..=MAX_PIECE_LENGTH).contains(&info.piece_length));
    assert!(info.total_length > 0);
    assert!(!info.files.is_empty());
    if info.single_file {
        assert_eq!(info.files.len(), 1);
        assert_eq!(info.files[0].path.as_os_str(), info.name.as_str());
    }
    let mut offset = 0u64;
    for f in &info.files {
        assert_eq!(f.offset, offset, "files are contiguous");
        offset += f.length;
        assert!(
            f.path.components().all(|c| matches!(c, Component::Normal(_))),
            "unsafe path {:?}",
            f.path
        );
    }
    assert_eq!(offset, info.total_length);
    let n = m.num_pieces();
    assert_eq!(usize::try_from(n).ok(), Some(info.piece_hashes.len()));
    assert_eq!(u64::from(n), info.total_length.div_ceil(u64::from(info.piece_length)));
    let last = PieceIndex(n - 1);
    let covered = u64::from(n - 1) * u64::from(info.piece_length) + u64::from(m.piece_size(last));
    assert_eq!(covered, info.total_length, "pieces cover the files exactly");
    assert!(m.piece_size(last) > 0 && m.piece_hash(last).is_some());
    assert_eq!(m.piece_size(PieceIndex(n)), 0);
    assert!(m.piece_hash(PieceIndex(n)).is_none());

    let alone = Metainfo::from_info_bytes(&m.info_bytes).expect("the info bytes of a valid torrent parse alone");
    assert_eq!(alone.info, m.info);
    assert_eq!(alone.info_hash, m.info_hash);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = assert_bounded_allocation("Metainfo::from_bytes", data.len(), || Metainfo::from_bytes(data)) {
        check(&m);
    }
    if let Ok(m) = assert_bounded_allocation("Metainfo::from_info_bytes", data.len(), || {
        Metainfo::from_info_bytes(data)
    }) {
        check(&m);
        assert_eq!(m.info_bytes, data);
    }
});
