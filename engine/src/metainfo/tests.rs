use super::*;
use crate::bencode::encode;
use std::path::Path;

fn hashes(n: usize) -> Value {
    Value::Bytes((0..n * 20).map(|i| i as u8).collect())
}

fn single_info(length: i64, piece_length: i64, n_pieces: usize) -> Value {
    Value::dict([
        ("length", Value::Int(length)),
        ("name", Value::string("file.bin")),
        ("piece length", Value::Int(piece_length)),
        ("pieces", hashes(n_pieces)),
    ])
}

fn file(path: &[&str], length: i64) -> Value {
    Value::dict([
        ("length", Value::Int(length)),
        ("path", Value::List(path.iter().map(|p| Value::string(p)).collect())),
    ])
}

fn multi_info(files: Vec<Value>, piece_length: i64, n_pieces: usize) -> Value {
    Value::dict([
        ("files", Value::List(files)),
        ("name", Value::string("root")),
        ("piece length", Value::Int(piece_length)),
        ("pieces", hashes(n_pieces)),
    ])
}

fn torrent(info: Value) -> Vec<u8> {
    encode(&Value::dict([
        ("announce", Value::string("http://t/announce")),
        ("info", info),
    ]))
}

fn parse(info: Value) -> Result<Metainfo, MetainfoError> {
    Metainfo::from_bytes(&torrent(info))
}

/// Parses a torrent whose info dict is `info` with `key` replaced by `value`.
fn parse_with(info: &Value, key: &str, value: Option<Value>) -> Result<Metainfo, MetainfoError> {
    let mut d = info.as_dict().unwrap().clone();
    match value {
        Some(v) => d.insert(key.as_bytes().to_vec(), v),
        None => d.remove(key.as_bytes()),
    };
    parse(Value::Dict(d))
}

fn field_of(e: &MetainfoError) -> &str {
    match e {
        MetainfoError::MissingField { field }
        | MetainfoError::WrongType { field, .. }
        | MetainfoError::InvalidField { field, .. } => field,
        other => panic!("no field in {other:?}"),
    }
}

#[test]
fn single_file() {
    let m = parse(single_info(100, 32, 4)).unwrap();
    assert!(m.info.single_file);
    assert_eq!(m.info.name, "file.bin");
    assert_eq!(m.info.total_length, 100);
    assert_eq!(
        m.info.files,
        vec![FileEntry {
            path: PathBuf::from("file.bin"),
            length: 100,
            offset: 0,
            padding: false
        }]
    );
    assert_eq!(m.announce.as_deref(), Some("http://t/announce"));
    assert_eq!(m.num_pieces(), 4);
    assert_eq!(m.piece_size(PieceIndex(0)), 32);
    assert_eq!(m.piece_size(PieceIndex(2)), 32);
    assert_eq!(m.piece_size(PieceIndex(3)), 4); // short last piece
    assert_eq!(m.piece_size(PieceIndex(4)), 0);
    assert_eq!(m.piece_hash(PieceIndex(1)).unwrap()[0], 20);
    assert_eq!(m.piece_hash(PieceIndex(4)), None);
    assert!(!m.info.private);
}

#[test]
fn exact_multiple_has_full_last_piece() {
    let m = parse(single_info(96, 32, 3)).unwrap();
    assert_eq!(m.piece_size(PieceIndex(2)), 32);
}

#[test]
fn multi_file_offsets_and_empty_files() {
    let m = parse(multi_info(
        vec![file(&["a.txt"], 10), file(&["empty"], 0), file(&["sub", "b.txt"], 25)],
        16,
        3,
    ))
    .unwrap();
    assert!(!m.info.single_file);
    assert_eq!(m.info.total_length, 35);
    let got: Vec<_> = m
        .info
        .files
        .iter()
        .map(|f| (f.path.clone(), f.length, f.offset))
        .collect();
    assert_eq!(
        got,
        vec![
            (PathBuf::from("root/a.txt"), 10, 0),
            (PathBuf::from("root/empty"), 0, 10),
            (PathBuf::from("root/sub/b.txt"), 25, 10),
        ]
    );
    assert_eq!(m.piece_size(PieceIndex(2)), 3);
}

