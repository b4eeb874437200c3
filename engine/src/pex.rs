//! BEP 11 peer exchange (`ut_pex`): the message codec and the per-connection rules.
//!
//! A `ut_pex` payload is a bencoded dictionary of compact address lists: `added`
//! (6 bytes each: IPv4 + port) with one flag byte per address in `added.f`,
//! `dropped`, and the IPv6 twins `added6` / `added6.f` / `dropped6` (18 bytes each).
//! Every list is hostile input: its length must be a whole number of entries, and
//! only the first [`MAX_DECODED_PER_LIST`] entries of a list are kept.
//!
//! [`PexSendState`] remembers what one peer was told, so each round sends only the
//! difference, and [`PexIntake`] bounds how many addresses one peer may hand us.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::bencode::{self, Value};

/// Time between two `ut_pex` messages to one peer (BEP 11: at most one a minute).
pub const PEX_INTERVAL: Duration = Duration::from_secs(60);
/// Most `added` (IPv4 and IPv6 together) and most `dropped` addresses per message we send.
pub const MAX_SENT_PER_MESSAGE: usize = 50;
/// Entries kept from each list of a received message; the rest are ignored. Real
/// clients send at most 50 (BEP 11); a little slack for clients that round up.
pub const MAX_DECODED_PER_LIST: usize = 100;
/// Addresses one peer may give us per [`PEX_INTERVAL`]; past it its messages are
/// ignored until the next interval (a peer cannot flood the peer book).
pub const MAX_ACCEPTED_PER_INTERVAL: usize = 200;

/// `added.f` bit: the peer prefers encrypted connections.
pub const FLAG_PREFERS_ENCRYPTION: u8 = 0x01;
/// `added.f` bit: the peer is a seed (upload only).
pub const FLAG_SEED: u8 = 0x02;
/// `added.f` bit: the peer supports uTP.
pub const FLAG_UTP: u8 = 0x04;
/// `added.f` bit: the peer supports `ut_holepunch`.
pub const FLAG_HOLEPUNCH: u8 = 0x08;
/// `added.f` bit: the connection was outgoing, so the address is reachable.
pub const FLAG_REACHABLE: u8 = 0x10;

/// One `ut_pex` message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PexMessage {
    /// Addresses that joined the sender's swarm, with their `added.f` flags (0 when
    /// the sender gave none).
    pub added: Vec<(SocketAddr, u8)>,
    /// Addresses the sender is no longer connected to.
    pub dropped: Vec<SocketAddr>,
}

/// Why a `ut_pex` payload was refused; fatal to the connection that sent it once
/// it negotiated `ut_pex` (BEP 10: a broken extension message breaks the protocol).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PexError {
    #[error("ut_pex message is not a bencoded dictionary: {0}")]
    NotADict(String),
    #[error("ut_pex `{key}` is not a byte string")]
    NotAString { key: &'static str },
    #[error("ut_pex `{key}` is {len} bytes, not a multiple of {entry}")]
    BadLength {
        key: &'static str,
        len: usize,
        entry: usize,
    },
}

const V4_LEN: usize = 6;
const V6_LEN: usize = 18;

impl PexMessage {
    /// The bencoded payload (without the extended message id).
    pub fn encode(&self) -> Vec<u8> {
        let (mut added, mut added_f, mut added6, mut added6_f) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (addr, flags) in &self.added {
            match addr {
                SocketAddr::V4(_) => {
                    push_compact(&mut added, addr);
                    added_f.push(*flags);
                }
                SocketAddr::V6(_) => {
                    push_compact(&mut added6, addr);
                    added6_f.push(*flags);
                }
            }
        }
        let (mut dropped, mut dropped6) = (Vec::new(), Vec::new());
        for addr in &self.dropped {
            match addr {
                SocketAddr::V4(_) => push_compact(&mut dropped, addr),
                SocketAddr::V6(_) => push_compact(&mut dropped6, addr),
            }
        }
        let mut dict = BTreeMap::new();
        dict.insert(b"added".to_vec(), Value::Bytes(added));
        dict.insert(b"added.f".to_vec(), Value::Bytes(added_f));
        dict.insert(b"added6".to_vec(), Value::Bytes(added6));
        dict.insert(b"added6.f".to_vec(), Value::Bytes(added6_f));
        dict.insert(b"dropped".to_vec(), Value::Bytes(dropped));
        dict.insert(b"dropped6".to_vec(), Value::Bytes(dropped6));
        bencode::encode(&Value::Dict(dict))
    }

