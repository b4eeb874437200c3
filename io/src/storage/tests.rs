#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::piece_hasher::sha1_piece;

use crate::test_executor::run;

const PL: u32 = 16 * 1024;

/// Files with a piece crossing boundaries, empty files and a short last piece.
fn files() -> Vec<StorageFile> {
    [
        ("a/one.bin", 20_000u64),
        ("a/empty", 0),
        ("b/two.bin", 13_000),
        ("three", 0),
        ("c/d/four", 30_001),
    ]
    .iter()
    .map(|&(p, l)| StorageFile {
        path: p.into(),
        length: l,
        padding: false,
    })
    .collect()
}

fn content(total: usize) -> Vec<u8> {
    (0..total).map(|i| (i * 31 % 251) as u8).collect()
}

fn total(files: &[StorageFile]) -> usize {
    files.iter().map(|f| f.length as usize).sum()
}

fn piece_bytes(data: &[u8], p: u32) -> &[u8] {
    let start = p as usize * PL as usize;
    &data[start..(start + PL as usize).min(data.len())]
}

fn hashes(data: &[u8]) -> Vec<[u8; 20]> {
    data.chunks(PL as usize).map(sha1_piece).collect()
}

#[test]
fn write_all_pieces_read_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let files = files();
        let data = content(total(&files));
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        let n = st.layout().num_pieces();
        assert_eq!(n, 4);
        assert_eq!(st.created_files().count(), files.len());
        for p in (0..n).rev() {
            st.write_piece(PieceIndex(p), piece_bytes(&data, p)).await.unwrap();
        }
        for p in 0..n {
            let got = st.read_piece(PieceIndex(p)).await.unwrap();
            assert_eq!(&got[..], piece_bytes(&data, p), "piece {p}");
        }
        // A block crossing the a/one.bin -> b/two.bin boundary (at 20000, piece 1).
        let got = st.read(PieceIndex(1), 3000, 1000).await.unwrap();
        assert_eq!(&got[..], &data[PL as usize + 3000..PL as usize + 4000]);
        assert!(
            st.read(PieceIndex(3), 0, PL).await.is_err(),
            "past the short last piece"
        );
        assert!(matches!(
            st.read(PieceIndex(4), 0, 1).await,
            Err(StorageError::PieceOutOfRange { .. })
        ));
        assert!(matches!(
            st.write_piece(PieceIndex(0), &data[..10]).await,
            Err(StorageError::BadRange { .. })
        ));
        st.sync_all().await.unwrap();
        st.close().await.unwrap();
        let mut off = 0;
        for f in &files {
            let on_disk = std::fs::read(root.join(&f.path)).unwrap();
            assert_eq!(on_disk, &data[off..off + f.length as usize], "{:?}", f.path);
            off += f.length as usize;
        }
    });
}

#[test]
fn recheck_finds_exactly_the_written_pieces_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let files = files();
        let data = content(total(&files));
        let want = hashes(&data);
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        // Fresh download: every piece is known missing and nothing is read.
        assert!((0..4).all(|p| st.known_missing(PieceIndex(p))));
        let mut calls = Vec::new();
        let bf = st.recheck(&want, |k| calls.push(k)).await.unwrap();
        assert!(bf.is_none());
        assert_eq!(calls, vec![1, 2, 3, 4]);
        for p in [0, 3] {
            st.write_piece(PieceIndex(p), piece_bytes(&data, p)).await.unwrap();
        }
        // Written in this run: no longer known missing, recheck reads them.
        assert!(!st.known_missing(PieceIndex(0)));
        let bf = st.recheck(&want, |_| {}).await.unwrap();
        assert_eq!(bf.iter_ones().collect::<Vec<_>>(), vec![0, 3]);
        st.close().await.unwrap();

        let st = Storage::open(&root, &files, PL, Preallocation::Full).await.unwrap();
        assert_eq!(st.created_files().count(), 0, "nothing recreated on restart");
        for f in &files {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(root.join(&f.path)).unwrap();
            assert_eq!(m.len(), f.length);
            assert!(m.blocks() * 512 >= f.length, "Full preallocation reserved {:?}", f.path);
        }
        let bf = st.recheck(&want, |_| {}).await.unwrap();
        assert_eq!(bf.iter_ones().collect::<Vec<_>>(), vec![0, 3]);
        assert!(matches!(
            st.recheck(&want[..3], |_| {}).await,
            Err(StorageError::HashCount { expected: 4, got: 3 })
        ));
        st.close().await.unwrap();

        // Corrupt one byte of piece 3 (in c/d/four): it no longer verifies.
        let four = root.join("c/d/four");
        let mut bytes = std::fs::read(&four).unwrap();
        bytes[30_000] ^= 0xff;
        std::fs::write(&four, &bytes).unwrap();
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        let bf = st.recheck(&want, |_| {}).await.unwrap();
        assert_eq!(bf.iter_ones().collect::<Vec<_>>(), vec![0]);
        st.close().await.unwrap();
    });
}