#[test]
fn padding_files_marked_and_may_repeat() {
    let pad = |len| {
        Value::dict([
            ("attr", Value::string("p")),
            ("length", Value::Int(len)),
            ("path", Value::List(vec![Value::string(".pad"), Value::string("6")])),
        ])
    };
    let m = parse(multi_info(
        vec![file(&["a"], 10), pad(6), file(&["b"], 10), pad(6), file(&["c"], 1)],
        16,
        3,
    ))
    .unwrap();
    let pads: Vec<bool> = m.info.files.iter().map(|f| f.padding).collect();
    assert_eq!(pads, vec![false, true, false, true, false]);
    assert_eq!(m.info.files[2].offset, 16);
    assert_eq!(m.info.files[1].path, Path::new("root/.pad/6"));
}

#[test]
fn pad_named_by_its_length_is_padding_without_attr() {
    let m = parse(multi_info(
        vec![
            file(&["a"], 10),
            file(&[".pad", "6"], 6),
            file(&["b"], 10),
            file(&[".pad", "7"], 6),
        ],
        16,
        2,
    ))
    .unwrap();
    let pads: Vec<bool> = m.info.files.iter().map(|f| f.padding).collect();
    // `.pad/7` of 6 bytes does not state its length: an ordinary file.
    assert_eq!(pads, vec![false, true, false, false]);
}

/// A hybrid v1+v2 torrent as libtorrent 2.0's `create_torrent` makes it by default:
/// v1 `files` with `.pad/N` files between (and after) the files, plus v2's `file
/// tree`, `meta version` and top-level `piece layers`, which the v1 part ignores.
#[test]
fn libtorrent_hybrid_torrent_loads_its_v1_part() {
    let pad = |len: i64| {
        Value::dict([
            ("attr", Value::string("p")),
            ("length", Value::Int(len)),
            (
                "path",
                Value::List(vec![Value::string(".pad"), Value::string(&len.to_string())]),
            ),
        ])
    };
    let mut info = multi_info(
        vec![
            file(&["a.bin"], 10),
            pad(6),
            file(&["sub", "b.bin"], 3),
            pad(13),
            file(&["c.bin"], 10),
            pad(6),
        ],
        16,
        3,
    )
    .as_dict()
    .unwrap()
    .clone();
    let leaf = |len: i64| Value::dict([("", Value::dict([("length", Value::Int(len))]))]);
    info.insert(
        b"file tree".to_vec(),
        Value::dict([
            ("a.bin", leaf(10)),
            ("c.bin", leaf(10)),
            ("sub", Value::dict([("b.bin", leaf(3))])),
        ]),
    );
    info.insert(b"meta version".to_vec(), Value::Int(2));
    let info = Value::Dict(info);
    let bytes = encode(&Value::dict([
        ("info", info.clone()),
        ("piece layers", Value::dict([])),
    ]));
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(
        m.info_hash,
        InfoHash(Sha1::digest(encode(&info)).into()),
        "SHA-1 of the whole info dict"
    );
    assert_eq!(m.info.total_length, 48);
    assert_eq!(m.num_pieces(), 3);
    let real: Vec<_> = m
        .info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| f.path.clone())
        .collect();
    assert_eq!(
        real,
        vec![
            PathBuf::from("root/a.bin"),
            PathBuf::from("root/sub/b.bin"),
            PathBuf::from("root/c.bin")
        ]
    );
    assert_eq!(m.info.files.iter().filter(|f| f.padding).count(), 3);
    assert_eq!(m.info.files[4].offset, 32, "each file starts on a piece boundary");
}

