use super::*;
use proptest::prelude::*;

fn err(input: &[u8]) -> BencodeError {
    decode(input).unwrap_err()
}

#[test]
fn decodes_each_kind() {
    assert_eq!(decode(b"i42e").unwrap(), Value::Int(42));
    assert_eq!(decode(b"i-7e").unwrap(), Value::Int(-7));
    assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
    assert_eq!(decode(b"4:spam").unwrap(), Value::string("spam"));
    assert_eq!(decode(b"0:").unwrap(), Value::Bytes(vec![]));
    assert_eq!(
        decode(b"l4:spami1ee").unwrap(),
        Value::List(vec![Value::string("spam"), Value::Int(1)])
    );
    let d = decode(b"d3:bar4:spam3:fooi42ee").unwrap();
    assert_eq!(
        d,
        Value::dict([("bar", Value::string("spam")), ("foo", Value::Int(42))])
    );
    assert_eq!(d.get("foo").and_then(Value::as_int), Some(42));
    assert_eq!(d.get("bar").and_then(Value::as_str), Some("spam"));
    assert_eq!(d.get("nope"), None);
    assert_eq!(decode(b"de").unwrap(), Value::Dict(BTreeMap::new()));
    assert_eq!(decode(b"le").unwrap(), Value::List(vec![]));
}

#[test]
fn integer_extremes() {
    assert_eq!(decode(b"i9223372036854775807e").unwrap(), Value::Int(i64::MAX));
    assert_eq!(decode(b"i-9223372036854775808e").unwrap(), Value::Int(i64::MIN));
    assert_eq!(
        err(b"i9223372036854775808e"),
        BencodeError::IntegerOverflow { offset: 1 }
    );
    assert_eq!(
        err(b"i-9223372036854775809e"),
        BencodeError::IntegerOverflow { offset: 1 }
    );
    assert!(matches!(
        err(b"i99999999999999999999999999999999e"),
        BencodeError::IntegerOverflow { .. }
    ));
}

#[test]
fn non_canonical_integers_rejected() {
    for bad in [&b"i03e"[..], b"i-03e", b"i00e"] {
        assert!(
            matches!(
                err(bad),
                BencodeError::InvalidInteger {
                    reason: "leading zero",
                    ..
                }
            ),
            "{bad:?}"
        );
    }
    assert_eq!(
        err(b"i-0e"),
        BencodeError::InvalidInteger {
            offset: 1,
            reason: "negative zero"
        }
    );
    assert!(matches!(err(b"ie"), BencodeError::InvalidInteger { offset: 1, .. }));
    assert!(matches!(err(b"i-e"), BencodeError::InvalidInteger { offset: 1, .. }));
    assert!(matches!(err(b"i+1e"), BencodeError::InvalidInteger { .. }));
    assert!(matches!(
        err(b"i1.5e"),
        BencodeError::UnexpectedByte {
            offset: 2,
            byte: b'.',
            ..
        }
    ));
}

#[test]
fn non_canonical_lengths_rejected() {
    assert!(matches!(err(b"04:spam"), BencodeError::InvalidLength { offset: 0, .. }));
    assert!(matches!(
        err(b"99999999999999999999999:x"),
        BencodeError::InvalidLength { offset: 0, .. }
    ));
    assert!(matches!(err(b"4spam"), BencodeError::UnexpectedByte { offset: 1, .. }));
}

#[test]
fn length_checked_before_allocation() {
    // Claims ~18 EB: must fail on the length check, not try to allocate.
    assert_eq!(
        err(b"18446744073709551615:abc"),
        BencodeError::LengthExceedsInput {
            offset: 0,
            length: u64::MAX,
            available: 3
        }
    );
    assert_eq!(
        err(b"l5:abce"),
        BencodeError::LengthExceedsInput {
            offset: 1,
            length: 5,
            available: 4
        }
    );
}

#[test]
fn dict_key_order_enforced() {
    assert_eq!(err(b"d3:fooi1e3:bari2ee"), BencodeError::UnsortedKeys { offset: 9 });
    assert_eq!(err(b"d3:fooi1e3:fooi2ee"), BencodeError::DuplicateKey { offset: 9 });
    // Raw byte order, not string order: "a" < "ab" < "b".
    assert!(decode(b"d1:ai1e2:abi2e1:bi3ee").is_ok());
    assert_eq!(err(b"di1ei2ee"), BencodeError::KeyNotString { offset: 1 });
}

