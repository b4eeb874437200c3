//! One line of a blocklist, in whichever format people download, recognised line
//! by line (lists are often concatenations of several sources):
//!
//! | format | example |
//! |---|---|
//! | eMule `ipfilter.dat` | `001.002.004.000 - 001.002.004.255 , 000 , Some Org` |
//! | PeerGuardian P2P | `Some Org, Inc:1.2.4.0-1.2.4.255` |
//! | CIDR | `1.2.4.0/24`, `2001:db8::/32` |
//! | a bare range | `1.2.4.0 - 1.2.4.255`, `2001:db8::1-2001:db8::ff` |
//! | one address | `1.2.4.7`, `2001:db8::7` |
//!
//! Blank lines and lines starting with `#` are comments. eMule octets may carry
//! leading zeros (`001.009.096.105`), read as decimal. An eMule *level* of 128 or
//! more marks a range as allowed (eMule blocks what is below its filter level,
//! 127 by default; qBittorrent ignores such lines): ccbt keeps it as an exception
//! that no blocking line of any list overrides. PeerGuardian's P2P format is IPv4
//! only, as the format itself is; the others take IPv6 as well.

use std::net::Ipv6Addr;

/// Longest line read; anything longer is malformed (real lines are under 200 bytes).
pub const MAX_LINE_BYTES: usize = 1024;
/// Lowest eMule access level that means "allowed".
pub const EMULE_ALLOW_LEVEL: u32 = 128;

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpRange {
    V4(u32, u32),
    V6(u128, u128),
}

/// The format a line was recognised as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineFormat {
    Emule,
    P2p,
    Cidr,
    Range,
    Single,
}

impl LineFormat {
    pub const ALL: [LineFormat; 5] = [
        LineFormat::Emule,
        LineFormat::P2p,
        LineFormat::Cidr,
        LineFormat::Range,
        LineFormat::Single,
    ];

    /// The lower-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            LineFormat::Emule => "emule",
            LineFormat::P2p => "p2p",
            LineFormat::Cidr => "cidr",
            LineFormat::Range => "range",
            LineFormat::Single => "single",
        }
    }
}

/// What one line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListLine {
    /// Blank or a comment.
    Comment,
    Block(IpRange, LineFormat),
    /// An eMule line with a level of [`EMULE_ALLOW_LEVEL`] or more.
    Allow(IpRange, LineFormat),
}

/// Why a line was not understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    #[error("not an IP address")]
    BadAddress,
    #[error("a range from an IPv4 to an IPv6 address")]
    MixedFamilies,
    #[error("the range ends before it starts")]
    Reversed,
    #[error("the eMule access level is not a number from 0 to 255")]
    BadLevel,
    #[error("the prefix length is not a number within the address size")]
    BadPrefix,
    #[error("more ranges than the filter holds")]
    TooManyRanges,
}

/// Reads one line (without its line break).
pub fn parse_line(raw: &[u8]) -> Result<ListLine, LineError> {
    if raw.len() > MAX_LINE_BYTES {
        return Err(LineError::TooLong);
    }
    // Descriptions may be Latin-1; addresses are ASCII either way.
    let text = String::from_utf8_lossy(raw);
    let line = text.trim_start_matches('\u{feff}').trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(ListLine::Comment);
    }
    if let Some(range) = p2p_range(line) {
        return range.map(|r| ListLine::Block(r, LineFormat::P2p));
    }
    if let Some((range_part, rest)) = line.split_once(',') {
        let range = range(range_part)?;
        let level_part = rest.split(',').next().unwrap_or("").trim();
        let level: u32 = level_part.parse().map_err(|_| LineError::BadLevel)?;
        if level > 255 {
            return Err(LineError::BadLevel);
        }
        return Ok(if level >= EMULE_ALLOW_LEVEL {
            ListLine::Allow(range, LineFormat::Emule)
        } else {
            ListLine::Block(range, LineFormat::Emule)
        });
    }
    if line.contains('/') {
        return cidr(line).map(|r| ListLine::Block(r, LineFormat::Cidr));
    }
    if line.contains('-') {
        return range(line).map(|r| ListLine::Block(r, LineFormat::Range));
    }
    let one = address(line)?;
    Ok(ListLine::Block(
        match one {
            Address::V4(a) => IpRange::V4(a, a),
            Address::V6(a) => IpRange::V6(a, a),
        },
        LineFormat::Single,
    ))
}

