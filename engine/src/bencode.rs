//! Strict bencode (BEP 3) decoding and encoding.
//!
//! The decoder accepts only the canonical form: no leading zeros, no `-0`, dictionary
//! keys strictly ascending, nothing after the value. Canonical input means a decoded
//! value re-encodes to the same bytes, and hostile input is refused early: string
//! lengths are checked against the remaining input before anything is allocated and
//! nesting is capped at [`MAX_DEPTH`], so no input can exhaust memory or the stack.

use std::collections::BTreeMap;

use nom::character::complete::{char, digit1};
use nom::combinator::opt;
use nom::error::{ErrorKind, ParseError};
use nom::IResult;

/// Deepest nesting of lists and dictionaries the decoder accepts.
pub const MAX_DEPTH: usize = 64;

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `i<n>e`
    Int(i64),
    /// `<len>:<bytes>`; not necessarily UTF-8.
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Value>),
    /// `d...e`; a `BTreeMap` keeps keys in the canonical (raw byte) order.
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    /// The integer, if this is an `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The raw bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as `&str`, if it is one and is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is a dictionary.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Looks up `key` if this is a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?.get(key.as_bytes())
    }

    /// A byte string holding `s`.
    pub fn string(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    /// A dictionary from `(key, value)` pairs; a repeated key keeps the last value.
    pub fn dict<'a, I>(entries: I) -> Value
    where
        I: IntoIterator<Item = (&'a str, Value)>,
    {
        Value::Dict(entries.into_iter().map(|(k, v)| (k.as_bytes().to_vec(), v)).collect())
    }
}

/// Why bencoded input was refused; every variant carries the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BencodeError {
    /// The input ended inside a value.
    #[error("bencode: input ends unexpectedly at byte {offset}")]
    UnexpectedEof {
        /// Byte offset (the input length).
        offset: usize,
    },
    /// A byte that cannot appear here.
    #[error("bencode: unexpected byte {byte:#04x} at byte {offset}, expected {expected}")]
    UnexpectedByte {
        /// Byte offset of the bad byte.
        offset: usize,
        /// The bad byte.
        byte: u8,
        /// What the grammar allows here.
        expected: &'static str,
    },
    /// An integer that is not canonical (`i-0e`, `i03e`, `ie`, `i-e`).
    #[error("bencode: invalid integer at byte {offset}: {reason}")]
    InvalidInteger {
        /// Byte offset of the integer's digits.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An integer outside the `i64` range.
    #[error("bencode: integer at byte {offset} does not fit in 64 bits")]
    IntegerOverflow {
        /// Byte offset of the integer's digits.
        offset: usize,
    },
    /// A byte-string length prefix that is not canonical or too large.
    #[error("bencode: invalid string length at byte {offset}: {reason}")]
    InvalidLength {
        /// Byte offset of the length prefix.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A byte string claiming more bytes than the input holds.
    #[error("bencode: string at byte {offset} claims {length} bytes but only {available} remain")]
    LengthExceedsInput {
        /// Byte offset of the length prefix.
        offset: usize,
        /// The claimed length.
        length: u64,
        /// Bytes left after the `:`.
        available: usize,
    },
    /// A dictionary key that is not a byte string.
    #[error("bencode: dictionary key at byte {offset} is not a byte string")]
    KeyNotString {
        /// Byte offset of the key.
        offset: usize,
    },
    /// A dictionary key smaller than the one before it.
    #[error("bencode: dictionary key at byte {offset} is out of order (keys must be sorted)")]
    UnsortedKeys {
        /// Byte offset of the key.
        offset: usize,
    },
    /// A dictionary key equal to the one before it.
    #[error("bencode: duplicate dictionary key at byte {offset}")]
    DuplicateKey {
        /// Byte offset of the repeated key.
        offset: usize,
    },
    /// Lists and dictionaries nested deeper than [`MAX_DEPTH`].
    #[error("bencode: nesting deeper than {max} levels at byte {offset}", max = MAX_DEPTH)]
    TooDeep {
        /// Byte offset of the container that goes too deep.
        offset: usize,
    },
    /// Bytes after a complete value where none are allowed.
    #[error("bencode: trailing data after the value at byte {offset}")]
    TrailingData {
        /// Byte offset of the first extra byte.
        offset: usize,
    },
    /// The input is valid bencode but not a dictionary where one is required.
    #[error("bencode: expected a dictionary at byte {offset}")]
    NotADict {
        /// Byte offset of the value.
        offset: usize,
    },
}

impl BencodeError {
    /// Byte offset in the input where the problem was found.
    pub fn offset(&self) -> usize {
        match self {
            Self::UnexpectedEof { offset }
            | Self::UnexpectedByte { offset, .. }
            | Self::InvalidInteger { offset, .. }
            | Self::IntegerOverflow { offset }
            | Self::InvalidLength { offset, .. }
            | Self::LengthExceedsInput { offset, .. }
            | Self::KeyNotString { offset }
            | Self::UnsortedKeys { offset }
            | Self::DuplicateKey { offset }
            | Self::TooDeep { offset }
            | Self::TrailingData { offset }
            | Self::NotADict { offset } => *offset,
        }
    }

    // Parsers only see the remaining input, so they record how many bytes were left;
    // the entry points turn that into an offset from the start.
    fn rebase(mut self, total: usize) -> Self {
        match &mut self {
            Self::UnexpectedEof { offset }
            | Self::UnexpectedByte { offset, .. }
            | Self::InvalidInteger { offset, .. }
            | Self::IntegerOverflow { offset }
            | Self::InvalidLength { offset, .. }
            | Self::LengthExceedsInput { offset, .. }
            | Self::KeyNotString { offset }
            | Self::UnsortedKeys { offset }
            | Self::DuplicateKey { offset }
            | Self::TooDeep { offset }
            | Self::TrailingData { offset }
            | Self::NotADict { offset } => *offset = total.saturating_sub(*offset),
        }
        self
    }
}

/// Parser error; its offset counts the bytes remaining (see [`BencodeError::rebase`]).
#[derive(Debug)]
struct PErr(BencodeError);

impl<'a> ParseError<&'a [u8]> for PErr {
    fn from_error_kind(input: &'a [u8], _kind: ErrorKind) -> Self {
        PErr(unexpected(input, "valid bencode"))
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = IResult<&'a [u8], T, PErr>;

/// Raw key and raw value bytes of one dictionary entry.
type Span<'a> = (&'a [u8], &'a [u8]);

fn fail<'a, T>(e: BencodeError) -> PResult<'a, T> {
    Err(nom::Err::Failure(PErr(e)))
}

fn unexpected(i: &[u8], expected: &'static str) -> BencodeError {
    match i.first() {
        None => BencodeError::UnexpectedEof { offset: 0 },
        Some(&byte) => BencodeError::UnexpectedByte {
            offset: i.len(),
            byte,
            expected,
        },
    }
}

fn expect<'a>(i: &'a [u8], c: u8, expected: &'static str) -> PResult<'a, ()> {
    match i.split_first() {
        Some((&b, rest)) if b == c => Ok((rest, ())),
        _ => fail(unexpected(i, expected)),
    }
}

/// `i<digits>e`, canonical only.
fn integer(i: &[u8]) -> PResult<'_, i64> {
    let (i, ()) = expect(i, b'i', "'i'")?;
    let body = i;
    let (i, neg) = opt(char('-'))(i)?;
    let (i, digits) = match digit1::<_, PErr>(i) {
        Ok(ok) => ok,
        Err(_) if i.is_empty() => return fail(BencodeError::UnexpectedEof { offset: 0 }),
        Err(_) => {
            return fail(BencodeError::InvalidInteger {
                offset: body.len(),
                reason: "expected a digit",
            })
        }
    };
    let invalid = |reason| {
        fail(BencodeError::InvalidInteger {
            offset: body.len(),
            reason,
        })
    };
    if digits.len() > 1 && digits[0] == b'0' {
        return invalid("leading zero");
    }
    if neg.is_some() && digits == b"0" {
        return invalid("negative zero");
    }
    // Accumulate on the negative side so that i64::MIN is representable.
    let mut acc: i64 = 0;
    for &d in digits {
        acc = match acc.checked_mul(10).and_then(|a| a.checked_sub(i64::from(d - b'0'))) {
            Some(a) => a,
            None => return fail(BencodeError::IntegerOverflow { offset: body.len() }),
        };
    }
    let n = if neg.is_some() {
        acc
    } else {
        match acc.checked_neg() {
            Some(n) => n,
            None => return fail(BencodeError::IntegerOverflow { offset: body.len() }),
        }
    };
    let (i, ()) = expect(i, b'e', "'e' ending the integer")?;
    Ok((i, n))
}

/// `<len>:<bytes>`; borrows from the input so nothing is allocated here.
fn byte_string(i: &[u8]) -> PResult<'_, &[u8]> {
    let start = i;
    let (i, digits) = match digit1::<_, PErr>(i) {
        Ok(ok) => ok,
        Err(_) => return fail(unexpected(i, "a string length")),
    };
    let invalid = |reason| {
        fail(BencodeError::InvalidLength {
            offset: start.len(),
            reason,
        })
    };
    if digits.len() > 1 && digits[0] == b'0' {
        return invalid("leading zero");
    }
    let mut len: u64 = 0;
    for &d in digits {
        len = match len.checked_mul(10).and_then(|l| l.checked_add(u64::from(d - b'0'))) {
            Some(l) => l,
            None => return invalid("too large"),
        };
    }
    let (i, ()) = expect(i, b':', "':' after the string length")?;
    let n = match usize::try_from(len) {
        Ok(n) if n <= i.len() => n,
        _ => {
            return fail(BencodeError::LengthExceedsInput {
                offset: start.len(),
                length: len,
                available: i.len(),
            })
        }
    };
    let (bytes, rest) = i.split_at(n);
    Ok((rest, bytes))
}

/// Which dictionaries the decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyOrder {
    /// Keys strictly ascending: the canonical form (metainfo, wire messages).
    Sorted,
    /// Keys in any order but still unique: what real trackers send.
    Any,
}

/// Any value; `depth` is the number of containers around it.
fn value(i: &[u8], depth: usize, order: KeyOrder) -> PResult<'_, Value> {
    match i.first() {
        Some(b'i') => integer(i).map(|(r, n)| (r, Value::Int(n))),
        Some(b'0'..=b'9') => byte_string(i).map(|(r, s)| (r, Value::Bytes(s.to_vec()))),
        Some(b'l') => list(i, depth + 1, order),
        Some(b'd') => dict(i, depth + 1, order, None),
        _ => fail(unexpected(i, "a value ('i', 'l', 'd' or a digit)")),
    }
}

