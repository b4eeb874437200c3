//! BEP 14 local service discovery: the `BT-SEARCH` announce and when to send it.
//!
//! An announce is a small HTTP-like datagram sent to a multicast group:
//!
//! ```text
//! BT-SEARCH * HTTP/1.1\r\n
//! Host: 239.192.152.143:6771\r\n
//! Port: 6881\r\n
//! Infohash: <40 hex digits>\r\n      (one line per torrent, several allowed)
//! cookie: <ours>\r\n                 (so we can ignore our own announces)
//! \r\n\r\n
//! ```
//!
//! Received datagrams are hostile input: size, line count and the number of
//! info-hashes are bounded, and anything malformed is refused with a named reason.
//! [`LsdSchedule`] decides which torrents to announce when: each every
//! [`ANNOUNCE_INTERVAL`], batched, and at most [`MAX_DATAGRAMS_PER_ROUND`] datagrams
//! per call.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::types::InfoHash;

/// The BEP 14 IPv4 multicast group and port.
pub const LSD_GROUP_V4: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 192, 152, 143), 6771);
/// The BEP 14 IPv6 multicast group (same port).
pub const LSD_GROUP_V6: &str = "[ff15::efc0:988f]:6771";
/// Each torrent is announced this often (BEP 14 suggests no more than once a minute;
/// libtorrent uses 5 minutes).
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Datagrams larger than this are refused (BEP 14 keeps them under one packet).
pub const MAX_DATAGRAM: usize = 1400;
/// Info-hashes per announce we send: 20 lines of 50 bytes stay under [`MAX_DATAGRAM`].
pub const MAX_HASHES_PER_ANNOUNCE: usize = 20;
/// Info-hashes read from one received announce; more are ignored.
pub const MAX_HASHES_READ: usize = 32;
/// Header lines read from one received announce; more make it malformed.
pub const MAX_LINES: usize = 48;
/// Datagrams one [`LsdSchedule::due`] call returns at most: a session with
/// thousands of torrents spreads its announces over many rounds.
pub const MAX_DATAGRAMS_PER_ROUND: usize = 4;
/// The longest cookie we read or send.
pub const MAX_COOKIE_LEN: usize = 64;

/// One `BT-SEARCH` announce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsdAnnounce {
    /// The TCP port the sender accepts peers on.
    pub port: u16,
    pub info_hashes: Vec<InfoHash>,
    /// An opaque token the sender uses to recognise its own announces.
    pub cookie: Option<String>,
}

/// Why a datagram is not an announce we take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LsdError {
    #[error("LSD datagram of {0} bytes is over the {max} byte limit", max = MAX_DATAGRAM)]
    TooLarge(usize),
    #[error("LSD datagram is not text")]
    NotText,
    #[error("LSD datagram does not start with `BT-SEARCH * HTTP/1.1`")]
    NotBtSearch,
    #[error("LSD announce has more than {max} lines", max = MAX_LINES)]
    TooManyLines,
    #[error("LSD announce has no valid `Port`")]
    BadPort,
    #[error("LSD announce has an `Infohash` that is not 40 hex digits: {0:?}")]
    BadInfoHash(String),
    #[error("LSD announce names no info-hash")]
    NoInfoHash,
}

impl LsdAnnounce {
    /// The datagram, with `host` (the group address as text) in its `Host` line.
    pub fn encode(&self, host: &str) -> Vec<u8> {
        let mut out = format!("BT-SEARCH * HTTP/1.1\r\nHost: {host}\r\nPort: {}\r\n", self.port);
        for h in &self.info_hashes {
            out.push_str("Infohash: ");
            out.push_str(&h.to_string());
            out.push_str("\r\n");
        }
        if let Some(cookie) = &self.cookie {
            out.push_str("cookie: ");
            out.push_str(cookie);
            out.push_str("\r\n");
        }
        out.push_str("\r\n\r\n");
        out.into_bytes()
    }

    /// Parses a datagram. Header names are case-insensitive; unknown headers are
    /// ignored; at most [`MAX_HASHES_READ`] info-hashes are kept.
    pub fn decode(datagram: &[u8]) -> Result<LsdAnnounce, LsdError> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(LsdError::TooLarge(datagram.len()));
        }
        let text = std::str::from_utf8(datagram).map_err(|_| LsdError::NotText)?;
        let mut lines = text.split("\r\n").map(|l| l.trim_end_matches('\n'));
        let first = lines.next().unwrap_or_default();
        if !first.trim().eq_ignore_ascii_case("BT-SEARCH * HTTP/1.1") {
            return Err(LsdError::NotBtSearch);
        }
        let mut port = None;
        let mut info_hashes = Vec::new();
        let mut cookie = None;
        for (n, line) in lines.enumerate() {
            if n >= MAX_LINES {
                return Err(LsdError::TooManyLines);
            }
            if line.is_empty() {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "port" => port = value.parse::<u16>().ok().filter(|&p| p != 0),
                "infohash" => {
                    if info_hashes.len() < MAX_HASHES_READ {
                        info_hashes.push(parse_hex_hash(value)?);
                    }
                }
                "cookie" if value.len() <= MAX_COOKIE_LEN => cookie = Some(value.to_owned()),
                _ => {}
            }
        }
        let port = port.ok_or(LsdError::BadPort)?;
        if info_hashes.is_empty() {
            return Err(LsdError::NoInfoHash);
        }
        Ok(LsdAnnounce {
            port,
            info_hashes,
            cookie,
        })
    }
}