#[test]
fn all_empty_files_rejected() {
    assert_eq!(
        parse(multi_info(vec![file(&["a"], 0), file(&["b"], 0)], 16, 0)),
        Err(MetainfoError::EmptyTorrent)
    );
    assert_eq!(parse(multi_info(vec![], 16, 0)), Err(MetainfoError::EmptyTorrent));
    assert_eq!(parse(single_info(0, 16, 0)), Err(MetainfoError::EmptyTorrent));
    assert!(MetainfoError::EmptyTorrent.to_string().contains("no data"));
}

#[test]
fn every_error_names_its_field() {
    let single = single_info(100, 32, 4);
    let cases: Vec<(Result<Metainfo, MetainfoError>, &str)> = vec![
        (parse_with(&single, "name", None), "info.name"),
        (parse_with(&single, "name", Some(Value::Int(1))), "info.name"),
        (parse_with(&single, "name", Some(Value::string(""))), "info.name"),
        (parse_with(&single, "piece length", None), "info.piece length"),
        (
            parse_with(&single, "piece length", Some(Value::string("32"))),
            "info.piece length",
        ),
        (
            parse_with(&single, "piece length", Some(Value::Int(0))),
            "info.piece length",
        ),
        (
            parse_with(&single, "piece length", Some(Value::Int(-32))),
            "info.piece length",
        ),
        (
            parse_with(&single, "piece length", Some(Value::Int(256 * 1024 * 1024 + 1))),
            "info.piece length",
        ),
        (parse_with(&single, "pieces", None), "info.pieces"),
        (parse_with(&single, "pieces", Some(Value::Int(3))), "info.pieces"),
        (
            parse_with(&single, "pieces", Some(Value::Bytes(vec![0; 79]))),
            "info.pieces",
        ),
        (parse_with(&single, "pieces", Some(hashes(3))), "info.pieces"),
        (parse_with(&single, "pieces", Some(hashes(5))), "info.pieces"),
        (parse_with(&single, "length", Some(Value::Int(-1))), "info.length"),
        (parse_with(&single, "length", Some(Value::string("1"))), "info.length"),
        (
            parse_with(&single, "files", Some(Value::List(vec![file(&["a"], 1)]))),
            "info.files",
        ),
        (parse_with(&single, "length", None), "info"),
        (parse_with(&single, "private", Some(Value::string("1"))), "info.private"),
        (
            parse(multi_info(vec![file(&["a"], 1), file(&["b"], -5)], 16, 1)),
            "info.files[1].length",
        ),
        (
            parse(multi_info(
                vec![
                    file(&["a"], 1),
                    Value::dict([("path", Value::List(vec![Value::string("b")]))]),
                ],
                16,
                1,
            )),
            "info.files[1].length",
        ),
        (
            parse(multi_info(
                vec![
                    file(&["a"], 1),
                    file(&["b"], 1),
                    file(&["c"], 1),
                    Value::dict([("length", Value::Int(1))]),
                ],
                16,
                1,
            )),
            "info.files[3].path",
        ),
        (
            parse(multi_info(
                vec![Value::dict([("length", Value::Int(1)), ("path", Value::string("a"))])],
                16,
                1,
            )),
            "info.files[0].path",
        ),
        (
            parse(multi_info(
                vec![Value::dict([
                    ("length", Value::Int(1)),
                    ("path", Value::List(vec![Value::string("a"), Value::Int(2)])),
                ])],
                16,
                1,
            )),
            "info.files[0].path[1]",
        ),
        (parse(multi_info(vec![file(&[], 1)], 16, 1)), "info.files[0].path"),
        (parse(multi_info(vec![Value::Int(1)], 16, 1)), "info.files[0]"),
        (
            parse_with(&multi_info(vec![], 16, 0), "files", Some(Value::string("x"))),
            "info.files",
        ),
        (
            (parse(multi_info(
                vec![Value::dict([
                    ("attr", Value::Int(1)),
                    ("length", Value::Int(1)),
                    ("path", Value::List(vec![Value::string("a")])),
                ])],
                16,
                1,
            ))),
            "info.files[0].attr",
        ),
    ];
    for (i, (result, field)) in cases.into_iter().enumerate() {
        let e = result.expect_err(&format!("case {i} ({field}) accepted"));
        assert_eq!(field_of(&e), field, "case {i}: {e}");
        assert!(e.to_string().contains(field), "case {i}: {e}");
    }
}