#[test]
fn short_or_deleted_file_reads_missing_and_recheck_skips() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let files = files();
        let data = content(total(&files));
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        for p in 0..4 {
            st.write_piece(PieceIndex(p), piece_bytes(&data, p)).await.unwrap();
        }
        st.close().await.unwrap();
        // Another process truncates a/one.bin and deletes c/d/four.
        std::fs::OpenOptions::new()
            .write(true)
            .open(root.join("a/one.bin"))
            .unwrap()
            .set_len(10_000)
            .unwrap();
        std::fs::remove_file(root.join("c/d/four")).unwrap();
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        assert!(st.created_new(4) && !st.created_new(0));
        // open re-extended a/one.bin sparsely: its tail is known missing.
        assert!(st.known_missing(PieceIndex(0)) && st.known_missing(PieceIndex(1)));
        let bf = st.recheck(&hashes(&data), |_| {}).await.unwrap();
        assert!(bf.is_none(), "{bf:?}");
        // Now shorten behind the storage's back: reads report Missing, not zeros.
        std::fs::OpenOptions::new()
            .write(true)
            .open(root.join("b/two.bin"))
            .unwrap()
            .set_len(100)
            .unwrap();
        let err = st.read(PieceIndex(1), 3000, 1000).await.unwrap_err();
        assert!(err.is_missing(), "{err}");
        // Written in this run, then shortened: recheck reads, meets Missing, and
        // reports those pieces absent instead of failing.
        for p in 0..4 {
            st.write_piece(PieceIndex(p), piece_bytes(&data, p)).await.unwrap();
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(root.join("b/two.bin"))
            .unwrap()
            .set_len(100)
            .unwrap();
        let bf = st.recheck(&hashes(&data), |_| {}).await.unwrap();
        assert_eq!(bf.iter_ones().collect::<Vec<_>>(), vec![0, 3]);
        st.close().await.unwrap();
    });
}

#[test]
fn unsafe_paths_are_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dl");
    run(move || async move {
        for bad in ["../escape.bin", "/tmp/abs.bin", "a/../../x", "./a", ""] {
            let files = vec![
                StorageFile {
                    path: "ok.bin".into(),
                    length: 10,
                    padding: false,
                },
                StorageFile {
                    path: bad.into(),
                    length: 10,
                    padding: false,
                },
            ];
            let err = Storage::open(&root, &files, PL, Preallocation::Sparse).await.err();
            assert!(matches!(err, Some(StorageError::UnsafePath { .. })), "{bad:?}: {err:?}");
            assert!(!root.join("ok.bin").exists(), "validated before creating anything");
        }
        let dup = vec![
            StorageFile {
                path: "x".into(),
                length: 1,
                padding: false,
            },
            StorageFile {
                path: "x".into(),
                length: 1,
                padding: false,
            },
        ];
        let err = Storage::open(&root, &dup, PL, Preallocation::Sparse).await.err();
        assert!(matches!(err, Some(StorageError::DuplicatePath { .. })));
    });
}

#[test]
fn symlinks_inside_the_download_dir_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let out = outside.path().to_path_buf();
    std::os::unix::fs::symlink(&out, root.join("evil")).unwrap();
    std::fs::write(out.join("target.bin"), b"precious").unwrap();
    std::os::unix::fs::symlink(out.join("target.bin"), root.join("link.bin")).unwrap();
    run(move || async move {
        for path in ["evil/x.bin", "evil/sub/y.bin", "link.bin"] {
            let files = vec![StorageFile {
                path: path.into(),
                length: 4096,
                padding: false,
            }];
            for prealloc in [Preallocation::Sparse, Preallocation::Full] {
                let err = Storage::open(&root, &files, PL, prealloc).await.err();
                assert!(
                    matches!(err, Some(StorageError::SymlinkRefused { .. })),
                    "{path}: {err:?}"
                );
            }
        }
        // A link planted after open is refused when the file is (re)opened.
        let files = vec![StorageFile {
            path: "later/z.bin".into(),
            length: PL as u64,
            padding: false,
        }];
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        std::fs::remove_file(root.join("later/z.bin")).unwrap();
        std::fs::remove_dir(root.join("later")).unwrap();
        std::os::unix::fs::symlink(&out, root.join("later")).unwrap();
        let err = st
            .write_piece(PieceIndex(0), &vec![1u8; PL as usize])
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::SymlinkRefused { .. }), "{err}");
        st.close().await.unwrap();
    });
    let names: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("target.bin")],
        "nothing written outside"
    );
    assert_eq!(std::fs::read(outside.path().join("target.bin")).unwrap(), b"precious");
}