    /// Parses a payload. Missing lists are empty; a flags list of the wrong length is
    /// ignored (flags 0); at most [`MAX_DECODED_PER_LIST`] entries of each list are
    /// kept. Port-0 and unspecified addresses are skipped.
    pub fn decode(payload: &Bytes) -> Result<PexMessage, PexError> {
        let (value, _) = bencode::decode_prefix(payload).map_err(|e| PexError::NotADict(e.to_string()))?;
        let dict = value
            .as_dict()
            .ok_or_else(|| PexError::NotADict("top level is not a dictionary".to_owned()))?;
        let list = |key: &'static str, entry: usize| -> Result<&[u8], PexError> {
            match dict.get(key.as_bytes()) {
                None => Ok(&[]),
                Some(v) => {
                    let bytes = v.as_bytes().ok_or(PexError::NotAString { key })?;
                    if bytes.len() % entry != 0 {
                        return Err(PexError::BadLength {
                            key,
                            len: bytes.len(),
                            entry,
                        });
                    }
                    Ok(bytes)
                }
            }
        };
        let flags = |key: &str, count: usize| -> Option<&[u8]> {
            dict.get(key.as_bytes())
                .and_then(Value::as_bytes)
                .filter(|f| f.len() == count)
        };
        let mut msg = PexMessage::default();
        for (key, fkey, entry) in [("added", "added.f", V4_LEN), ("added6", "added6.f", V6_LEN)] {
            let bytes = list(key, entry)?;
            let count = bytes.len() / entry;
            let f = flags(fkey, count);
            for (i, chunk) in bytes.chunks_exact(entry).take(MAX_DECODED_PER_LIST).enumerate() {
                if let Some(addr) = parse_compact(chunk) {
                    msg.added.push((addr, f.map_or(0, |f| f[i])));
                }
            }
        }
        for (key, entry) in [("dropped", V4_LEN), ("dropped6", V6_LEN)] {
            let bytes = list(key, entry)?;
            msg.dropped.extend(
                bytes
                    .chunks_exact(entry)
                    .take(MAX_DECODED_PER_LIST)
                    .filter_map(parse_compact),
            );
        }
        Ok(msg)
    }
}

fn push_compact(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// One compact entry (6 or 18 bytes); None for port 0 or an unspecified address.
fn parse_compact(chunk: &[u8]) -> Option<SocketAddr> {
    let (ip, port) = match chunk.len() {
        V4_LEN => {
            let octets: [u8; 4] = chunk[..4].try_into().ok()?;
            (IpAddr::V4(Ipv4Addr::from(octets)), &chunk[4..])
        }
        V6_LEN => {
            let octets: [u8; 16] = chunk[..16].try_into().ok()?;
            (IpAddr::V6(Ipv6Addr::from(octets)), &chunk[16..])
        }
        _ => return None,
    };
    let port = u16::from_be_bytes([port[0], port[1]]);
    (port != 0 && !ip.is_unspecified()).then_some(SocketAddr::new(ip, port))
}

/// What we told one peer so far, so the next message carries only the change.
#[derive(Clone, Debug, Default)]
pub struct PexSendState {
    told: BTreeSet<SocketAddr>,
    /// When the next message to this peer is due (None: not until the peer
    /// finished its extension handshake with `ut_pex`).
    pub next_due: Option<Instant>,
}

impl PexSendState {
    /// The next message, given the addresses we are connected to now (`current`, with
    /// their flags; the receiver itself left out by the caller), or None if nothing
    /// changed. At most [`MAX_SENT_PER_MESSAGE`] added and as many dropped; the rest
    /// waits for the next round. Remembers what it sent.
    pub fn next_message(&mut self, current: &BTreeMap<SocketAddr, u8>) -> Option<PexMessage> {
        let added: Vec<(SocketAddr, u8)> = current
            .iter()
            .filter(|(a, _)| !self.told.contains(a))
            .take(MAX_SENT_PER_MESSAGE)
            .map(|(a, f)| (*a, *f))
            .collect();
        let dropped: Vec<SocketAddr> = self
            .told
            .iter()
            .filter(|a| !current.contains_key(a))
            .take(MAX_SENT_PER_MESSAGE)
            .copied()
            .collect();
        if added.is_empty() && dropped.is_empty() {
            return None;
        }
        for (a, _) in &added {
            self.told.insert(*a);
        }
        for a in &dropped {
            self.told.remove(a);
        }
        Some(PexMessage { added, dropped })
    }

    /// How many addresses this peer believes we are connected to.
    pub fn told_count(&self) -> usize {
        self.told.len()
    }
}

/// Bounds what one peer may hand us: [`MAX_ACCEPTED_PER_INTERVAL`] addresses per
/// [`PEX_INTERVAL`], the rest ignored.
#[derive(Clone, Debug, Default)]
pub struct PexIntake {
    window_start: Option<Instant>,
    accepted: usize,
    /// Addresses ignored because the peer was over its allowance.
    pub ignored: u64,
}

impl PexIntake {
    /// The addresses of `msg` we take at `now` (its `added`, within the allowance).
    pub fn accept(&mut self, msg: &PexMessage, now: Instant) -> Vec<SocketAddr> {
        let fresh_window = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= PEX_INTERVAL);
        if fresh_window {
            self.window_start = Some(now);
            self.accepted = 0;
        }
        let room = MAX_ACCEPTED_PER_INTERVAL.saturating_sub(self.accepted);
        let take = msg.added.len().min(room);
        self.accepted += take;
        self.ignored += (msg.added.len() - take) as u64;
        msg.added.iter().take(take).map(|(a, _)| *a).collect()
    }
}

#[cfg(test)]
mod tests;