#[test]
fn top_level_errors_name_their_field() {
    let info = single_info(100, 32, 4);
    let with = |k: &str, v: Value| Metainfo::from_bytes(&encode(&Value::dict([("info", info.clone()), (k, v)])));
    let e = Metainfo::from_bytes(&encode(&Value::dict([("announce", Value::string("x"))]))).unwrap_err();
    assert_eq!(e, MetainfoError::MissingField { field: "info".into() });
    assert_eq!(field_of(&with("info", Value::Int(1)).unwrap_err()), "info");
    assert_eq!(field_of(&with("announce", Value::Int(1)).unwrap_err()), "announce");
    assert_eq!(
        field_of(&with("announce-list", Value::string("x")).unwrap_err()),
        "announce-list"
    );
    assert_eq!(
        field_of(
            &with(
                "announce-list",
                Value::List(vec![Value::List(vec![]), Value::string("x")])
            )
            .unwrap_err()
        ),
        "announce-list[1]"
    );
    assert_eq!(
        field_of(&with("announce-list", Value::List(vec![Value::List(vec![Value::Int(1)])])).unwrap_err()),
        "announce-list[0][0]"
    );
    assert_eq!(field_of(&with("url-list", Value::Int(1)).unwrap_err()), "url-list");
    assert_eq!(
        field_of(&with("url-list", Value::List(vec![Value::Int(1)])).unwrap_err()),
        "url-list[0]"
    );
    assert_eq!(Metainfo::from_bytes(b"li1ee"), Err(MetainfoError::NotADictionary));
    assert!(matches!(
        Metainfo::from_bytes(b"d4:infod"),
        Err(MetainfoError::Bencode(BencodeError::UnexpectedEof { .. }))
    ));
}

#[test]
fn escaping_paths_refused() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["..", "..", "etc", "passwd"], "../../etc/passwd"),
        (vec!["", "etc", "x"], "/etc/x"),
        (vec!["/etc/x"], "/etc/x"),
        (vec!["a", "", "b"], "a//b"),
        (vec!["a", "."], "a/."),
        (vec!["a\0b"], "a\0b"),
    ];
    for (path, shown) in cases {
        let e = parse(multi_info(vec![file(&path, 1)], 16, 1)).unwrap_err();
        assert_eq!(
            e,
            MetainfoError::UnsafePath {
                path: shown.to_string()
            }
        );
        assert_eq!(e.to_string(), format!("unsafe file path in torrent: {shown}"));
    }
    let e = parse_with(&single_info(100, 32, 4), "name", Some(Value::string("../x"))).unwrap_err();
    assert_eq!(e.to_string(), "unsafe file path in torrent: ../x");
    let e = parse_with(&single_info(100, 32, 4), "name", Some(Value::string(".."))).unwrap_err();
    assert!(matches!(e, MetainfoError::UnsafePath { .. }));
}

#[test]
fn duplicate_and_conflicting_paths_refused() {
    assert_eq!(
        parse(multi_info(vec![file(&["a"], 1), file(&["a"], 1)], 16, 1)),
        Err(MetainfoError::DuplicatePath { path: "root/a".into() })
    );
    // Distinct raw names that sanitize to the same name are duplicates too.
    assert!(matches!(
        parse(multi_info(vec![file(&["a\x01"], 1), file(&["a\x02"], 1)], 16, 1)),
        Err(MetainfoError::DuplicatePath { .. })
    ));
    assert_eq!(
        parse(multi_info(vec![file(&["a"], 1), file(&["a", "b"], 1)], 16, 1)),
        Err(MetainfoError::PathConflict { path: "root/a".into() })
    );
}

