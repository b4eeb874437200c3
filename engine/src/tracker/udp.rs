//! The UDP tracker protocol (BEP 15): the packet codec and [`UdpTrackerExchange`], a
//! sans-IO state machine that runs connect/announce/scrape with one tracker.
//!
//! Both sides of the codec are here (requests are also parsed and responses also
//! encoded) so tests, fakes and a future tracker share one definition of the layout.
//! BEP 41 options are neither sent nor needed: trackers must accept requests without.

use std::net::SocketAddr;
use std::time::Duration;

use crate::types::{InfoHash, PeerId};

use super::http::compact_peer;
use super::{bounded_text, AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeStats, TrackerError};
use super::{MAX_PEERS_PER_RESPONSE, MAX_TRACKER_RESPONSE};

mod exchange;
pub use exchange::{
    UdpEvent, UdpRequest, UdpTrackerExchange, CONNECTION_ID_LIFETIME, MAX_RETRANSMIT_EXPONENT, RETRANSMIT_BASE,
};

/// The magic `protocol_id` of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// `action` of connect packets.
pub const ACTION_CONNECT: u32 = 0;
/// `action` of announce packets.
pub const ACTION_ANNOUNCE: u32 = 1;
/// `action` of scrape packets.
pub const ACTION_SCRAPE: u32 = 2;
/// `action` of error responses.
pub const ACTION_ERROR: u32 = 3;

/// Length of a connect request.
pub const CONNECT_REQUEST_LEN: usize = 16;
/// Length of a connect response.
pub const CONNECT_RESPONSE_LEN: usize = 16;
/// Length of an announce request without BEP 41 options.
pub const ANNOUNCE_REQUEST_LEN: usize = 98;
/// Length of an announce response header, before the peers.
pub const ANNOUNCE_RESPONSE_HEADER_LEN: usize = 20;
/// Most info-hashes in one scrape request ("up to about 74" in BEP 15), which keeps the
/// packet under a 1500-byte MTU.
pub const MAX_SCRAPE_HASHES: usize = 74;
/// Largest datagram accepted from a tracker; UDP cannot carry more.
pub const MAX_DATAGRAM: usize = 65_536;

// A UDP datagram is always far below the HTTP body limit.
const _: () = assert!(MAX_DATAGRAM <= MAX_TRACKER_RESPONSE);

/// Address family of the tracker socket: it decides the peer stride in announce
/// responses (6 bytes over IPv4, 18 over IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// Packets exchanged over IPv4.
    V4,
    /// Packets exchanged over IPv6.
    V6,
}

impl IpFamily {
    /// The family of `addr`.
    pub fn of(addr: &SocketAddr) -> Self {
        if addr.is_ipv4() {
            IpFamily::V4
        } else {
            IpFamily::V6
        }
    }

    fn peer_stride(self) -> usize {
        match self {
            IpFamily::V4 => 6,
            IpFamily::V6 => 18,
        }
    }
}

/// A request a client sends, as a tracker parses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Ask for a connection id.
    Connect {
        /// Chosen by the client.
        transaction_id: u32,
    },
    /// An announce; `request.tracker_id` is always `None` (UDP has no tracker id).
    Announce {
        /// From the connect response.
        connection_id: u64,
        /// Chosen by the client.
        transaction_id: u32,
        /// What the client announced.
        request: AnnounceRequest,
    },
    /// A scrape of up to [`MAX_SCRAPE_HASHES`] torrents.
    Scrape {
        /// From the connect response.
        connection_id: u64,
        /// Chosen by the client.
        transaction_id: u32,
        /// The torrents asked about.
        info_hashes: Vec<InfoHash>,
    },
}

/// A response a tracker sends, as a client parses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// A fresh connection id.
    Connect {
        /// Echoed from the request.
        transaction_id: u32,
        /// Valid for [`CONNECTION_ID_LIFETIME`] after it arrives.
        connection_id: u64,
    },
    /// Announce result; only `interval`, `leechers`, `seeders` and `peers` are set.
    Announce {
        /// Echoed from the request.
        transaction_id: u32,
        /// The result.
        response: AnnounceResponse,
    },
    /// Counts per requested torrent, in request order.
    Scrape {
        /// Echoed from the request.
        transaction_id: u32,
        /// One entry per info-hash of the request.
        stats: Vec<ScrapeStats>,
    },
    /// The tracker refused the request.
    Error {
        /// Echoed from the request.
        transaction_id: u32,
        /// The tracker's message, lossily decoded and bounded.
        message: String,
    },
}

impl Response {
    /// The transaction id the response echoes.
    pub fn transaction_id(&self) -> u32 {
        match self {
            Response::Connect { transaction_id, .. }
            | Response::Announce { transaction_id, .. }
            | Response::Scrape { transaction_id, .. }
            | Response::Error { transaction_id, .. } => *transaction_id,
        }
    }
}

