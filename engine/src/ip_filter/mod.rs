//! The IP filter: which peer addresses may never be connected to or accepted.
//!
//! Built from blocklists in the formats people download (see [`line_format`]),
//! fed line by line by the caller (who reads the files, plain or compressed: no
//! I/O here). The result holds millions of ranges compactly, as sorted merged
//! `(start, end)` arrays (u32 for IPv4, u128 for IPv6), and answers a lookup with a
//! binary search. It is immutable once built: the runtime shares one `Arc` of it
//! across its threads and swaps in a new one on reload.
//!
//! Malformed lines never fail a load: they are counted, and the first few are kept
//! with their line number for the report.

pub mod line_format;
pub mod range_set;

use std::net::IpAddr;

pub use line_format::{parse_line, IpRange, LineError, LineFormat, ListLine, EMULE_ALLOW_LEVEL, MAX_LINE_BYTES};
pub use range_set::RangeSet;

/// Most ranges (blocked and allowed, over all lists) one filter is built from; a
/// line beyond it is reported as [`LineError::TooManyRanges`]. Eight million is
/// several times the largest public lists together, and bounds the build's memory
/// (IPv6 ranges take 32 bytes each while building).
pub const MAX_FILTER_RANGES: usize = 8_000_000;
/// Malformed lines kept, with their text, per list.
pub const MALFORMED_EXAMPLES: usize = 5;
/// Characters of a malformed line kept in its example.
const EXAMPLE_CHARS: usize = 120;

/// An immutable set of blocked addresses; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpFilter {
    v4: RangeSet<u32>,
    v6: RangeSet<u128>,
}

impl IpFilter {
    /// A filter that blocks nothing.
    pub fn empty() -> IpFilter {
        IpFilter::default()
    }

    /// Whether a peer at `ip` must be refused. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) is looked up as the IPv4 address it carries.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.v4.contains(u32::from(v4)),
                None => self.v6.contains(u128::from(a)),
            },
        }
    }

    /// Disjoint blocked IPv4 ranges (after merging and allow exceptions).
    pub fn ranges_v4(&self) -> usize {
        self.v4.len()
    }

    /// Disjoint blocked IPv6 ranges.
    pub fn ranges_v6(&self) -> usize {
        self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The blocked IPv4 ranges in order.
    pub fn v4_ranges(&self) -> &RangeSet<u32> {
        &self.v4
    }

    /// The blocked IPv6 ranges in order.
    pub fn v6_ranges(&self) -> &RangeSet<u128> {
        &self.v6
    }
}

/// A line that was not understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedLine {
    /// 1-based.
    pub line: u64,
    pub error: LineError,
    /// The line's start, as text (invalid UTF-8 replaced).
    pub text: String,
}

/// What one list contributed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListReport {
    /// Lines read, comments included.
    pub lines: u64,
    /// Ranges that block (before merging).
    pub blocked: u64,
    /// eMule ranges with an allowing level.
    pub allowed: u64,
    /// Lines not understood; the first [`MALFORMED_EXAMPLES`] are in `examples`.
    pub malformed: u64,
    pub examples: Vec<MalformedLine>,
    /// Ranges read per format, in [`LineFormat::ALL`] order.
    pub formats: [u64; LineFormat::ALL.len()],
}

impl ListReport {
    /// `(format name, ranges)` for the formats seen.
    pub fn formats_seen(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        LineFormat::ALL
            .iter()
            .zip(self.formats.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(f, n)| (f.name(), *n))
    }
}

/// Collects ranges from one or more lists, then builds an [`IpFilter`].
#[derive(Debug, Default)]
pub struct IpFilterBuilder {
    block_v4: Vec<(u32, u32)>,
    block_v6: Vec<(u128, u128)>,
    allow_v4: Vec<(u32, u32)>,
    allow_v6: Vec<(u128, u128)>,
}

impl IpFilterBuilder {
    pub fn new() -> IpFilterBuilder {
        IpFilterBuilder::default()
    }

    /// Starts reading one list; feed it lines with [`ListLoader::push_line`].
    pub fn list(&mut self) -> ListLoader<'_> {
        ListLoader {
            builder: self,
            report: ListReport::default(),
        }
    }

    /// Ranges collected so far (blocked and allowed).
    pub fn ranges(&self) -> usize {
        self.block_v4.len() + self.block_v6.len() + self.allow_v4.len() + self.allow_v6.len()
    }

    /// Adds a range to block.
    pub fn block(&mut self, range: IpRange) -> Result<(), LineError> {
        self.room()?;
        match range {
            IpRange::V4(s, e) => self.block_v4.push((s, e)),
            IpRange::V6(s, e) => self.block_v6.push((s, e)),
        }
        Ok(())
    }

    /// Adds a range that stays allowed whatever blocks it.
    pub fn allow(&mut self, range: IpRange) -> Result<(), LineError> {
        self.room()?;
        match range {
            IpRange::V4(s, e) => self.allow_v4.push((s, e)),
            IpRange::V6(s, e) => self.allow_v6.push((s, e)),
        }
        Ok(())
    }

    fn room(&self) -> Result<(), LineError> {
        if self.ranges() >= MAX_FILTER_RANGES {
            return Err(LineError::TooManyRanges);
        }
        Ok(())
    }

    /// Sorts and merges the ranges and cuts the allowed ones out.
    pub fn build(self) -> IpFilter {
        let v4 = RangeSet::from_ranges(self.block_v4);
        let v6 = RangeSet::from_ranges(self.block_v6);
        IpFilter {
            v4: v4.subtract(&RangeSet::from_ranges(self.allow_v4)),
            v6: v6.subtract(&RangeSet::from_ranges(self.allow_v6)),
        }
    }
}

/// One list being read into an [`IpFilterBuilder`].
pub struct ListLoader<'b> {
    builder: &'b mut IpFilterBuilder,
    report: ListReport,
}

impl ListLoader<'_> {
    /// The next line, without its `\n` (a trailing `\r` is ignored).
    pub fn push_line(&mut self, line: &[u8]) {
        self.report.lines += 1;
        self.push_parsed(line, parse_line(line));
    }

    /// The next line, known to be longer than [`MAX_LINE_BYTES`] (the caller
    /// did not keep it whole): reported malformed with the start it kept.
    pub fn push_overlong_line(&mut self, start: &[u8]) {
        self.report.lines += 1;
        self.push_parsed(start, Err(LineError::TooLong));
    }

    fn push_parsed(&mut self, line: &[u8], parsed: Result<ListLine, LineError>) {
        let added = match parsed {
            Ok(ListLine::Comment) => return,
            Ok(ListLine::Block(range, format)) => self.builder.block(range).map(|()| {
                self.report.blocked += 1;
                format
            }),
            Ok(ListLine::Allow(range, format)) => self.builder.allow(range).map(|()| {
                self.report.allowed += 1;
                format
            }),
            Err(e) => Err(e),
        };
        match added {
            Ok(format) => self.report.formats[format as usize] += 1,
            Err(error) => self.malformed(line, error),
        }
    }

    fn malformed(&mut self, line: &[u8], error: LineError) {
        self.report.malformed += 1;
        if self.report.examples.len() < MALFORMED_EXAMPLES {
            let text: String = String::from_utf8_lossy(line).chars().take(EXAMPLE_CHARS).collect();
            self.report.examples.push(MalformedLine {
                line: self.report.lines,
                error,
                text: text.trim_end().to_string(),
            });
        }
    }

    /// The list is read; what it contributed.
    pub fn finish(self) -> ListReport {
        self.report
    }
}

#[cfg(test)]
mod tests;