#[test]
fn utf8_variants_preferred() {
    let mut info = single_info(100, 32, 4).as_dict().unwrap().clone();
    info.insert(b"name.utf-8".to_vec(), Value::string("ünïcode"));
    info.insert(b"name".to_vec(), Value::Bytes(vec![0xfc, b'x']));
    let m = parse(Value::Dict(info)).unwrap();
    assert_eq!(m.info.name, "ünïcode");

    let f = Value::dict([
        ("length", Value::Int(5)),
        ("path", Value::List(vec![Value::Bytes(vec![0xe9])])),
        ("path.utf-8", Value::List(vec![Value::string("é")])),
    ]);
    let m = parse(multi_info(vec![f], 16, 1)).unwrap();
    assert_eq!(m.info.files[0].path, Path::new("root/é"));

    // A broken path.utf-8 falls back to path; invalid UTF-8 is replaced.
    let f = Value::dict([
        ("length", Value::Int(5)),
        ("path", Value::List(vec![Value::Bytes(vec![0xe9])])),
        ("path.utf-8", Value::Int(3)),
    ]);
    let m = parse(multi_info(vec![f], 16, 1)).unwrap();
    assert_eq!(m.info.files[0].path, Path::new("root/\u{fffd}"));
}

#[test]
fn optional_fields() {
    let bytes = encode(&Value::dict([
        ("announce", Value::string("http://a/ann")),
        (
            "announce-list",
            Value::List(vec![
                Value::List(vec![Value::string("http://a/ann"), Value::string("")]),
                Value::List(vec![]),
                Value::List(vec![Value::string("udp://b:80")]),
            ]),
        ),
        ("comment", Value::string("hello")),
        ("created by", Value::string("ccbt")),
        ("creation date", Value::Int(1_700_000_000)),
        ("info", single_info(100, 32, 4)),
        ("url-list", Value::string("http://seed/")),
    ]));
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(
        m.announce_list,
        vec![vec!["http://a/ann".to_string()], vec!["udp://b:80".to_string()]]
    );
    assert_eq!(m.url_list, vec!["http://seed/".to_string()]);
    assert_eq!(m.comment.as_deref(), Some("hello"));
    assert_eq!(m.created_by.as_deref(), Some("ccbt"));
    assert_eq!(m.creation_date, Some(1_700_000_000));

    let bytes = encode(&Value::dict([
        ("comment", Value::Int(5)),
        ("creation date", Value::string("yesterday")),
        ("info", single_info(100, 32, 4)),
        (
            "url-list",
            Value::List(vec![
                Value::string("http://a/"),
                Value::string(""),
                Value::string("http://b/"),
            ]),
        ),
    ]));
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(m.announce, None);
    assert_eq!(m.comment, None);
    assert_eq!(m.creation_date, None);
    assert_eq!(m.url_list, vec!["http://a/".to_string(), "http://b/".to_string()]);
}

#[test]
fn private_flag_and_piece_length_bounds() {
    let info = single_info(100, 32, 4);
    assert!(parse_with(&info, "private", Some(Value::Int(1))).unwrap().info.private);
    assert!(!parse_with(&info, "private", Some(Value::Int(0))).unwrap().info.private);
    // Any piece length in range works, not only powers of two.
    assert_eq!(parse(single_info(100, 33, 4)).unwrap().piece_size(PieceIndex(3)), 1);
    let max = i64::from(MAX_PIECE_LENGTH);
    assert_eq!(parse(single_info(max, max, 1)).unwrap().num_pieces(), 1);
    assert_eq!(parse(single_info(100, 1, 100)).unwrap().num_pieces(), 100);
}

