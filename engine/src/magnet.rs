//! Magnet links (BEP 9): `magnet:?xt=urn:btih:<info-hash>&dn=…&tr=…&x.pe=…`.
//!
//! Only the v1 exact topic (`urn:btih:`) identifies a torrent here: a link with only a
//! v2 topic (`urn:btmh:`) is refused with [`MagnetError::V2Only`]. `so` (BEP 53) selects
//! files. Other parameters we do not use are ignored, as other clients do, so links
//! carrying extras still work.

use std::fmt;
use std::str::FromStr;

use crate::types::InfoHash;

/// A parsed magnet link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagnetLink {
    /// From `xt=urn:btih:`.
    pub info_hash: InfoHash,
    /// `dn`: a name to show until the metadata arrives.
    pub display_name: Option<String>,
    /// `tr` (and `tr.N`): tracker URLs, in order, without duplicates.
    pub trackers: Vec<String>,
    /// `x.pe`: peer addresses as `host:port`, `ipv4:port` or `[ipv6]:port`.
    pub peers: Vec<String>,
    /// `so` (BEP 53): the files to download; `None` = every file.
    pub select_only: Option<FileSelection>,
}

/// BEP 53 `so`: file indexes kept as sorted, merged inclusive ranges, so `so=0-99999`
/// costs one pair rather than 100,000 indexes (what a link holds stays proportional
/// to its length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSelection {
    ranges: Vec<(usize, usize)>,
}

impl FileSelection {
    /// A selection of exactly these ranges (inclusive; any order, overlaps merged).
    pub fn from_ranges(mut ranges: Vec<(usize, usize)>) -> FileSelection {
        ranges.retain(|(a, b)| a <= b);
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        FileSelection { ranges: merged }
    }

    /// Whether file `index` is selected.
    pub fn contains(&self, index: usize) -> bool {
        let at = self.ranges.partition_point(|&(_, last)| last < index);
        self.ranges.get(at).is_some_and(|&(first, _)| first <= index)
    }

    /// Whether any of the first `files` files is selected.
    pub fn selects_any_below(&self, files: usize) -> bool {
        self.ranges.first().is_some_and(|&(first, _)| first < files)
    }

    /// The selected indexes below `files`, in order.
    pub fn indexes_below(&self, files: usize) -> impl Iterator<Item = usize> + '_ {
        self.ranges
            .iter()
            .take_while(move |&&(first, _)| first < files)
            .flat_map(move |&(first, last)| first..=last.min(files.saturating_sub(1)))
    }
}

