//! The HTTP tracker protocol: announce URLs (BEP 3), responses with compact (BEP 23),
//! dictionary-model and IPv6 (BEP 7) peers, and scrape (BEP 48).
//!
//! Responses are decoded with [`decode_lenient`] because many trackers emit dictionary
//! keys unsorted; everything else about them is checked as strictly as any other
//! network input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::bencode::{decode_lenient, Value};
use crate::types::InfoHash;

use super::{
    bounded_text, count_u32, AnnounceRequest, AnnounceResponse, ScrapeStats, TrackerError, MAX_PEERS_PER_RESPONSE,
    MAX_TRACKER_ID_LEN,
};

/// Most torrents taken from one scrape response; a full scrape of a big tracker is not
/// something we asked for.
pub const MAX_SCRAPE_ENTRIES: usize = 1000;

/// Bytes per compact IPv4 peer (BEP 23).
const COMPACT_V4: usize = 6;
/// Bytes per compact IPv6 peer (BEP 7).
const COMPACT_V6: usize = 18;

/// Appends `bytes` to `out`, percent-encoding everything but RFC 3986 unreserved
/// characters. Byte-wise, so binary info-hashes and peer ids survive intact.
pub fn percent_encode(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// `url` without its fragment, and the separator that starts our parameters: `&` when
/// the URL already has a query (private trackers put a passkey there), `?` when it has
/// none, nothing when it already ends in `?` or `&`.
fn base_and_separator(url: &str) -> (&str, Option<char>) {
    let base = url.split('#').next().unwrap_or(url);
    let sep = match base.find('?') {
        Some(q) if q + 1 < base.len() && !base.ends_with('&') => Some('&'),
        Some(_) => None,
        None => Some('?'),
    };
    (base, sep)
}

/// The full announce URL for `req` on the tracker at `announce`.
pub fn announce_url(announce: &str, req: &AnnounceRequest) -> String {
    let (base, sep) = base_and_separator(announce);
    let mut url = String::with_capacity(base.len() + 256);
    url.push_str(base);
    url.extend(sep);
    url.push_str("info_hash=");
    percent_encode(&req.info_hash.0, &mut url);
    url.push_str("&peer_id=");
    percent_encode(&req.peer_id.0, &mut url);
    url.push_str(&format!(
        "&port={}&uploaded={}&downloaded={}&left={}&compact=1",
        req.port, req.uploaded, req.downloaded, req.left
    ));
    if let Some(event) = req.event.http_value() {
        url.push_str("&event=");
        url.push_str(event);
    }
    if let Some(n) = req.numwant {
        url.push_str(&format!("&numwant={n}"));
    }
    url.push_str(&format!("&key={:08X}", req.key));
    if let Some(id) = &req.tracker_id {
        url.push_str("&trackerid=");
        percent_encode(id, &mut url);
    }
    url
}

/// The BEP 48 scrape URL of a tracker: the last path component of the announce URL
/// must start with `announce`, which becomes `scrape` (`/announce.php` → `/scrape.php`,
/// the convention trackers follow); any other URL has no scrape. The query is kept.
pub fn scrape_url(announce: &str) -> Option<String> {
    let (base, _) = base_and_separator(announce);
    let (path_part, query) = match base.find('?') {
        Some(q) => base.split_at(q),
        None => (base, ""),
    };
    let authority_start = path_part.find("://").map_or(0, |i| i + 3);
    let slash = path_part.rfind('/')?;
    if slash < authority_start {
        return None;
    }
    let last = &path_part[slash + 1..];
    let rest = last.strip_prefix("announce")?;
    Some(format!("{}scrape{rest}{query}", &path_part[..=slash]))
}

/// The scrape request URL for `hashes` on the scrape endpoint `scrape`.
pub fn scrape_request_url(scrape: &str, hashes: &[InfoHash]) -> String {
    let (base, mut sep) = base_and_separator(scrape);
    let mut url = String::with_capacity(base.len() + hashes.len() * 72);
    url.push_str(base);
    for hash in hashes {
        url.extend(sep);
        sep = Some('&');
        url.push_str("info_hash=");
        percent_encode(&hash.0, &mut url);
    }
    url
}

fn decode_dict(body: &[u8]) -> Result<Value, TrackerError> {
    let v = decode_lenient(body)?;
    if v.as_dict().is_none() {
        return Err(TrackerError::NotADict);
    }
    if let Some(reason) = v.get("failure reason") {
        let text = reason
            .as_bytes()
            .map_or_else(|| "(not a string)".to_string(), bounded_text);
        return Err(TrackerError::Failure(text));
    }
    Ok(v)
}

fn seconds(v: &Value, field: &'static str) -> Result<Option<Duration>, TrackerError> {
    match v.get(field) {
        None => Ok(None),
        Some(Value::Int(n)) => match u64::try_from(*n) {
            Ok(s) => Ok(Some(Duration::from_secs(s))),
            Err(_) => Err(TrackerError::BadField {
                field,
                reason: "negative",
            }),
        },
        Some(_) => Err(TrackerError::BadField {
            field,
            reason: "not an integer",
        }),
    }
}

/// Parses an announce response body. A `failure reason` becomes
/// [`TrackerError::Failure`] carrying the tracker's text.
pub fn parse_announce_response(body: &[u8]) -> Result<AnnounceResponse, TrackerError> {
    let v = decode_dict(body)?;
    let mut peers = Vec::new();
    match v.get("peers") {
        None => {}
        Some(Value::Bytes(b)) => compact_peers(b, COMPACT_V4, "peers", &mut peers)?,
        Some(Value::List(items)) => dict_peers(items, &mut peers),
        Some(_) => {
            return Err(TrackerError::BadField {
                field: "peers",
                reason: "neither a string nor a list",
            })
        }
    }
    match v.get("peers6") {
        None => {}
        Some(Value::Bytes(b)) => compact_peers(b, COMPACT_V6, "peers6", &mut peers)?,
        Some(_) => {
            return Err(TrackerError::BadField {
                field: "peers6",
                reason: "not a string",
            })
        }
    }
    let tracker_id = v
        .get("tracker id")
        .and_then(Value::as_bytes)
        .filter(|id| !id.is_empty() && id.len() <= MAX_TRACKER_ID_LEN)
        .map(<[u8]>::to_vec);
    Ok(AnnounceResponse {
        interval: seconds(&v, "interval")?,
        min_interval: seconds(&v, "min interval")?,
        tracker_id,
        seeders: v.get("complete").and_then(Value::as_int).and_then(count_u32),
        leechers: v.get("incomplete").and_then(Value::as_int).and_then(count_u32),
        warning: v.get("warning message").and_then(Value::as_bytes).map(bounded_text),
        peers,
    })
}

/// Appends compact peers of `stride` bytes (6: IPv4, 18: IPv6) up to the cap.
fn compact_peers(b: &[u8], stride: usize, field: &'static str, out: &mut Vec<SocketAddr>) -> Result<(), TrackerError> {
    if !b.len().is_multiple_of(stride) {
        return Err(TrackerError::BadField {
            field,
            reason: "length is not a whole number of compact peers",
        });
    }
    for chunk in b.chunks_exact(stride) {
        if out.len() >= MAX_PEERS_PER_RESPONSE {
            break;
        }
        if let Some(addr) = compact_peer(chunk) {
            out.push(addr);
        }
    }
    Ok(())
}

/// One compact peer (4 or 16 address bytes, then a big-endian port); port 0 is dropped.
pub(crate) fn compact_peer(chunk: &[u8]) -> Option<SocketAddr> {
    let (ip_bytes, port_bytes) = chunk.split_at(chunk.len().checked_sub(2)?);
    let port = u16::from_be_bytes([port_bytes[0], port_bytes[1]]);
    let ip = match ip_bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(ip_bytes[0], ip_bytes[1], ip_bytes[2], ip_bytes[3])),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(ip_bytes);
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return None,
    };
    (port != 0).then_some(SocketAddr::new(ip, port))
}