/// `description:a.b.c.d-e.f.g.h`: the last `:` splits it (descriptions contain
/// colons and commas). `None` when the line is not of this shape at all.
fn p2p_range(line: &str) -> Option<Result<IpRange, LineError>> {
    let (_, tail) = line.rsplit_once(':')?;
    let (a, b) = tail.split_once('-')?;
    let (a, b) = (ipv4(a.trim())?, ipv4(b.trim())?);
    Some(if a <= b {
        Ok(IpRange::V4(a, b))
    } else {
        Err(LineError::Reversed)
    })
}

#[derive(Clone, Copy)]
enum Address {
    V4(u32),
    V6(u128),
}

/// `start - end` (spaces optional).
fn range(text: &str) -> Result<IpRange, LineError> {
    // An IPv6 address has no '-', so the first one splits the range.
    let (a, b) = text.split_once('-').ok_or(LineError::BadAddress)?;
    match (address(a.trim())?, address(b.trim())?) {
        (Address::V4(a), Address::V4(b)) if a <= b => Ok(IpRange::V4(a, b)),
        (Address::V6(a), Address::V6(b)) if a <= b => Ok(IpRange::V6(a, b)),
        (Address::V4(_), Address::V4(_)) | (Address::V6(_), Address::V6(_)) => Err(LineError::Reversed),
        _ => Err(LineError::MixedFamilies),
    }
}

/// `address/prefix`.
fn cidr(text: &str) -> Result<IpRange, LineError> {
    let (addr, prefix) = text.split_once('/').ok_or(LineError::BadAddress)?;
    let prefix = prefix.trim();
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LineError::BadPrefix);
    }
    let bits: u32 = prefix.parse().map_err(|_| LineError::BadPrefix)?;
    match address(addr.trim())? {
        Address::V4(a) => {
            if bits > 32 {
                return Err(LineError::BadPrefix);
            }
            let host = u32::MAX.checked_shr(bits).unwrap_or(0);
            Ok(IpRange::V4(a & !host, a | host))
        }
        Address::V6(a) => {
            if bits > 128 {
                return Err(LineError::BadPrefix);
            }
            let host = u128::MAX.checked_shr(bits).unwrap_or(0);
            Ok(IpRange::V6(a & !host, a | host))
        }
    }
}

fn address(text: &str) -> Result<Address, LineError> {
    if text.contains(':') {
        let a: Ipv6Addr = text.parse().map_err(|_| LineError::BadAddress)?;
        // An IPv4-mapped address is the IPv4 address (the filter looks them up so).
        return Ok(match a.to_ipv4_mapped() {
            Some(v4) => Address::V4(u32::from(v4)),
            None => Address::V6(u128::from(a)),
        });
    }
    ipv4(text).map(Address::V4).ok_or(LineError::BadAddress)
}