/// Bounds-checked big-endian reads; every accessor fails rather than panics.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        let end = at.checked_add(N)?;
        self.0.get(at..end)?.try_into().ok()
    }
    fn u16(&self, at: usize) -> Option<u16> {
        self.bytes(at).map(u16::from_be_bytes)
    }
    fn u32(&self, at: usize) -> Option<u32> {
        self.bytes(at).map(u32::from_be_bytes)
    }
    fn i32(&self, at: usize) -> Option<i32> {
        self.bytes(at).map(i32::from_be_bytes)
    }
    fn u64(&self, at: usize) -> Option<u64> {
        self.bytes(at).map(u64::from_be_bytes)
    }
}

fn bad(packet: &'static str, len: usize, reason: &'static str) -> TrackerError {
    TrackerError::BadPacket { packet, len, reason }
}

/// A connect request.
pub fn connect_request(transaction_id: u32) -> [u8; CONNECT_REQUEST_LEN] {
    let mut p = [0u8; CONNECT_REQUEST_LEN];
    p[0..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    p[8..12].copy_from_slice(&ACTION_CONNECT.to_be_bytes());
    p[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    p
}

/// An announce request. `numwant` above `i32::MAX` is sent as `i32::MAX`; `None` as -1.
pub fn announce_request(connection_id: u64, transaction_id: u32, req: &AnnounceRequest) -> [u8; ANNOUNCE_REQUEST_LEN] {
    let num_want: i32 = req.numwant.map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
    let mut p = [0u8; ANNOUNCE_REQUEST_LEN];
    p[0..8].copy_from_slice(&connection_id.to_be_bytes());
    p[8..12].copy_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    p[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    p[16..36].copy_from_slice(&req.info_hash.0);
    p[36..56].copy_from_slice(&req.peer_id.0);
    p[56..64].copy_from_slice(&req.downloaded.to_be_bytes());
    p[64..72].copy_from_slice(&req.left.to_be_bytes());
    p[72..80].copy_from_slice(&req.uploaded.to_be_bytes());
    p[80..84].copy_from_slice(&req.event.udp_code().to_be_bytes());
    // 84..88: IP address, 0 = "the sender's"; trackers rarely honour anything else.
    p[88..92].copy_from_slice(&req.key.to_be_bytes());
    p[92..96].copy_from_slice(&num_want.to_be_bytes());
    p[96..98].copy_from_slice(&req.port.to_be_bytes());
    p
}

/// A scrape request for the first [`MAX_SCRAPE_HASHES`] of `info_hashes`.
pub fn scrape_request(connection_id: u64, transaction_id: u32, info_hashes: &[InfoHash]) -> Vec<u8> {
    let hashes = &info_hashes[..info_hashes.len().min(MAX_SCRAPE_HASHES)];
    let mut p = Vec::with_capacity(16 + 20 * hashes.len());
    p.extend_from_slice(&connection_id.to_be_bytes());
    p.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    p.extend_from_slice(&transaction_id.to_be_bytes());
    for h in hashes {
        p.extend_from_slice(&h.0);
    }
    p
}

/// Parses a client request (the tracker's side of the codec).
pub fn parse_request(packet: &[u8]) -> Result<Request, TrackerError> {
    let r = Reader(packet);
    let len = packet.len();
    let (Some(head), Some(action), Some(transaction_id)) = (r.u64(0), r.u32(8), r.u32(12)) else {
        return Err(bad("request", len, "shorter than 16 bytes"));
    };
    match action {
        ACTION_CONNECT if head == PROTOCOL_ID => Ok(Request::Connect { transaction_id }),
        ACTION_CONNECT => Err(bad("connect request", len, "wrong protocol id")),
        ACTION_ANNOUNCE => {
            let announce = || -> Option<AnnounceRequest> {
                let event = match r.u32(80)? {
                    0 => AnnounceEvent::None,
                    1 => AnnounceEvent::Completed,
                    2 => AnnounceEvent::Started,
                    3 => AnnounceEvent::Stopped,
                    _ => return None,
                };
                let num_want = r.i32(92)?;
                Some(AnnounceRequest {
                    info_hash: InfoHash(r.bytes(16)?),
                    peer_id: PeerId(r.bytes(36)?),
                    downloaded: r.u64(56)?,
                    left: r.u64(64)?,
                    uploaded: r.u64(72)?,
                    event,
                    key: r.u32(88)?,
                    numwant: u32::try_from(num_want).ok(),
                    port: r.u16(96)?,
                    tracker_id: None,
                })
            };
            let request = announce().ok_or_else(|| bad("announce request", len, "too short or unknown event"))?;
            Ok(Request::Announce {
                connection_id: head,
                transaction_id,
                request,
            })
        }
        ACTION_SCRAPE => {
            let body = &packet[16..];
            if body.is_empty() || !body.len().is_multiple_of(20) || body.len() / 20 > MAX_SCRAPE_HASHES {
                return Err(bad(
                    "scrape request",
                    len,
                    "info-hash list is empty, ragged or too long",
                ));
            }
            let info_hashes = body
                .chunks_exact(20)
                .filter_map(|c| <[u8; 20]>::try_from(c).ok().map(InfoHash))
                .collect();
            Ok(Request::Scrape {
                connection_id: head,
                transaction_id,
                info_hashes,
            })
        }
        _ => Err(bad("request", len, "unknown action")),
    }
}

/// Parses a tracker response. `family` is that of the socket it arrived on;
/// `scrape_count` is the number of info-hashes in the scrape request it answers, if
/// one is outstanding (a shorter scrape response is refused).
pub fn parse_response(packet: &[u8], family: IpFamily, scrape_count: usize) -> Result<Response, TrackerError> {
    let r = Reader(packet);
    let len = packet.len();
    let (Some(action), Some(transaction_id)) = (r.u32(0), r.u32(4)) else {
        return Err(bad("response", len, "shorter than 8 bytes"));
    };
    match action {
        ACTION_CONNECT => {
            let connection_id = r
                .u64(8)
                .ok_or_else(|| bad("connect response", len, "shorter than 16 bytes"))?;
            Ok(Response::Connect {
                transaction_id,
                connection_id,
            })
        }
        ACTION_ANNOUNCE => {
            let stride = family.peer_stride();
            let (Some(interval), Some(leechers), Some(seeders)) = (r.i32(8), r.i32(12), r.i32(16)) else {
                return Err(bad("announce response", len, "shorter than 20 bytes"));
            };
            let peer_bytes = &packet[ANNOUNCE_RESPONSE_HEADER_LEN..];
            if !peer_bytes.len().is_multiple_of(stride) {
                return Err(bad(
                    "announce response",
                    len,
                    "peer list is not a whole number of peers",
                ));
            }
            let peers = peer_bytes
                .chunks_exact(stride)
                .filter_map(compact_peer)
                .take(MAX_PEERS_PER_RESPONSE)
                .collect();
            let secs = u64::try_from(interval).ok().map(Duration::from_secs);
            Ok(Response::Announce {
                transaction_id,
                response: AnnounceResponse {
                    interval: secs,
                    seeders: u32::try_from(seeders).ok(),
                    leechers: u32::try_from(leechers).ok(),
                    peers,
                    ..AnnounceResponse::default()
                },
            })
        }
        ACTION_SCRAPE => {
            let need = scrape_count.min(MAX_SCRAPE_HASHES);
            let body = &packet[8..];
            if body.len() < 12 * need || !body.len().is_multiple_of(12) {
                return Err(bad("scrape response", len, "fewer counts than info-hashes asked"));
            }
            let count = |at: usize| r.i32(at).and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
            let stats = (0..body.len() / 12)
                .take(MAX_SCRAPE_HASHES)
                .map(|i| {
                    let at = 8 + 12 * i;
                    ScrapeStats {
                        seeders: count(at),
                        completed: count(at + 4),
                        leechers: count(at + 8),
                    }
                })
                .collect();
            Ok(Response::Scrape { transaction_id, stats })
        }
        ACTION_ERROR => Ok(Response::Error {
            transaction_id,
            message: bounded_text(&packet[8..]),
        }),
        _ => Err(bad("response", len, "unknown action")),
    }
}

/// Encodes a tracker response (the tracker's side of the codec). Peers of the other
/// family than `family` are left out, as a tracker on that socket would.
pub fn encode_response(response: &Response, family: IpFamily) -> Vec<u8> {
    let mut p = Vec::new();
    let head = |p: &mut Vec<u8>, action: u32, tid: u32| {
        p.extend_from_slice(&action.to_be_bytes());
        p.extend_from_slice(&tid.to_be_bytes());
    };
    let n = |v: Option<u32>| i32::try_from(v.unwrap_or(0)).unwrap_or(i32::MAX).to_be_bytes();
    match response {
        Response::Connect {
            transaction_id,
            connection_id,
        } => {
            head(&mut p, ACTION_CONNECT, *transaction_id);
            p.extend_from_slice(&connection_id.to_be_bytes());
        }
        Response::Announce {
            transaction_id,
            response,
        } => {
            head(&mut p, ACTION_ANNOUNCE, *transaction_id);
            let interval = response
                .interval
                .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
            p.extend_from_slice(&n(interval));
            p.extend_from_slice(&n(response.leechers));
            p.extend_from_slice(&n(response.seeders));
            for peer in &response.peers {
                match (peer, family) {
                    (SocketAddr::V4(a), IpFamily::V4) => p.extend_from_slice(&a.ip().octets()),
                    (SocketAddr::V6(a), IpFamily::V6) => p.extend_from_slice(&a.ip().octets()),
                    _ => continue,
                }
                p.extend_from_slice(&peer.port().to_be_bytes());
            }
        }
        Response::Scrape { transaction_id, stats } => {
            head(&mut p, ACTION_SCRAPE, *transaction_id);
            for s in stats {
                p.extend_from_slice(&n(Some(s.seeders)));
                p.extend_from_slice(&n(Some(s.completed)));
                p.extend_from_slice(&n(Some(s.leechers)));
            }
        }
        Response::Error {
            transaction_id,
            message,
        } => {
            head(&mut p, ACTION_ERROR, *transaction_id);
            p.extend_from_slice(message.as_bytes());
        }
    }
    p
}

#[cfg(test)]
mod tests;