fn list(i: &[u8], depth: usize, order: KeyOrder) -> PResult<'_, Value> {
    if depth > MAX_DEPTH {
        return fail(BencodeError::TooDeep { offset: i.len() });
    }
    let (mut i, ()) = expect(i, b'l', "'l'")?;
    let mut items = Vec::new();
    loop {
        if let Some((b'e', rest)) = i.split_first() {
            return Ok((rest, Value::List(items)));
        }
        let (rest, v) = value(i, depth, order)?;
        items.push(v);
        i = rest;
    }
}

/// A dictionary; when `spans` is given, also records each entry's raw key and value bytes.
fn dict<'a>(i: &'a [u8], depth: usize, order: KeyOrder, mut spans: Option<&mut Vec<Span<'a>>>) -> PResult<'a, Value> {
    if depth > MAX_DEPTH {
        return fail(BencodeError::TooDeep { offset: i.len() });
    }
    let (mut i, ()) = expect(i, b'd', "'d'")?;
    let mut map = BTreeMap::new();
    let mut prev: Option<&[u8]> = None;
    loop {
        match i.first() {
            Some(b'e') => return Ok((&i[1..], Value::Dict(map))),
            Some(b'0'..=b'9') => {}
            Some(_) => return fail(BencodeError::KeyNotString { offset: i.len() }),
            None => return fail(BencodeError::UnexpectedEof { offset: 0 }),
        }
        let key_at = i.len();
        let (rest, key) = byte_string(i)?;
        if order == KeyOrder::Any {
            if map.contains_key(key) {
                return fail(BencodeError::DuplicateKey { offset: key_at });
            }
        } else if let Some(p) = prev {
            match p.cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return fail(BencodeError::DuplicateKey { offset: key_at }),
                std::cmp::Ordering::Greater => return fail(BencodeError::UnsortedKeys { offset: key_at }),
            }
        }
        prev = Some(key);
        let (after, v) = value(rest, depth, order)?;
        if let Some(spans) = spans.as_deref_mut() {
            spans.push((key, &rest[..rest.len() - after.len()]));
        }
        map.insert(key.to_vec(), v);
        i = after;
    }
}