/// A dotted quad whose parts may have leading zeros (eMule's `001.009.096.105`),
/// read as decimal; std refuses those.
fn ipv4(text: &str) -> Option<u32> {
    let mut value: u32 = 0;
    let mut parts = 0;
    for part in text.split('.') {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let octet: u32 = part.parse().ok()?;
        if octet > 255 {
            return None;
        }
        value = (value << 8) | octet;
        parts += 1;
        if parts > 4 {
            return None;
        }
    }
    (parts == 4).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> u32 {
        u32::from_be_bytes(a)
    }

    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }

    #[test]
    fn emule_lines_with_leading_zeros_and_levels() {
        assert_eq!(
            parse_line(b"001.009.096.105 - 001.009.096.110 , 000 , Some Org"),
            Ok(ListLine::Block(
                IpRange::V4(v4([1, 9, 96, 105]), v4([1, 9, 96, 110])),
                LineFormat::Emule
            ))
        );
        assert_eq!(
            parse_line(b"10.0.0.0-10.0.0.255,127,edge of blocked"),
            Ok(ListLine::Block(
                IpRange::V4(v4([10, 0, 0, 0]), v4([10, 0, 0, 255])),
                LineFormat::Emule
            ))
        );
        assert_eq!(
            parse_line(b"010.000.000.000 - 010.000.000.255 , 128 , allowed"),
            Ok(ListLine::Allow(
                IpRange::V4(v4([10, 0, 0, 0]), v4([10, 0, 0, 255])),
                LineFormat::Emule
            ))
        );
        assert_eq!(
            parse_line(b"2001:db8::1 - 2001:db8::ff , 0 , v6"),
            Ok(ListLine::Block(
                IpRange::V6(v6("2001:db8::1"), v6("2001:db8::ff")),
                LineFormat::Emule
            ))
        );
        assert_eq!(parse_line(b"1.2.3.4 - 1.2.3.5 , high , x"), Err(LineError::BadLevel));
        assert_eq!(parse_line(b"1.2.3.4 - 1.2.3.5 , 256 , x"), Err(LineError::BadLevel));
        assert_eq!(parse_line(b"1.2.3.9 - 1.2.3.5 , 0 , x"), Err(LineError::Reversed));
    }

    #[test]
    fn p2p_lines_split_at_the_last_colon() {
        assert_eq!(
            parse_line(b"Some Org, Inc: the net:1.2.4.0-1.2.4.255"),
            Ok(ListLine::Block(
                IpRange::V4(v4([1, 2, 4, 0]), v4([1, 2, 4, 255])),
                LineFormat::P2p
            ))
        );
        assert_eq!(parse_line(b"x:1.2.4.9-1.2.4.1"), Err(LineError::Reversed));
        // Latin-1 in the description is fine.
        assert!(matches!(
            parse_line(b"Soci\xe9t\xe9:3.0.0.0-3.0.0.9"),
            Ok(ListLine::Block(_, LineFormat::P2p))
        ));
    }

    #[test]
    fn cidr_single_and_bare_ranges() {
        assert_eq!(
            parse_line(b"192.168.7.77/24"),
            Ok(ListLine::Block(
                IpRange::V4(v4([192, 168, 7, 0]), v4([192, 168, 7, 255])),
                LineFormat::Cidr
            ))
        );
        assert_eq!(
            parse_line(b"0.0.0.0/0"),
            Ok(ListLine::Block(IpRange::V4(0, u32::MAX), LineFormat::Cidr))
        );
        assert_eq!(
            parse_line(b"2001:db8::/32"),
            Ok(ListLine::Block(
                IpRange::V6(v6("2001:db8::"), v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")),
                LineFormat::Cidr
            ))
        );
        assert_eq!(parse_line(b"1.2.3.4/33"), Err(LineError::BadPrefix));
        assert_eq!(parse_line(b"1.2.3.4/"), Err(LineError::BadPrefix));
        assert_eq!(
            parse_line(b"  127.0.0.2  "),
            Ok(ListLine::Block(
                IpRange::V4(v4([127, 0, 0, 2]), v4([127, 0, 0, 2])),
                LineFormat::Single
            ))
        );
        assert_eq!(
            parse_line(b"::ffff:1.2.3.4"),
            Ok(ListLine::Block(
                IpRange::V4(v4([1, 2, 3, 4]), v4([1, 2, 3, 4])),
                LineFormat::Single
            ))
        );
        assert_eq!(
            parse_line(b"2001:db8::1-2001:db8::5"),
            Ok(ListLine::Block(
                IpRange::V6(v6("2001:db8::1"), v6("2001:db8::5")),
                LineFormat::Range
            ))
        );
        assert_eq!(parse_line(b"1.2.3.4 - ::1"), Err(LineError::MixedFamilies));
    }

    #[test]
    fn comments_blanks_and_garbage() {
        assert_eq!(parse_line(b""), Ok(ListLine::Comment));
        assert_eq!(parse_line(b"   \t"), Ok(ListLine::Comment));
        assert_eq!(parse_line(b"# a comment: 1.2.3.4-1.2.3.5"), Ok(ListLine::Comment));
        assert_eq!(parse_line(b"\xef\xbb\xbf# after a BOM"), Ok(ListLine::Comment));
        for bad in [
            &b"not an address"[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"256.1.1.1",
            b"1.2.3.-4",
            b"1.2.3.4 -",
            b"1.2.3.04444",
            b"\xff\xfe\x00",
        ] {
            assert!(parse_line(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_line(&[b'1'; MAX_LINE_BYTES + 1]), Err(LineError::TooLong));
    }
}