fn parse_hex_hash(text: &str) -> Result<InfoHash, LsdError> {
    let bad = || LsdError::BadInfoHash(text.chars().take(48).collect());
    if text.len() != 40 {
        return Err(bad());
    }
    let mut out = [0u8; 20];
    for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16).ok_or_else(bad)?;
        let lo = (pair[1] as char).to_digit(16).ok_or_else(bad)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Ok(InfoHash(out))
}

/// When each torrent is next announced.
#[derive(Clone, Debug, Default)]
pub struct LsdSchedule {
    next: HashMap<InfoHash, Instant>,
}

impl LsdSchedule {
    pub fn new() -> Self {
        Self::default()
    }

    /// The announces due at `now` among `torrents` (the running, non-private ones):
    /// a torrent seen for the first time is due at once; each one announced is due
    /// again [`ANNOUNCE_INTERVAL`] later. Torrents no longer listed are forgotten.
    /// At most [`MAX_DATAGRAMS_PER_ROUND`] announces of up to
    /// [`MAX_HASHES_PER_ANNOUNCE`] hashes; what does not fit stays due.
    pub fn due(&mut self, torrents: &[InfoHash], port: u16, cookie: &str, now: Instant) -> Vec<LsdAnnounce> {
        let listed: std::collections::HashSet<&InfoHash> = torrents.iter().collect();
        self.next.retain(|h, _| listed.contains(h));
        let mut due: Vec<InfoHash> = torrents
            .iter()
            .filter(|h| self.next.get(h).is_none_or(|at| *at <= now))
            .copied()
            .collect();
        due.sort();
        due.dedup();
        due.truncate(MAX_HASHES_PER_ANNOUNCE * MAX_DATAGRAMS_PER_ROUND);
        for h in &due {
            self.next.insert(*h, now + ANNOUNCE_INTERVAL);
        }
        due.chunks(MAX_HASHES_PER_ANNOUNCE)
            .map(|chunk| LsdAnnounce {
                port,
                info_hashes: chunk.to_vec(),
                cookie: Some(cookie.to_owned()),
            })
            .collect()
    }
}

/// Peers handed on from announces per second, over all senders: a flood of
/// datagrams on the LAN costs a bounded amount of work.
pub const MAX_ACCEPTED_PER_SECOND: u32 = 32;
/// The same peer announcing the same torrent again within this long is not handed
/// on again (it is already in the torrent's peer book).
pub const REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// (peer, torrent) pairs remembered for [`REPEAT_WINDOW`], at most.
pub const MAX_REMEMBERED: usize = 4096;

/// Which announced peers are handed on to their torrents: new ones, within a rate.
#[derive(Clone, Debug, Default)]
pub struct LsdIntake {
    second_start: Option<Instant>,
    accepted: u32,
    seen: HashMap<(SocketAddr, InfoHash), Instant>,
    /// Announced peers not handed on: repeats, or over the rate.
    pub ignored: u64,
}

impl LsdIntake {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `peer` announcing `info_hash` at `now` is handed on; counts it if so.
    pub fn accept(&mut self, peer: SocketAddr, info_hash: InfoHash, now: Instant) -> bool {
        if self
            .second_start
            .is_none_or(|s| now.saturating_duration_since(s) >= Duration::from_secs(1))
        {
            self.second_start = Some(now);
            self.accepted = 0;
        }
        let repeat = self
            .seen
            .get(&(peer, info_hash))
            .is_some_and(|at| now.saturating_duration_since(*at) < REPEAT_WINDOW);
        if repeat || self.accepted >= MAX_ACCEPTED_PER_SECOND {
            self.ignored += 1;
            return false;
        }
        if self.seen.len() >= MAX_REMEMBERED {
            self.seen
                .retain(|_, at| now.saturating_duration_since(*at) < REPEAT_WINDOW);
            if self.seen.len() >= MAX_REMEMBERED {
                self.seen.clear();
            }
        }
        self.seen.insert((peer, info_hash), now);
        self.accepted += 1;
        true
    }
}

#[cfg(test)]
mod tests;