fn finish<T>(input: &[u8], r: PResult<'_, T>) -> Result<(T, usize), BencodeError> {
    match r {
        Ok((rest, v)) => Ok((v, input.len() - rest.len())),
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(e.0.rebase(input.len())),
        Err(nom::Err::Incomplete(_)) => Err(BencodeError::UnexpectedEof { offset: input.len() }),
    }
}

/// Decodes exactly one value that must span the whole input.
pub fn decode(input: &[u8]) -> Result<Value, BencodeError> {
    decode_whole(input, KeyOrder::Sorted)
}

/// Like [`decode`], but accepts dictionary keys in any order.
///
/// For documents from servers we do not control (tracker responses): many trackers
/// emit keys in insertion order. Everything else is still refused as in [`decode`]:
/// duplicate keys, non-canonical integers, nesting past [`MAX_DEPTH`], truncation and
/// trailing data. The result does not re-encode to the same bytes.
pub fn decode_lenient(input: &[u8]) -> Result<Value, BencodeError> {
    decode_whole(input, KeyOrder::Any)
}

fn decode_whole(input: &[u8], order: KeyOrder) -> Result<Value, BencodeError> {
    let (v, used) = finish(input, value(input, 0, order))?;
    if used != input.len() {
        return Err(BencodeError::TrailingData { offset: used });
    }
    Ok(v)
}

