use super::*;
use crate::types::PieceIndex;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn single(data: &[u8], piece_length: u32) -> MetainfoBuilder {
    MetainfoBuilder {
        files: vec![(vec![], data.len() as u64)],
        piece_length,
        piece_hashes: hash_pieces(data, piece_length),
        ..MetainfoBuilder::new("single.txt")
    }
}

/// The directory used to check against mktorrent 1.1:
/// dir/a.txt = "aaaa", dir/empty = "", dir/sub/b.txt = "bbbbbbbbbb".
fn mktorrent_dir(private: bool) -> MetainfoBuilder {
    let files = vec![
        (vec!["a.txt".to_string()], 4),
        (vec!["empty".to_string()], 0),
        (vec!["sub".to_string(), "b.txt".to_string()], 10),
    ];
    MetainfoBuilder {
        files,
        piece_length: 32768,
        piece_hashes: hash_pieces(b"aaaabbbbbbbbbb", 32768),
        private,
        ..MetainfoBuilder::new("dir")
    }
}

#[test]
fn info_hash_matches_mktorrent() {
    // Hashes taken from `mktorrent -l 15` (Debian mktorrent 1.1) on the same inputs.
    let m = Metainfo::from_bytes(&single(b"hello world\n", 32768).build().unwrap()).unwrap();
    assert_eq!(m.info_hash.to_hex(), "cf0afd97855edad189d8660d15c3efaedec847b3");
    let m = Metainfo::from_bytes(&mktorrent_dir(false).build().unwrap()).unwrap();
    assert_eq!(m.info_hash.to_hex(), "874c56141d9d57889078186d81d37b4c048a77d6");
    let mut b = mktorrent_dir(true);
    // Fields outside info must not change the info-hash.
    b.announce_tiers = vec![vec!["http://t1/ann".into()], vec!["http://t2/ann".into()]];
    b.comment = Some("hi".into());
    b.created_by = Some("ccbt".into());
    b.creation_date = Some(1_795_629_110);
    b.url_list = vec!["http://seed/".into()];
    let m = Metainfo::from_bytes(&b.build().unwrap()).unwrap();
    assert_eq!(m.info_hash.to_hex(), "5a53960b2713a781a6678d12074e8ebb95b7fbc6");
}

#[test]
fn single_file_round_trip() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut b = single(&data, 16384);
    b.announce_tiers = vec![vec!["http://t/ann".into()]];
    b.comment = Some("c".into());
    b.created_by = Some("ccbt 0.1".into());
    b.creation_date = Some(1_700_000_000);
    let bytes = b.build().unwrap();
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert!(m.info.single_file);
    assert_eq!(m.info.name, "single.txt");
    assert_eq!(m.info.total_length, 100_000);
    assert_eq!(m.num_pieces(), 7);
    assert_eq!(m.piece_size(PieceIndex(6)), 100_000 - 6 * 16384);
    assert_eq!(&m.info.piece_hashes[..], &b.piece_hashes[..]);
    assert_eq!(m.announce.as_deref(), Some("http://t/ann"));
    assert!(m.announce_list.is_empty(), "one URL: no announce-list");
    assert_eq!(m.comment.as_deref(), Some("c"));
    assert_eq!(m.created_by.as_deref(), Some("ccbt 0.1"));
    assert_eq!(m.creation_date, Some(1_700_000_000));
    assert!(!m.info.private);
    // No keys of our own inside info.
    let info = crate::bencode::decode(&m.info_bytes).unwrap();
    let keys: Vec<&[u8]> = info.as_dict().unwrap().keys().map(Vec::as_slice).collect();
    assert_eq!(keys, vec![&b"length"[..], b"name", b"piece length", b"pieces"]);
}

#[test]
fn multi_file_round_trip() {
    let mut b = mktorrent_dir(true);
    b.announce_tiers = vec![
        vec!["http://t1/ann".into(), "".into()],
        vec![],
        vec!["http://t2/ann".into(), "http://t3/ann".into()],
    ];
    b.url_list = vec!["http://s1/".into(), "http://s2/".into()];
    let m = Metainfo::from_bytes(&b.build().unwrap()).unwrap();
    assert!(!m.info.single_file);
    assert!(m.info.private);
    let files: Vec<(PathBuf, u64, u64)> = m
        .info
        .files
        .iter()
        .map(|f| (f.path.clone(), f.length, f.offset))
        .collect();
    assert_eq!(
        files,
        vec![
            (PathBuf::from("dir/a.txt"), 4, 0),
            (PathBuf::from("dir/empty"), 0, 4),
            (PathBuf::from("dir/sub/b.txt"), 10, 4),
        ]
    );
    assert_eq!(m.announce.as_deref(), Some("http://t1/ann"));
    assert_eq!(
        m.announce_list,
        vec![
            vec!["http://t1/ann".to_string()],
            vec!["http://t2/ann".to_string(), "http://t3/ann".to_string()],
        ]
    );
    assert_eq!(m.url_list, vec!["http://s1/".to_string(), "http://s2/".to_string()]);
}