#[test]
fn truncated_input_rejected() {
    for bad in [
        &b""[..],
        b"i",
        b"i12",
        b"l",
        b"li1e",
        b"d",
        b"d3:foo",
        b"d3:fooi1e",
        b"3:",
        b"3",
    ] {
        let e = err(bad);
        assert!(
            matches!(
                e,
                BencodeError::UnexpectedEof { .. } | BencodeError::LengthExceedsInput { .. }
            ),
            "{bad:?} -> {e:?}"
        );
        if let BencodeError::UnexpectedEof { offset } = e {
            assert_eq!(offset, bad.len());
        }
    }
}

#[test]
fn trailing_data_rejected_but_prefix_allowed() {
    assert_eq!(err(b"i1ei2e"), BencodeError::TrailingData { offset: 3 });
    assert_eq!(err(b"dex"), BencodeError::TrailingData { offset: 2 });
    let (v, used) = decode_prefix(b"d8:msg_typei1eeRAWDATA").unwrap();
    assert_eq!(used, 15);
    assert_eq!(v.get("msg_type"), Some(&Value::Int(1)));
}

#[test]
fn bad_start_byte() {
    assert!(matches!(
        err(b"x"),
        BencodeError::UnexpectedByte {
            offset: 0,
            byte: b'x',
            ..
        }
    ));
    assert!(matches!(
        err(b"l-e"),
        BencodeError::UnexpectedByte {
            offset: 1,
            byte: b'-',
            ..
        }
    ));
}

#[test]
fn depth_limit() {
    let ok = [vec![b'l'; MAX_DEPTH], vec![b'e'; MAX_DEPTH]].concat();
    assert!(decode(&ok).is_ok());
    let deep = [vec![b'l'; MAX_DEPTH + 1], vec![b'e'; MAX_DEPTH + 1]].concat();
    assert_eq!(err(&deep), BencodeError::TooDeep { offset: MAX_DEPTH });
    let mut dicts = Vec::new();
    for _ in 0..=MAX_DEPTH {
        dicts.extend_from_slice(b"d1:a");
    }
    assert!(matches!(err(&dicts), BencodeError::TooDeep { .. }));
    // A megabyte of 'l' must not overflow the stack.
    assert!(matches!(err(&vec![b'l'; 1 << 20]), BencodeError::TooDeep { .. }));
    assert!(matches!(err(&b"d1:a".repeat(1 << 18)), BencodeError::TooDeep { .. }));
}

#[test]
fn offsets_in_nested_values() {
    assert_eq!(
        err(b"d1:ad1:bi01eee"),
        BencodeError::InvalidInteger {
            offset: 9,
            reason: "leading zero"
        }
    );
    assert_eq!(err(b"d1:ad1:bi01eee").offset(), 9);
}

#[test]
fn encodes_canonically() {
    let v = Value::dict([
        ("z", Value::Int(-3)),
        ("a", Value::List(vec![Value::string("x"), Value::Int(0)])),
    ]);
    assert_eq!(encode(&v), b"d1:al1:xi0ee1:zi-3ee");
    let mut out = b"prefix".to_vec();
    encode_into(&Value::Int(i64::MIN), &mut out);
    assert_eq!(out, b"prefixi-9223372036854775808e");
}

#[test]
fn dict_value_span_is_raw() {
    let input = b"d8:announce3:url4:infod4:name1:x6:lengthi1eee";
    // "name" > "length" is unsorted -> the whole input is refused.
    assert!(matches!(
        find_dict_value_span(input, b"info"),
        Err(BencodeError::UnsortedKeys { .. })
    ));
    let input = b"d8:announce3:url4:infod6:lengthi1e4:name1:xe3:zzzi0ee";
    assert_eq!(
        find_dict_value_span(input, b"info").unwrap(),
        Some(&b"d6:lengthi1e4:name1:xe"[..])
    );
    assert_eq!(find_dict_value_span(input, b"zzz").unwrap(), Some(&b"i0e"[..]));
    assert_eq!(find_dict_value_span(input, b"nope").unwrap(), None);
    // Nested keys named "info" are not top-level entries.
    assert_eq!(find_dict_value_span(b"d1:ad4:infoi1eee", b"info").unwrap(), None);
    assert_eq!(
        find_dict_value_span(b"li1ee", b"info"),
        Err(BencodeError::NotADict { offset: 0 })
    );
    assert!(matches!(
        find_dict_value_span(b"de1", b"info"),
        Err(BencodeError::TrailingData { offset: 2 })
    ));
    assert!(matches!(
        find_dict_value_span(b"x", b"info"),
        Err(BencodeError::UnexpectedByte { .. })
    ));
}