impl fmt::Display for FileSelection {
    /// The `so` value: `0,2,4-6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, &(a, b)) in self.ranges.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// Most file indexes a `so` parameter may select (ranges included): far above the
/// file count of real torrents, and a bound on what a hostile range allocates.
pub const MAX_SELECT_ONLY: usize = 100_000;

/// Why a magnet link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    /// The input does not start with `magnet:?`.
    #[error("not a magnet link (expected `magnet:?…`)")]
    NotMagnet,
    /// A required parameter is absent.
    #[error("magnet link has no `{param}` parameter (expected `xt=urn:btih:<info-hash>`)")]
    MissingParam {
        /// The parameter name, e.g. `xt`.
        param: &'static str,
    },
    /// The link names only a BitTorrent v2 info-hash, which ccbt cannot fetch.
    #[error("v2-only magnets (urn:btmh) are not supported: the link has no `xt=urn:btih:` v1 info-hash")]
    V2Only,
    /// A parameter we use has an unusable value.
    #[error("invalid magnet parameter `{param}`: {reason}")]
    InvalidParam {
        /// The parameter name as it appears in the link.
        param: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl MagnetLink {
    /// Parses a magnet URI; surrounding whitespace is ignored.
    pub fn parse(input: &str) -> Result<MagnetLink, MagnetError> {
        let s = input.trim();
        let query = match s.get(..8) {
            Some(head) if head.eq_ignore_ascii_case("magnet:?") => &s[8..],
            _ => return Err(MagnetError::NotMagnet),
        };
        let mut info_hash = None;
        let mut display_name = None;
        let mut trackers: Vec<String> = Vec::new();
        let mut peers = Vec::new();
        let mut select_only = None;
        let mut saw_v2 = false;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let key_l = key.to_ascii_lowercase();
            // `tr.1`, `xt.1`…: numbered variants some links use for repeats.
            let base = key_l.split_once('.').map_or(key_l.as_str(), |(b, n)| {
                if n.bytes().all(|c| c.is_ascii_digit()) {
                    b
                } else {
                    key_l.as_str()
                }
            });
            match base {
                "xt" => {
                    let value = decode_value(key, raw)?;
                    let parsed = parse_xt(key, &value)?;
                    saw_v2 |= parsed.is_none();
                    if let Some(h) = parsed {
                        match info_hash {
                            None => info_hash = Some(h),
                            Some(prev) if prev == h => {}
                            Some(_) => {
                                return Err(invalid(key, "several different info-hashes"));
                            }
                        }
                    }
                }
                "dn" => {
                    let value = decode_value(key, raw)?;
                    if !value.is_empty() && display_name.is_none() {
                        display_name = Some(value);
                    }
                }
                "tr" => {
                    let value = decode_value(key, raw)?;
                    if !value.is_empty() && !trackers.contains(&value) {
                        trackers.push(value);
                    }
                }
                "so" => {
                    let value = decode_value(key, raw)?;
                    select_only = Some(parse_select_only(key, &value)?);
                }
                "x.pe" => {
                    // A bad peer hint is no reason to refuse the link: skip it.
                    if let Ok(value) = decode_value(key, raw) {
                        if is_peer_address(&value) && !peers.contains(&value) {
                            peers.push(value);
                        }
                    }
                }
                _ => {}
            }
        }
        let info_hash = match info_hash {
            Some(h) => h,
            None if saw_v2 => return Err(MagnetError::V2Only),
            None => return Err(MagnetError::MissingParam { param: "xt" }),
        };
        Ok(MagnetLink {
            info_hash,
            display_name,
            trackers,
            peers,
            select_only,
        })
    }

    /// The link as a URI: hex info-hash, then `dn`, `tr` and `x.pe`, percent-encoded.
    pub fn to_uri(&self) -> String {
        let mut s = format!("magnet:?xt=urn:btih:{}", self.info_hash.to_hex());
        if let Some(dn) = &self.display_name {
            s.push_str("&dn=");
            percent_encode_into(dn, &mut s);
        }
        for tr in &self.trackers {
            s.push_str("&tr=");
            percent_encode_into(tr, &mut s);
        }
        for pe in &self.peers {
            s.push_str("&x.pe=");
            percent_encode_into(pe, &mut s);
        }
        if let Some(files) = &self.select_only {
            s.push_str(&format!("&so={files}"));
        }
        s
    }
}

impl FromStr for MagnetLink {
    type Err = MagnetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MagnetLink::parse(s)
    }
}

impl fmt::Display for MagnetLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri())
    }
}

fn invalid(param: &str, reason: impl Into<String>) -> MagnetError {
    MagnetError::InvalidParam {
        param: param.to_string(),
        reason: reason.into(),
    }
}

/// The info-hash of a `urn:btih:` topic; `None` for other topics (e.g. v2 `urn:btmh:`).
fn parse_xt(param: &str, value: &str) -> Result<Option<InfoHash>, MagnetError> {
    let digits = match value.get(..9) {
        Some(p) if p.eq_ignore_ascii_case("urn:btih:") => &value[9..],
        _ if value.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("urn:btmh:")) => return Ok(None),
        _ => return Err(invalid(param, format!("expected `urn:btih:…`, got `{value}`"))),
    };
    let hash = match digits.len() {
        40 => InfoHash::from_hex(digits),
        32 => base32_decode(digits).map(InfoHash),
        _ => None,
    };
    hash.map(Some)
        .ok_or_else(|| invalid(param, format!("info-hash `{digits}` is not 40 hex or 32 base32 digits")))
}

/// BEP 53 `so`: comma-separated file indexes and inclusive ranges (`0,2,4-6`).
fn parse_select_only(param: &str, value: &str) -> Result<FileSelection, MagnetError> {
    let index = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| invalid(param, format!("`{s}` is not a file index")))
    };
    let mut ranges = Vec::new();
    let mut selected = 0usize;
    for item in value.split(',') {
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (index(a)?, index(b)?),
            None => {
                let i = index(item)?;
                (i, i)
            }
        };
        if last < first {
            return Err(invalid(param, format!("range `{item}` ends before it starts")));
        }
        // `last` is checked first, so the count below cannot overflow.
        if last >= MAX_SELECT_ONLY {
            return Err(invalid(param, format!("selects more than {MAX_SELECT_ONLY} files")));
        }
        selected += last - first + 1;
        if selected > MAX_SELECT_ONLY {
            return Err(invalid(param, format!("selects more than {MAX_SELECT_ONLY} files")));
        }
        ranges.push((first, last));
    }
    Ok(FileSelection::from_ranges(ranges))
}

