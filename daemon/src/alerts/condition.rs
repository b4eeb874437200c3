//! An alert rule's condition: a small expression over the session's own figures,
//! parsed with nom and evaluated without allocation.
//!
//! ```text
//! condition  := all ("or" all)*
//! all        := comparison ("and" comparison)*
//! comparison := metric op number
//! metric     := "torrent." NAME | "session." NAME | "disk." NAME
//! op         := "<" | "<=" | ">" | ">=" | "==" | "!="
//! number     := DIGITS ["." DIGITS] [K|M|G|T] ["B" | "iB"] ["/s"]   (K = 1024)
//! ```
//!
//! `and` binds tighter than `or`; there are no parentheses (a rule that needs them
//! is two rules). A condition naming a `torrent.` figure is checked once per
//! torrent; any other once for the session.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{digit1, multispace0, multispace1};
use nom::combinator::{opt, recognize};
use nom::sequence::{pair, preceded};
use nom::IResult;

use super::figures::{Figures, TorrentFigures};

/// Longest condition accepted (the API takes them from users).
pub const MAX_CONDITION_LEN: usize = 512;
/// Most comparisons in one condition.
pub const MAX_COMPARISONS: usize = 16;

/// A figure a condition can compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Torrent(TorrentMetric),
    Session(SessionMetric),
    /// Bytes free on the download directory's filesystem.
    DiskFree,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorrentMetric {
    DownloadRate,
    UploadRate,
    /// Verified share of the wanted bytes, 0 to 1.
    Progress,
    /// Wanted bytes not yet verified.
    Left,
    Peers,
    Ratio,
    HashFailures,
    /// 1 while downloading, else 0.
    Downloading,
    Seeding,
    /// 1 when stopped by an error of its own (disk, files).
    Error,
    Trackers,
    /// Trackers whose last announce failed.
    TrackersFailing,
    /// 1 when it has trackers and every one of them fails.
    AllTrackersFailing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionMetric {
    DownloadRate,
    UploadRate,
    Peers,
    Torrents,
    Downloading,
    Seeding,
    /// Torrents stopped by an error of their own.
    Errors,
    /// Pieces that failed their hash, over the last minute, all torrents.
    HashFailuresPerMin,
}

const TORRENT_METRICS: &[(&str, TorrentMetric)] = &[
    ("download_rate", TorrentMetric::DownloadRate),
    ("upload_rate", TorrentMetric::UploadRate),
    ("progress", TorrentMetric::Progress),
    ("left", TorrentMetric::Left),
    ("peers", TorrentMetric::Peers),
    ("ratio", TorrentMetric::Ratio),
    ("hash_failures", TorrentMetric::HashFailures),
    ("downloading", TorrentMetric::Downloading),
    ("seeding", TorrentMetric::Seeding),
    ("error", TorrentMetric::Error),
    ("trackers", TorrentMetric::Trackers),
    ("trackers_failing", TorrentMetric::TrackersFailing),
    ("all_trackers_failing", TorrentMetric::AllTrackersFailing),
];

const SESSION_METRICS: &[(&str, SessionMetric)] = &[
    ("download_rate", SessionMetric::DownloadRate),
    ("upload_rate", SessionMetric::UploadRate),
    ("peers", SessionMetric::Peers),
    ("torrents", SessionMetric::Torrents),
    ("downloading", SessionMetric::Downloading),
    ("seeding", SessionMetric::Seeding),
    ("errors", SessionMetric::Errors),
    ("hash_failures_per_min", SessionMetric::HashFailuresPerMin),
];

/// Every figure name a condition may use, for errors and docs.
pub fn metric_names() -> Vec<String> {
    let mut names: Vec<String> = TORRENT_METRICS.iter().map(|(n, _)| format!("torrent.{n}")).collect();
    names.extend(SESSION_METRICS.iter().map(|(n, _)| format!("session.{n}")));
    names.push("disk.free".to_string());
    names
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    NotEqual,
}

impl Comparison {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparison::Less => left < right,
            Comparison::LessOrEqual => left <= right,
            Comparison::Greater => left > right,
            Comparison::GreaterOrEqual => left >= right,
            Comparison::Equal => left == right,
            Comparison::NotEqual => left != right,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Test {
    pub metric: Metric,
    pub comparison: Comparison,
    pub value: f64,
}

/// A parsed condition: alternatives (`or`), each a conjunction (`and`) of tests.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    any_of: Vec<Vec<Test>>,
    /// Checked once per torrent (it names a `torrent.` figure).
    per_torrent: bool,
}

/// Why a condition did not parse: where (1-based character column) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ConditionError {
    pub column: usize,
    pub message: String,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        if text.len() > MAX_CONDITION_LEN {
            return Err(ConditionError {
                column: MAX_CONDITION_LEN,
                message: format!("longer than {MAX_CONDITION_LEN} bytes"),
            });
        }
        let column = |rest: &str| text[..text.len() - rest.len()].chars().count() + 1;
        let mut any_of = Vec::new();
        let mut all_of = Vec::new();
        let mut rest = text;
        let mut count = 0;
        loop {
            let (after, test) = comparison(rest).map_err(|message| ConditionError {
                column: column(message.0),
                message: message.1,
            })?;
            count += 1;
            if count > MAX_COMPARISONS {
                return Err(ConditionError {
                    column: column(rest),
                    message: format!("more than {MAX_COMPARISONS} comparisons"),
                });
            }
            all_of.push(test);
            let (after, _) = multispace0::<_, ()>(after).unwrap_or((after, ""));
            if after.is_empty() {
                any_of.push(all_of);
                break;
            }
            if let Ok((next, _)) = keyword(after, "and") {
                rest = next;
            } else if let Ok((next, _)) = keyword(after, "or") {
                any_of.push(std::mem::take(&mut all_of));
                rest = next;
            } else {
                return Err(ConditionError {
                    column: column(after),
                    message: format!("expected `and`, `or` or the end, found `{}`", snippet(after)),
                });
            }
        }
        let per_torrent = any_of.iter().flatten().any(|t| matches!(t.metric, Metric::Torrent(_)));
        Ok(Condition { any_of, per_torrent })
    }

    /// Checked once per torrent rather than once for the session.
    pub fn per_torrent(&self) -> bool {
        self.per_torrent
    }

    /// Whether it holds; `torrent` is the torrent for a per-torrent condition.
    pub fn holds(&self, figures: &Figures<'_>, torrent: Option<&TorrentFigures<'_>>) -> bool {
        self.any_of.iter().any(|all| {
            all.iter().all(|t| match value_of(t.metric, figures, torrent) {
                Some(v) => t.comparison.holds(v, t.value),
                // A figure not known (disk space not measurable): never fires.
                None => false,
            })
        })
    }

    pub fn tests(&self) -> impl Iterator<Item = &Test> {
        self.any_of.iter().flatten()
    }
}