/// Decodes one value from the start of `input`, returning it and the bytes it used;
/// whatever follows is left to the caller (ut_metadata puts raw data after a dict).
pub fn decode_prefix(input: &[u8]) -> Result<(Value, usize), BencodeError> {
    finish(input, value(input, 0, KeyOrder::Sorted))
}

/// Raw bytes of the value stored under `key` in the dictionary that makes up all of
/// `input`, exactly as they appear there; `Ok(None)` if the key is absent.
///
/// The info-hash is the SHA-1 of these bytes, so they must come from the file rather
/// than from re-encoding.
pub fn find_dict_value_span<'a>(input: &'a [u8], key: &[u8]) -> Result<Option<&'a [u8]>, BencodeError> {
    match input.first() {
        Some(b'd') => {}
        Some(_) => {
            // Report a malformed value as such rather than as "not a dict".
            decode(input)?;
            return Err(BencodeError::NotADict { offset: 0 });
        }
        None => return Err(BencodeError::UnexpectedEof { offset: 0 }),
    }
    let mut spans = Vec::new();
    let (_, used) = finish(input, dict(input, 1, KeyOrder::Sorted, Some(&mut spans)))?;
    if used != input.len() {
        return Err(BencodeError::TrailingData { offset: used });
    }
    Ok(spans.into_iter().find(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Encodes `v` in canonical form.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(v, &mut out);
    out
}

/// Appends the canonical encoding of `v` to `out`.
pub fn encode_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Int(n) => {
            out.push(b'i');
            out.extend_from_slice(n.to_string().as_bytes());
            out.push(b'e');
        }
        Value::Bytes(b) => encode_bytes(b, out),
        Value::List(items) => {
            out.push(b'l');
            for item in items {
                encode_into(item, out);
            }
            out.push(b'e');
        }
        Value::Dict(map) => {
            out.push(b'd');
            for (k, v) in map {
                encode_bytes(k, out);
                encode_into(v, out);
            }
            out.push(b'e');
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests;