#[test]
fn directory_with_one_file_uses_files_list() {
    let b = MetainfoBuilder {
        files: vec![(vec!["only".into()], 3)],
        piece_length: 16384,
        piece_hashes: hash_pieces(b"abc", 16384),
        ..MetainfoBuilder::new("d")
    };
    let m = Metainfo::from_bytes(&b.build().unwrap()).unwrap();
    assert!(!m.info.single_file);
    assert_eq!(m.info.files[0].path, Path::new("d/only"));
}

#[test]
fn url_list_single_is_a_string() {
    let mut b = single(b"x", 16384);
    b.url_list = vec!["http://seed/x".into()];
    let bytes = b.build().unwrap();
    let root = crate::bencode::decode(&bytes).unwrap();
    assert_eq!(root.get("url-list"), Some(&Value::string("http://seed/x")));
    assert_eq!(root.get("announce"), None);
}

#[test]
fn invalid_builders_refused() {
    let ok = single(b"hello", 4);
    let field = |b: MetainfoBuilder| match b.build() {
        Err(MetainfoError::InvalidField { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field(MetainfoBuilder {
            piece_length: 0,
            ..ok.clone()
        }),
        "info.piece length"
    );
    assert_eq!(
        field(MetainfoBuilder {
            piece_hashes: vec![[0; 20]],
            ..ok.clone()
        }),
        "info.pieces"
    );
    assert_eq!(
        field(MetainfoBuilder {
            name: String::new(),
            ..ok.clone()
        }),
        "info.name"
    );
    assert_eq!(
        field(MetainfoBuilder {
            files: vec![(vec!["a".into()], 3), (vec![], 2)],
            ..ok.clone()
        }),
        "info.files[1].path"
    );
    assert_eq!(
        MetainfoBuilder {
            name: "../x".into(),
            ..ok.clone()
        }
        .build(),
        Err(MetainfoError::UnsafePath { path: "../x".into() })
    );
    assert_eq!(
        MetainfoBuilder {
            files: vec![(vec!["..".into(), "x".into()], 5)],
            ..ok.clone()
        }
        .build(),
        Err(MetainfoError::UnsafePath { path: "../x".into() })
    );
    assert!(matches!(
        MetainfoBuilder {
            files: vec![(vec!["a".into()], 3), (vec!["a".into()], 2)],
            ..ok.clone()
        }
        .build(),
        Err(MetainfoError::DuplicatePath { .. })
    ));
    assert_eq!(
        MetainfoBuilder {
            files: vec![],
            piece_hashes: vec![],
            ..ok.clone()
        }
        .build(),
        Err(MetainfoError::EmptyTorrent)
    );
}

#[test]
fn piece_count_and_default_length() {
    assert_eq!(piece_count(0, 16), 0);
    assert_eq!(piece_count(1, 16), 1);
    assert_eq!(piece_count(16, 16), 1);
    assert_eq!(piece_count(17, 16), 2);
    assert_eq!(piece_count(5, 0), 0);
    assert_eq!(piece_count(u64::MAX, 1), u32::MAX);

    assert_eq!(default_piece_length(0), 16 * 1024);
    assert_eq!(default_piece_length(1 << 20), 16 * 1024);
    assert_eq!(default_piece_length(u64::MAX), 16 * 1024 * 1024);
    assert_eq!(default_piece_length(1 << 50), 16 * 1024 * 1024);
    for total in [100u64 << 20, 700 << 20, 1 << 30, 4_700_000_000, 20 << 30] {
        let p = default_piece_length(total);
        assert!(p.is_power_of_two());
        let n = piece_count(total, p);
        assert!((1000..=2000).contains(&n), "{total}: {p} gives {n} pieces");
    }
}

proptest! {
    #[test]
    fn streaming_hasher_matches_one_shot(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        piece_length in 1u32..300,
        cuts in proptest::collection::vec(0usize..2000, 0..8),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.sort_unstable();
        let mut h = PieceHasher::new(piece_length);
        let mut start = 0;
        for c in cuts.into_iter().chain([data.len()]) {
            h.update(&data[start..c]);
            start = c;
        }
        let expected: Vec<[u8; 20]> = data
            .chunks(piece_length as usize)
            .map(|c| Sha1::digest(c).into())
            .collect();
        prop_assert_eq!(h.finish(), expected);
    }
}