/// Dictionary-model peers (`ip`, `port`, `peer id`). Entries whose `ip` is a host name
/// or whose port is out of range are skipped: the engine does no DNS and one bad entry
/// should not cost the rest.
fn dict_peers(items: &[Value], out: &mut Vec<SocketAddr>) {
    for item in items {
        if out.len() >= MAX_PEERS_PER_RESPONSE {
            break;
        }
        let ip = item
            .get("ip")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<IpAddr>().ok());
        let port = item
            .get("port")
            .and_then(Value::as_int)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0);
        if let (Some(ip), Some(port)) = (ip, port) {
            out.push(SocketAddr::new(ip, port));
        }
    }
}

/// Parses a scrape response: `files` maps each raw 20-byte info-hash to its counts.
/// Entries with keys of the wrong length or non-dictionary values are skipped; at most
/// [`MAX_SCRAPE_ENTRIES`] are returned.
pub fn parse_scrape_response(body: &[u8]) -> Result<Vec<(InfoHash, ScrapeStats)>, TrackerError> {
    let v = decode_dict(body)?;
    let files = match v.get("files") {
        Some(Value::Dict(files)) => files,
        Some(_) => {
            return Err(TrackerError::BadField {
                field: "files",
                reason: "not a dictionary",
            })
        }
        None => {
            return Err(TrackerError::BadField {
                field: "files",
                reason: "missing",
            })
        }
    };
    let count = |d: &Value, key: &str| d.get(key).and_then(Value::as_int).and_then(count_u32).unwrap_or(0);
    let mut out = Vec::new();
    for (key, stats) in files {
        if out.len() >= MAX_SCRAPE_ENTRIES {
            break;
        }
        let Ok(hash) = <[u8; 20]>::try_from(key.as_slice()) else {
            continue;
        };
        if stats.as_dict().is_none() {
            continue;
        }
        out.push((
            InfoHash(hash),
            ScrapeStats {
                seeders: count(stats, "complete"),
                completed: count(stats, "downloaded"),
                leechers: count(stats, "incomplete"),
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