#[test]
fn accessors_on_wrong_kind() {
    let v = Value::Int(1);
    assert_eq!(v.as_bytes(), None);
    assert_eq!(v.as_str(), None);
    assert_eq!(v.as_list(), None);
    assert_eq!(v.as_dict(), None);
    assert_eq!(v.get("a"), None);
    assert_eq!(Value::Bytes(vec![0xff]).as_str(), None);
    assert_eq!(Value::string("a").as_int(), None);
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            proptest::collection::btree_map(proptest::collection::vec(any::<u8>(), 0..8), inner, 0..8)
                .prop_map(Value::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn round_trip(v in arb_value()) {
        let bytes = encode(&v);
        prop_assert_eq!(decode(&bytes).unwrap(), v.clone());
        let (p, used) = decode_prefix(&[bytes.as_slice(), b"junk"].concat()).unwrap();
        prop_assert_eq!(p, v);
        prop_assert_eq!(used, bytes.len());
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(v) = decode(&bytes) {
            // Strict decoding means accepted input is canonical.
            prop_assert_eq!(encode(&v), bytes.clone());
        }
        let _ = decode_prefix(&bytes);
        let _ = find_dict_value_span(&bytes, b"info");
    }

    #[test]
    fn never_panics_on_bencode_alphabet(
        bytes in proptest::collection::vec(
            prop_oneof![Just(b'i'), Just(b'l'), Just(b'd'), Just(b'e'), Just(b':'),
                        Just(b'-'), Just(b'0'), Just(b'1'), Just(b'2'), Just(b'a')],
            0..128,
        )
    ) {
        if let Ok(v) = decode(&bytes) {
            prop_assert_eq!(encode(&v), bytes.clone());
        }
        if let Err(e) = decode(&bytes) {
            prop_assert!(e.offset() <= bytes.len());
        }
    }
}

#[test]
fn lenient_accepts_unsorted_keys() {
    let input = b"d8:intervali1800e5:peers0:8:completei3ee";
    assert!(matches!(decode(input), Err(BencodeError::UnsortedKeys { .. })));
    let v = decode_lenient(input).unwrap();
    assert_eq!(v.get("interval").and_then(Value::as_int), Some(1800));
    assert_eq!(v.get("complete").and_then(Value::as_int), Some(3));
    // Nested dictionaries are lenient too.
    let nested = decode_lenient(
        b"l d1:bi1e1:ai2ee e"
            .as_slice()
            .iter()
            .copied()
            .filter(|b| *b != b' ')
            .collect::<Vec<_>>()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(nested.as_list().unwrap()[0].get("a").and_then(Value::as_int), Some(2));
}

#[test]
fn lenient_still_refuses_what_strict_refuses() {
    assert_eq!(
        decode_lenient(b"d1:bi1e1:ai2e1:bi3ee").unwrap_err(),
        BencodeError::DuplicateKey { offset: 13 }
    );
    assert_eq!(
        decode_lenient(b"d1:ai1e1:ai1ee").unwrap_err(),
        BencodeError::DuplicateKey { offset: 7 }
    );
    assert!(matches!(
        decode_lenient(b"i03e"),
        Err(BencodeError::InvalidInteger { .. })
    ));
    assert!(matches!(
        decode_lenient(b"d1:ai1e"),
        Err(BencodeError::UnexpectedEof { .. })
    ));
    assert_eq!(
        decode_lenient(b"dexx").unwrap_err(),
        BencodeError::TrailingData { offset: 2 }
    );
    let deep = [vec![b'l'; MAX_DEPTH + 1], vec![b'e'; MAX_DEPTH + 1]].concat();
    assert!(matches!(decode_lenient(&deep), Err(BencodeError::TooDeep { .. })));
}

proptest! {
    #[test]
    fn lenient_agrees_with_strict_on_canonical_input(v in arb_value()) {
        prop_assert_eq!(decode_lenient(&encode(&v)).unwrap(), v);
    }

    #[test]
    fn lenient_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_lenient(&bytes);
    }
}
