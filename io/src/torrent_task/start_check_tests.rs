//! A start from a resume record: what is trusted, what is read, what cancels it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::{hash_pieces, MetainfoBuilder};

use super::start_check::{open_and_check, CheckCancel, StartError};
use crate::resume::{current_stamps, stamps_for_record, ResumeRecord, StampedFile};
use crate::storage::Preallocation;
use crate::test_executor::run;

const PL: u32 = 16 * 1024;

/// A torrent "t" of two files, a.bin (4 pieces) and b.bin (4 pieces), written
/// complete below `dir`.
fn two_file_torrent(dir: &Path) -> Metainfo {
    let len = 4 * PL as u64;
    let data: Vec<u8> = (0..2 * len).map(|i| (i * 13 % 251) as u8).collect();
    let bytes = MetainfoBuilder {
        files: vec![(vec!["a.bin".into()], len), (vec!["b.bin".into()], len)],
        piece_length: PL,
        piece_hashes: hash_pieces(&data, PL),
        ..MetainfoBuilder::new("t")
    }
    .build()
    .unwrap();
    let meta = Metainfo::from_bytes(&bytes).unwrap();
    let mut off = 0usize;
    for f in &meta.info.files {
        let full = dir.join(&f.path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, &data[off..off + f.length as usize]).unwrap();
        off += f.length as usize;
    }
    meta
}

/// The record a run would take now: `have` as given, stamps of the files.
fn record_now(dir: &Path, meta: &Metainfo, have: Vec<u8>) -> ResumeRecord {
    let stamped: Vec<StampedFile<'_>> = meta
        .info
        .files
        .iter()
        .map(|f| StampedFile {
            path: &f.path,
            padding: f.padding,
        })
        .collect();
    ResumeRecord {
        have,
        files: stamps_for_record(&current_stamps(dir, &stamped)),
    }
}

/// Overwrites `len` bytes at `offset` of `path` with 0xff, keeping its mtime (as
/// if the disk had rotted under a record): only a start that reads the data sees it.
fn corrupt_keeping_mtime(path: &Path, offset: u64, len: usize) {
    use std::os::unix::fs::FileExt;
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&vec![0xff; len], offset).unwrap();
    f.set_modified(mtime).unwrap();
}

/// Rewrites `path` with its own bytes and a later mtime: changed for a record.
fn touch_later(path: &Path) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5)).unwrap();
}

#[test]
fn pieces_of_unchanged_files_are_trusted_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let meta = two_file_torrent(&root);
        let cancel = CheckCancel::default();
        let first = open_and_check(&meta, &root, Preallocation::Sparse, None, &cancel)
            .await
            .unwrap();
        assert_eq!(first.have.count_ones(), 8);
        assert_eq!((first.summary.trusted_pieces, first.summary.hashed_pieces), (0, 8));
        first.storage.close().await.unwrap();
        let record = record_now(&root, &meta, first.have.as_bytes().to_vec());

        // Piece 1 rots on disk with its mtime kept: a trusting start does not see it.
        corrupt_keeping_mtime(&root.join(&meta.info.files[0].path), u64::from(PL), 100);
        let again = open_and_check(&meta, &root, Preallocation::Sparse, Some(&record), &cancel)
            .await
            .unwrap();
        assert_eq!(again.summary.trusted_pieces, 8);
        assert_eq!(again.summary.hashed_pieces, 0, "no piece read");
        assert_eq!(again.summary.changed_files, 0);
        assert_eq!(again.summary.record_problem, None);
        assert_eq!(again.have.count_ones(), 8, "taken from the record");
        again.storage.close().await.unwrap();
    });
}

#[test]
fn a_changed_file_is_rechecked_alone_and_pieces_missing_from_the_record_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let meta = two_file_torrent(&root);
        let cancel = CheckCancel::default();
        // The record has pieces 0..=2 and 4..=7: piece 3 was verified after it.
        let record = record_now(&root, &meta, vec![0b1110_1111]);
        touch_later(&root.join(&meta.info.files[1].path));
        let checked = open_and_check(&meta, &root, Preallocation::Sparse, Some(&record), &cancel)
            .await
            .unwrap();
        let s = &checked.summary;
        assert_eq!(s.changed_files, 1);
        assert_eq!(s.trusted_pieces, 3, "pieces 0..=2 of the unchanged a.bin");
        assert_eq!(s.hashed_pieces, 5, "piece 3 (not in the record) and b.bin's four");
        assert_eq!(checked.have.count_ones(), 8, "the data is good: all verified");
        checked.storage.close().await.unwrap();
    });
}

#[test]
fn a_record_that_does_not_fit_is_ignored_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let meta = two_file_torrent(&root);
        let mut record = record_now(&root, &meta, vec![0xff, 0xff]);
        let checked = open_and_check(
            &meta,
            &root,
            Preallocation::Sparse,
            Some(&record),
            &CheckCancel::default(),
        )
        .await
        .unwrap();
        let why = checked.summary.record_problem.clone().expect("a reason");
        assert!(why.contains("bitfield"), "{why}");
        assert_eq!((checked.summary.trusted_pieces, checked.summary.hashed_pieces), (0, 8));
        checked.storage.close().await.unwrap();

        record.have = vec![0xff];
        record.files.pop();
        let checked = open_and_check(
            &meta,
            &root,
            Preallocation::Sparse,
            Some(&record),
            &CheckCancel::default(),
        )
        .await
        .unwrap();
        let why = checked.summary.record_problem.clone().expect("a reason");
        assert!(why.contains("1 files") && why.contains("has 2"), "{why}");
        assert_eq!(checked.summary.hashed_pieces, 8);
        checked.storage.close().await.unwrap();
    });
}

#[test]
fn a_cancelled_check_stops_before_its_next_piece() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let meta = two_file_torrent(&root);
        let cancel = CheckCancel::default();
        cancel.cancel();
        let result = open_and_check(&meta, &root, Preallocation::Sparse, None, &cancel).await;
        assert!(matches!(result, Err(StartError::Cancelled { ref name }) if name == "t"));

        // Cancelled after three pieces: asked once more, then nothing.
        let first = open_and_check(&meta, &root, Preallocation::Sparse, None, &CheckCancel::default())
            .await
            .unwrap();
        let none = ccbt_engine::Bitfield::new(8);
        let mut asked = Vec::new();
        let outcome = first
            .storage
            .recheck_trusting(&meta.info.piece_hashes, &none, |checked| {
                asked.push(checked);
                checked >= 3
            })
            .await
            .unwrap();
        assert_eq!(outcome, None);
        assert_eq!(asked, vec![0, 1, 2, 3], "no piece after the cancel");
        first.storage.close().await.unwrap();
    });
}