fn value_of(metric: Metric, f: &Figures<'_>, torrent: Option<&TorrentFigures<'_>>) -> Option<f64> {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    Some(match metric {
        Metric::DiskFree => f.disk_free? as f64,
        Metric::Session(m) => {
            let s = &f.session;
            match m {
                SessionMetric::DownloadRate => s.download_rate as f64,
                SessionMetric::UploadRate => s.upload_rate as f64,
                SessionMetric::Peers => s.peers as f64,
                SessionMetric::Torrents => s.torrents as f64,
                SessionMetric::Downloading => s.downloading as f64,
                SessionMetric::Seeding => s.seeding as f64,
                SessionMetric::Errors => s.errors as f64,
                SessionMetric::HashFailuresPerMin => f.hash_failures_per_min as f64,
            }
        }
        Metric::Torrent(m) => {
            let t = torrent?;
            match m {
                TorrentMetric::DownloadRate => t.download_rate as f64,
                TorrentMetric::UploadRate => t.upload_rate as f64,
                TorrentMetric::Progress => t.progress,
                TorrentMetric::Left => t.left as f64,
                TorrentMetric::Peers => t.peers as f64,
                TorrentMetric::Ratio => t.ratio,
                TorrentMetric::HashFailures => f64::from(t.hash_failures),
                TorrentMetric::Downloading => flag(t.downloading),
                TorrentMetric::Seeding => flag(t.seeding),
                TorrentMetric::Error => flag(t.error),
                TorrentMetric::Trackers => f64::from(t.trackers),
                TorrentMetric::TrackersFailing => f64::from(t.trackers_failing),
                TorrentMetric::AllTrackersFailing => flag(t.trackers > 0 && t.trackers_failing >= t.trackers),
            }
        }
    })
}

