//! BEP 47 padding files: never created, read or written, always present.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::piece_hasher::sha1_piece;
use crate::test_executor::run;

const PL: u32 = 16 * 1024;

/// As libtorrent 2.0 lays out a torrent by default: every file padded to a piece
/// boundary, two pads of one size (so one path), the last file padded too.
fn padded_files() -> Vec<StorageFile> {
    [
        ("t/a.bin", 10_000u64, false),
        ("t/.pad/6384", 6_384, true),
        ("t/b.bin", 10_000, false),
        ("t/.pad/6384", 6_384, true),
        ("t/c.bin", 20_000, false),
        ("t/.pad/12768", 12_768, true),
    ]
    .iter()
    .map(|&(p, l, pad)| StorageFile {
        path: p.into(),
        length: l,
        padding: pad,
    })
    .collect()
}

/// The torrent's bytes: a pattern in real files, zeros in the pads.
fn padded_content(files: &[StorageFile]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        for j in 0..f.length as usize {
            out.push(if f.padding {
                0
            } else {
                ((i * 7 + j * 13) % 251) as u8 + 1
            });
        }
    }
    out
}

fn piece(data: &[u8], p: u32) -> &[u8] {
    &data[p as usize * PL as usize..(p as usize + 1) * PL as usize]
}

/// The real files on disk hold their bytes, and no pad file or `.pad` folder exists.
fn assert_only_real_files(root: &Path, files: &[StorageFile], data: &[u8]) {
    let mut at = 0usize;
    for f in files {
        if !f.padding {
            let bytes = std::fs::read(root.join(&f.path)).unwrap();
            assert!(bytes == data[at..at + f.length as usize], "{:?} differs", f.path);
        }
        at += f.length as usize;
    }
    assert!(!root.join("t/.pad").exists(), "a .pad folder was created");
    let mut names: Vec<String> = std::fs::read_dir(root.join("t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["a.bin", "b.bin", "c.bin"]);
}

#[test]
fn pads_are_never_written_and_read_as_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let files = padded_files();
        let data = padded_content(&files);
        let st = Storage::open(&root, &files, PL, Preallocation::Full).await.unwrap();
        assert_eq!(st.layout().num_pieces(), 4);
        assert_eq!(st.created_files().collect::<Vec<_>>(), vec![0, 2, 4]);
        assert!(!root.join("t/.pad").exists(), "open created a pad");
        st.write_piece(PieceIndex(0), piece(&data, 0)).await.unwrap();
        st.write_piece_owned(PieceIndex(1), piece(&data, 1).to_vec())
            .await
            .unwrap();
        st.write_piece(PieceIndex(2), piece(&data, 2)).await.unwrap();
        st.write_piece_owned(PieceIndex(3), piece(&data, 3).to_vec())
            .await
            .unwrap();
        for p in 0..4 {
            assert_eq!(
                &st.read_piece(PieceIndex(p)).await.unwrap()[..],
                piece(&data, p),
                "piece {p}"
            );
        }
        // A block entirely inside a pad, and one across a file and its pad.
        assert_eq!(
            &st.read(PieceIndex(0), 12_000, 1000).await.unwrap()[..],
            &[0u8; 1000][..]
        );
        assert_eq!(
            &st.read(PieceIndex(1), 9_000, 2000).await.unwrap()[..],
            &data[PL as usize + 9_000..PL as usize + 11_000]
        );
        st.sync_all().await.unwrap();
        st.close().await.unwrap();
        assert_only_real_files(&root, &files, &data);
    });
}

#[test]
fn data_laid_out_without_pads_rechecks_complete() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let files = padded_files();
        let data = padded_content(&files);
        let hashes: Vec<[u8; 20]> = data.chunks(PL as usize).map(sha1_piece).collect();
        // As libtorrent and qBittorrent keep a seeded torrent: real files only.
        let mut at = 0usize;
        for f in &files {
            if !f.padding {
                let path = root.join(&f.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &data[at..at + f.length as usize]).unwrap();
            }
            at += f.length as usize;
        }
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        assert!(st.created_files().next().is_none());
        assert!(
            (0..4).all(|p| !st.known_missing(PieceIndex(p))),
            "pads are always present"
        );
        let have = st.recheck(&hashes, |_| {}).await.unwrap();
        assert!(have.is_complete(), "{have:?}");
        st.close().await.unwrap();
        assert_only_real_files(&root, &files, &data);

        // A real file cut short: only the pieces it feeds go missing.
        std::fs::OpenOptions::new()
            .write(true)
            .open(root.join("t/b.bin"))
            .unwrap()
            .set_len(5_000)
            .unwrap();
        let st = Storage::open(&root, &files, PL, Preallocation::Sparse).await.unwrap();
        let have = st.recheck(&hashes, |_| {}).await.unwrap();
        assert_eq!(have.iter_ones().collect::<Vec<_>>(), vec![0, 2, 3]);
        st.close().await.unwrap();
    });
}