/// RFC 4648 base32 without padding, either case: exactly 32 digits, 20 bytes.
fn base32_decode(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut n = 0;
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
        }
    }
    (n == 20 && bits == 0).then_some(out)
}

/// Form-style decoding: `+` is a space, `%XX` a byte; the bytes are read as UTF-8,
/// invalid sequences replaced.
fn decode_value(param: &str, raw: &str) -> Result<String, MagnetError> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                    _ => return Err(invalid(param, "invalid percent-encoding")),
                }
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `host:port` with a non-empty host and a port in 1..=65535.
fn is_peer_address(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok_and(|p| p != 0)
        }
        None => false,
    }
}

fn percent_encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    fn hash() -> InfoHash {
        InfoHash::from_hex(HEX).unwrap()
    }

    #[test]
    fn hex_info_hash() {
        let m = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
        assert_eq!(m.info_hash, hash());
        assert_eq!(m.display_name, None);
        assert!(m.trackers.is_empty() && m.peers.is_empty());
        let upper = MagnetLink::parse(&format!("MAGNET:?XT=URN:BTIH:{}", HEX.to_uppercase()));
        assert_eq!(upper.unwrap().info_hash, hash());
    }

    #[test]
    fn base32_info_hash() {
        // base32 of the same 20 bytes.
        let b32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";
        let m = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{b32}")).unwrap();
        assert_eq!(m.info_hash, hash());
        let lower = format!("magnet:?xt=urn:btih:{}", b32.to_lowercase());
        assert_eq!(MagnetLink::parse(&lower).unwrap().info_hash, hash());
        assert_eq!(base32_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), Some([0; 20]));
        assert_eq!(base32_decode("77777777777777777777777777777777"), Some([0xff; 20]));
        assert_eq!(base32_decode("1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None);
    }

    #[test]
    fn all_params() {
        let uri = format!(
            "magnet:?xt=urn:btih:{HEX}&dn=My+Movie%20%282024%29&tr=http%3A%2F%2Ft1%2Fann\
             &tr=udp://t2:80&tr.1=http%3A%2F%2Ft1%2Fann&x.pe=10.0.0.1:6881\
             &x.pe=%5B%3A%3A1%5D%3A51413&x.pe=bad&ws=http://web/&foo=%zz&&kt=a+b"
        );
        let m = MagnetLink::parse(&uri).unwrap();
        assert_eq!(m.display_name.as_deref(), Some("My Movie (2024)"));
        assert_eq!(m.trackers, vec!["http://t1/ann", "udp://t2:80"]);
        assert_eq!(m.peers, vec!["10.0.0.1:6881", "[::1]:51413"]);
    }

    #[test]
    fn unicode_display_name() {
        let uri = format!("magnet:?xt=urn:btih:{HEX}&dn=%C3%A9t%C3%A9");
        let m = MagnetLink::parse(&uri).unwrap();
        assert_eq!(m.display_name.as_deref(), Some("été"));
    }

    #[test]
    fn missing_or_bad_xt_names_xt() {
        let cases = [
            "magnet:?dn=x".to_string(),
            "magnet:?".to_string(),
            "magnet:?xt=urn:btih:abc".to_string(),
            format!("magnet:?xt=urn:btih:{}", &HEX[..39]),
            format!("magnet:?xt=urn:btih:{}g", &HEX[..39]),
            format!("magnet:?xt=urn:sha1:{HEX}"),
            format!("magnet:?xt=urn:btih:{HEX}%"),
            format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{}", "0".repeat(40)),
            "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1".to_string(),
        ];
        for c in &cases {
            let e = MagnetLink::parse(c).unwrap_err();
            match &e {
                MagnetError::MissingParam { param } => assert_eq!(*param, "xt"),
                MagnetError::InvalidParam { param, .. } => assert_eq!(param, "xt"),
                other => panic!("{c}: {other:?}"),
            }
            assert!(e.to_string().contains("`xt"), "{c}: {e}");
        }
    }

    #[test]
    fn v2_only_links_are_refused_by_name() {
        let e = MagnetLink::parse("magnet:?xt=urn:btmh:1220abcd&dn=x").unwrap_err();
        assert_eq!(e, MagnetError::V2Only);
        assert!(
            e.to_string().contains("v2-only magnets (urn:btmh) are not supported"),
            "{e}"
        );
        assert!(e.to_string().contains("`xt"), "{e}");
    }

    #[test]
    fn select_only_lists_and_ranges() {
        let m = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0,2,4-6,2,10")).unwrap();
        let so = m.select_only.clone().unwrap();
        assert_eq!(so.indexes_below(100).collect::<Vec<_>>(), [0, 2, 4, 5, 6, 10]);
        assert_eq!(so.indexes_below(5).collect::<Vec<_>>(), [0, 2, 4]);
        assert!(so.contains(5) && !so.contains(3) && !so.contains(11));
        assert_eq!(so.to_string(), "0,2,4-6,10");
        assert!(so.selects_any_below(1) && !FileSelection::from_ranges(vec![(3, 4)]).selects_any_below(3));
        let encoded = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=1%2C3-4")).unwrap();
        assert_eq!(encoded.select_only.unwrap().to_string(), "1,3-4");
        assert_eq!(
            MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}"))
                .unwrap()
                .select_only,
            None
        );
        for bad in [
            "",
            "a",
            "1,",
            "3-1",
            "-1",
            "1-2-3",
            "0-99999999999",
            "0-100000",
            "0-18446744073709551615",
        ] {
            let e = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}&so={bad}")).unwrap_err();
            assert!(
                matches!(&e, MagnetError::InvalidParam { param, .. } if param == "so"),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn hybrid_links_use_btih() {
        let uri = format!("magnet:?xt=urn:btmh:1220abcd&xt=urn:btih:{HEX}&xt=urn:btih:{HEX}");
        assert_eq!(MagnetLink::parse(&uri).unwrap().info_hash, hash());
    }

    #[test]
    fn not_a_magnet() {
        for s in [
            "",
            "http://x/",
            "magnet:",
            "magnet:xt=urn:btih:",
            "magnét:?xt",
            "d4:infoe",
        ] {
            assert_eq!(MagnetLink::parse(s), Err(MagnetError::NotMagnet), "{s}");
        }
    }

    #[test]
    fn bad_encoding_in_used_param() {
        let uri = format!("magnet:?xt=urn:btih:{HEX}&tr=http://x/%2");
        assert_eq!(
            MagnetLink::parse(&uri),
            Err(MagnetError::InvalidParam {
                param: "tr".into(),
                reason: "invalid percent-encoding".into()
            })
        );
    }

    #[test]
    fn to_uri_round_trips() {
        let m = MagnetLink {
            info_hash: hash(),
            display_name: Some("a b&c=d/é".into()),
            trackers: vec!["http://t/ann?x=1&y=2".into(), "udp://u:1".into()],
            peers: vec!["[::1]:6881".into()],
            select_only: Some(FileSelection::from_ranges(vec![(0, 0), (3, 3)])),
        };
        let uri = m.to_uri();
        assert!(uri.starts_with(&format!("magnet:?xt=urn:btih:{HEX}&dn=a%20b%26c%3Dd%2F")));
        assert_eq!(MagnetLink::parse(&uri).unwrap(), m);
        assert_eq!(uri.parse::<MagnetLink>().unwrap(), m);
        assert_eq!(m.to_string(), uri);
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,200}") {
            let _ = MagnetLink::parse(&s);
            let _ = MagnetLink::parse(&format!("magnet:?{s}"));
            let _ = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{s}"));
        }

        #[test]
        fn round_trip(bytes in any::<[u8; 20]>(), dn in proptest::option::of(".{1,20}"),
                      trs in proptest::collection::vec("[a-z]{1,5}://[ -~]{1,20}", 0..3)) {
            let mut trackers: Vec<String> = Vec::new();
            for t in trs {
                if !trackers.contains(&t) { trackers.push(t); }
            }
            let m = MagnetLink { info_hash: InfoHash(bytes), display_name: dn, trackers, peers: vec![], select_only: None };
            prop_assert_eq!(MagnetLink::parse(&m.to_uri()).unwrap(), m);
        }
    }
}