/// The start of `s`, for an error message.
fn snippet(s: &str) -> String {
    s.chars().take(16).collect()
}

type Failure<'a> = (&'a str, String);

/// `word` as a whole word, with space around it.
fn keyword<'a>(s: &'a str, word: &'static str) -> IResult<&'a str, &'a str, ()> {
    let (s, _) = multispace0(s)?;
    let (s, w) = tag(word)(s)?;
    let (s, _) = multispace1(s)?;
    Ok((s, w))
}

fn comparison(s: &str) -> Result<(&str, Test), Failure<'_>> {
    let (s, _) = multispace0::<_, ()>(s).unwrap_or((s, ""));
    let (after_metric, metric) = metric(s)?;
    let (after_ws, _) = multispace0::<_, ()>(after_metric).unwrap_or((after_metric, ""));
    let (after_op, comparison) = operator(after_ws).map_err(|_| {
        (
            after_ws,
            format!(
                "expected a comparison (<, <=, >, >=, ==, !=) after the figure, found `{}`",
                snippet(after_ws)
            ),
        )
    })?;
    let (after_ws, _) = multispace0::<_, ()>(after_op).unwrap_or((after_op, ""));
    let (rest, value) = number(after_ws)?;
    Ok((
        rest,
        Test {
            metric,
            comparison,
            value,
        },
    ))
}

fn metric(s: &str) -> Result<(&str, Metric), Failure<'_>> {
    let word = |s| -> IResult<&str, &str, ()> {
        recognize(pair(
            take_while1(|c: char| c.is_ascii_alphabetic()),
            opt(preceded(
                tag("."),
                take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_'),
            )),
        ))(s)
    };
    let unknown = |name: &str| format!("unknown figure `{name}`; known: {}", metric_names().join(", "));
    let Ok((rest, name)) = word(s) else {
        return Err((
            s,
            format!(
                "expected a figure such as torrent.download_rate, found `{}`",
                snippet(s)
            ),
        ));
    };
    let found = match name.split_once('.') {
        Some(("torrent", n)) => TORRENT_METRICS
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, m)| Metric::Torrent(*m)),
        Some(("session", n)) => SESSION_METRICS
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, m)| Metric::Session(*m)),
        Some(("disk", "free")) => Some(Metric::DiskFree),
        _ => None,
    };
    found.map(|m| (rest, m)).ok_or_else(|| (s, unknown(name)))
}

fn operator(s: &str) -> IResult<&str, Comparison, ()> {
    let (rest, op) = alt((tag("<="), tag(">="), tag("=="), tag("!="), tag("<"), tag(">")))(s)?;
    let comparison = match op {
        "<=" => Comparison::LessOrEqual,
        ">=" => Comparison::GreaterOrEqual,
        "==" => Comparison::Equal,
        "!=" => Comparison::NotEqual,
        "<" => Comparison::Less,
        _ => Comparison::Greater,
    };
    Ok((rest, comparison))
}

/// A number with an optional binary size unit (`512K`, `10M`, `1.5G`, `5GiB`, `10M/s`).
fn number(s: &str) -> Result<(&str, f64), Failure<'_>> {
    let parsed: IResult<&str, &str, ()> = recognize(pair(digit1, opt(preceded(tag("."), digit1))))(s);
    let Ok((rest, digits)) = parsed else {
        return Err((
            s,
            format!("expected a number such as 10, 0.5 or 5G, found `{}`", snippet(s)),
        ));
    };
    let Ok(value) = digits.parse::<f64>() else {
        return Err((s, format!("`{digits}` is not a number")));
    };
    let (rest, power) = match rest.chars().next().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&rest[1..], 1),
        Some('M') => (&rest[1..], 2),
        Some('G') => (&rest[1..], 3),
        Some('T') => (&rest[1..], 4),
        _ => (rest, 0),
    };
    let rest = if power > 0 {
        let rest = rest
            .strip_prefix("iB")
            .or_else(|| rest.strip_prefix('B'))
            .unwrap_or(rest);
        rest.strip_prefix("/s").unwrap_or(rest)
    } else {
        rest
    };
    if rest.starts_with(|c: char| c.is_alphanumeric() || c == '.') {
        return Err((rest, format!("unexpected `{}` after the number", snippet(rest))));
    }
    Ok((rest, value * 1024f64.powi(power)))
}

#[cfg(test)]
mod tests;