#[test]
fn open_files_stay_bounded_with_many_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        // 300 files of 100 bytes, pieces of 1000 bytes: each piece spans 10 files.
        let files: Vec<StorageFile> = (0..300)
            .map(|i| StorageFile {
                path: format!("d{}/f{i}", i % 7).into(),
                length: 100,
                padding: false,
            })
            .collect();
        let data = content(30_000);
        let st = Storage::open(&root, &files, 1000, Preallocation::Sparse).await.unwrap();
        st.set_max_open_files(8);
        for p in 0..30u32 {
            let piece = &data[p as usize * 1000..(p as usize + 1) * 1000];
            st.write_piece(PieceIndex(p), piece).await.unwrap();
            assert!(st.open_file_count() <= 8);
        }
        st.sync_all().await.unwrap();
        for p in (0..30u32).rev() {
            let got = st.read_piece(PieceIndex(p)).await.unwrap();
            assert_eq!(&got[..], &data[p as usize * 1000..(p as usize + 1) * 1000]);
            assert!(st.open_file_count() <= 8);
        }
        st.set_max_open_files(2);
        assert!(st.open_file_count() <= 2);
        st.close().await.unwrap();
        assert_eq!(std::fs::read(root.join("d5/f12")).unwrap(), &data[1200..1300]);
    });
}

#[test]
fn existing_longer_file_is_not_truncated_and_empty_torrent_works() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::write(root.join("big"), vec![9u8; 5000]).unwrap();
    run(move || async move {
        let files = vec![StorageFile {
            path: "big".into(),
            length: 100,
            padding: false,
        }];
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        assert!(!st.created_new(0));
        assert_eq!(&st.read_piece(PieceIndex(0)).await.unwrap()[..], &[9u8; 100][..]);
        st.close().await.unwrap();
        assert_eq!(std::fs::metadata(root.join("big")).unwrap().len(), 5000);

        let empty = vec![StorageFile {
            path: "e/zero".into(),
            length: 0,
            padding: false,
        }];
        let st = Storage::open(&root, &empty, PL, Preallocation::Full).await.unwrap();
        assert_eq!(st.layout().num_pieces(), 0);
        assert!(st.recheck(&[], |_| {}).await.unwrap().is_empty());
        st.close().await.unwrap();
        assert_eq!(std::fs::metadata(root.join("e/zero")).unwrap().len(), 0);
    });
}

#[test]
fn owned_writes_match_borrowed_writes_and_recheck() {
    // Pieces inside one file take the no-copy path; pieces across files fall back.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let files = files();
        let data = content(total(&files));
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        let n = st.layout().num_pieces();
        for p in 0..n {
            st.write_piece_owned(PieceIndex(p), piece_bytes(&data, p).to_vec())
                .await
                .unwrap();
        }
        let bad = st.write_piece_owned(PieceIndex(0), vec![0; 3]).await;
        assert!(matches!(bad, Err(StorageError::BadRange { .. })), "{bad:?}");
        for p in 0..n {
            assert_eq!(
                &st.read_piece(PieceIndex(p)).await.unwrap()[..],
                piece_bytes(&data, p),
                "piece {p}"
            );
        }
        st.close().await.unwrap();
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        let have = st.recheck(&hashes(&data), |_| {}).await.unwrap();
        assert!(have.is_complete());
    });
}

/// Pieces of 256 KiB over files whose boundaries fall mid-page: each span's
/// page-aligned middle goes direct, its ends through the page cache.
fn direct_files() -> Vec<StorageFile> {
    [
        ("big.bin", 700_001u64),
        ("mid/odd.bin", 333_333),
        ("small", 5_000),
        ("tail.bin", 600_000),
    ]
    .iter()
    .map(|&(p, l)| StorageFile {
        path: p.into(),
        length: l,
        padding: false,
    })
    .collect()
}

const DIRECT_PL: u32 = 256 * 1024;

/// Each file below `root`, read plainly, holds its part of `data`.
fn assert_files_hold(root: &std::path::Path, files: &[StorageFile], data: &[u8]) {
    let mut at = 0usize;
    for f in files {
        let bytes = std::fs::read(root.join(&f.path)).unwrap();
        assert_eq!(bytes.len() as u64, f.length, "{:?}", f.path);
        assert!(bytes == data[at..at + bytes.len()], "{:?} differs", f.path);
        at += bytes.len();
    }
}