#[test]
fn info_hash_is_sha1_of_raw_info_bytes() {
    // Unknown keys (and a nested dict) in info are kept in the hash even though Info
    // drops them, so the hash must come from the file's bytes.
    let info = Value::dict([
        ("length", Value::Int(100)),
        ("name", Value::string("file.bin")),
        ("piece length", Value::Int(32)),
        ("pieces", hashes(4)),
        ("x-extra", Value::dict([("\u{00ff}", Value::List(vec![]))])),
        ("zz", Value::Int(-1)),
    ]);
    let raw_info = encode(&info);
    let bytes = [b"d8:announce3:url4:info".as_slice(), &raw_info, b"7:zzz-endi0ee"].concat();
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(m.info_bytes, raw_info);
    let expected: [u8; 20] = Sha1::digest(&raw_info).into();
    assert_eq!(m.info_hash, InfoHash(expected));
    let plain = parse(single_info(100, 32, 4)).unwrap();
    assert_ne!(m.info_hash, plain.info_hash);
    assert_eq!(m.info, plain.info);
}

#[test]
fn known_info_hash() {
    // {"length":3,"name":"a","piece length":16384,"pieces":sha1("abc")}.
    let info = b"d6:lengthi3e4:name1:a12:piece lengthi16384e6:pieces20:\xa9\x99\x3e\x36\x47\x06\x81\x6a\xba\x3e\x25\x71\x78\x50\xc2\x6c\x9c\xd0\xd8\x9de";
    let bytes = [b"d4:info".as_slice(), info, b"e"].concat();
    let m = Metainfo::from_bytes(&bytes).unwrap();
    let expected: [u8; 20] = Sha1::digest(info).into();
    assert_eq!(m.info_hash.0, expected);
}

#[test]
fn from_info_bytes_matches_full_parse() {
    let full = parse(multi_info(vec![file(&["a"], 10), file(&["b"], 30)], 16, 3)).unwrap();
    let bare = Metainfo::from_info_bytes(&full.info_bytes).unwrap();
    assert_eq!(bare.info_hash, full.info_hash);
    assert_eq!(bare.info, full.info);
    assert_eq!(bare.announce, None);
    assert_eq!(
        Metainfo::from_info_bytes(b"i1e"),
        Err(MetainfoError::WrongType {
            field: "info".into(),
            expected: "a dictionary"
        })
    );
    assert!(matches!(
        Metainfo::from_info_bytes(&full.info_bytes[1..]),
        Err(MetainfoError::Bencode(_))
    ));
}

#[test]
fn torrent_file_bytes_keeps_the_info_hash_and_the_trackers() {
    let full = parse(multi_info(vec![file(&["a"], 10), file(&["b"], 30)], 16, 3)).unwrap();
    let tiers = vec![
        vec!["http://t1/announce".to_string(), "udp://t2:80".to_string()],
        vec![],
        vec!["http://t3/announce".to_string()],
    ];
    let rebuilt = Metainfo::from_bytes(&torrent_file_bytes(&full.info_bytes, &tiers)).unwrap();
    assert_eq!(rebuilt.info_hash, full.info_hash);
    assert_eq!(rebuilt.info, full.info);
    assert_eq!(rebuilt.announce.as_deref(), Some("http://t1/announce"));
    assert_eq!(
        rebuilt.announce_list,
        vec![tiers[0].clone(), tiers[2].clone()],
        "empty tiers are left out"
    );
    let one = Metainfo::from_bytes(&torrent_file_bytes(&full.info_bytes, &[vec!["http://t/a".into()]])).unwrap();
    assert_eq!(one.announce.as_deref(), Some("http://t/a"));
    assert!(one.announce_list.is_empty());
    let none = torrent_file_bytes(&full.info_bytes, &[]);
    assert_eq!(none, [b"d4:info".as_slice(), &full.info_bytes, b"e"].concat());
}