fn write_and_compare(direct: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let on_disk = root.clone();
    run(move || async move {
        let files = direct_files();
        let data = content(total(&files));
        let st = Storage::open(&root, &files, DIRECT_PL, Preallocation::Sparse)
            .await
            .unwrap();
        st.set_direct_writes(direct);
        let n = st.layout().num_pieces();
        // Out of order, as a swarm delivers them; owned and borrowed buffers both.
        for p in (0..n).rev() {
            let start = p as usize * DIRECT_PL as usize;
            let piece = &data[start..(start + DIRECT_PL as usize).min(data.len())];
            if p % 2 == 0 {
                let back = st.write_piece_owned(PieceIndex(p), piece.to_vec()).await.unwrap();
                // A whole piece has a long aligned middle: it is copied, not consumed.
                if direct && p + 1 < n {
                    assert!(back.as_deref() == Some(piece), "piece {p}: buffer comes back for reuse");
                }
            } else {
                st.write_piece(PieceIndex(p), piece).await.unwrap();
            }
        }
        assert_eq!(st.writes_direct(), direct);
        for p in 0..n {
            let start = p as usize * DIRECT_PL as usize;
            let got = st.read_piece(PieceIndex(p)).await.unwrap();
            assert_eq!(
                &got[..],
                &data[start..(start + DIRECT_PL as usize).min(data.len())],
                "piece {p}"
            );
        }
        st.sync_all().await.unwrap();
        st.close().await.unwrap();
        // And on disk, through a plain read, file by file.
        assert_files_hold(&on_disk, &files, &data);
        // No probe file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&on_disk)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".ccbt"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    });
}

#[test]
fn direct_writes_land_byte_identical_across_unaligned_files() {
    write_and_compare(true);
}

#[test]
fn buffered_writes_when_direct_is_off() {
    write_and_compare(false);
}

#[test]
fn dma_pieces_go_to_disk_and_come_back_for_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let on_disk = root.clone();
    run(move || async move {
        // One file of three whole 256 KiB pieces and a short one, then a file the
        // last piece spills into.
        let files = vec![
            StorageFile {
                path: "one.bin".into(),
                length: 3 * u64::from(DIRECT_PL) + 70_000,
                padding: false,
            },
            StorageFile {
                path: "two.bin".into(),
                length: 50_000,
                padding: false,
            },
        ];
        let data = content(total(&files));
        let st = Storage::open(&root, &files, DIRECT_PL, Preallocation::Sparse)
            .await
            .unwrap();
        let n = st.layout().num_pieces();
        assert_eq!(n, 4);
        for p in 0..n {
            let start = p as usize * DIRECT_PL as usize;
            let bytes = &data[start..(start + DIRECT_PL as usize).min(data.len())];
            let mut piece = DmaPiece::allocate(bytes.len());
            ccbt_engine::piece_memory::PieceMemory::bytes_mut(&mut piece).copy_from_slice(bytes);
            let back = st.write_piece_data(PieceIndex(p), PieceData::new(piece)).await.unwrap();
            let back = back.expect("a DMA piece comes back whole");
            assert!(&back[..] == bytes, "piece {p} came back changed");
            assert!(
                back.downcast::<DmaPiece>().is_ok(),
                "piece {p} came back as another type"
            );
        }
        assert!(st.writes_direct());
        st.close().await.unwrap();
        assert_files_hold(&on_disk, &files, &data);
    });
}

#[test]
fn writes_land_on_tmpfs_where_o_direct_means_nothing() {
    // tmpfs has no O_DIRECT; glommio's DmaFile falls back to plain writes there.
    let dir = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
    let root = dir.path().to_path_buf();
    let on_disk = root.clone();
    run(move || async move {
        let files = direct_files();
        let data = content(total(&files));
        let st = Storage::open(&root, &files, DIRECT_PL, Preallocation::Sparse)
            .await
            .unwrap();
        for p in 0..st.layout().num_pieces() {
            let start = p as usize * DIRECT_PL as usize;
            let bytes = &data[start..(start + DIRECT_PL as usize).min(data.len())];
            let mut piece = DmaPiece::allocate(bytes.len());
            ccbt_engine::piece_memory::PieceMemory::bytes_mut(&mut piece).copy_from_slice(bytes);
            st.write_piece_data(PieceIndex(p), PieceData::new(piece)).await.unwrap();
        }
        st.close().await.unwrap();
        assert_files_hold(&on_disk, &files, &data);
    });
}
