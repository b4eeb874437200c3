//! The `torrent-get` fields: each of Transmission's keys computed from our summary
//! of a torrent, and from its detail (files, peers, trackers) for the keys that
//! need one. Keys are Transmission 4.0's spelling (see `key_names.rs`).

use serde_json::{json, Map, Value};

use super::key_names::snake_case;
use crate::api_types::{FilePriorityName, TorrentDetail, TorrentStateName, TorrentSummary};

/// Bytes in Transmission's "kB" of speeds (its `units.speed-bytes`).
pub const SPEED_UNIT: u64 = 1000;

/// Every field we answer and whether it needs the torrent's detail.
pub const FIELDS: &[(&str, bool)] = &[
    ("activityDate", false),
    ("addedDate", false),
    ("bandwidthPriority", false),
    ("comment", false),
    ("corruptEver", false),
    ("creator", false),
    ("dateCreated", false),
    ("desiredAvailable", false),
    ("doneDate", false),
    ("downloadDir", false),
    ("downloadedEver", false),
    ("downloadLimit", false),
    ("downloadLimited", false),
    ("editDate", false),
    ("error", false),
    ("errorString", false),
    ("eta", false),
    ("etaIdle", false),
    ("file-count", true),
    ("files", true),
    ("fileStats", true),
    ("group", false),
    ("hashString", false),
    ("haveUnchecked", false),
    ("haveValid", false),
    ("honorsSessionLimits", false),
    ("id", false),
    ("isFinished", false),
    ("isPrivate", false),
    ("isStalled", false),
    ("labels", false),
    ("leftUntilDone", false),
    ("magnetLink", true),
    ("manualAnnounceTime", false),
    ("maxConnectedPeers", false),
    ("metadataPercentComplete", false),
    ("name", false),
    ("peer-limit", false),
    ("peers", true),
    ("peersConnected", false),
    ("peersFrom", true),
    ("peersGettingFromUs", true),
    ("peersSendingToUs", true),
    ("percentComplete", false),
    ("percentDone", false),
    ("pieceCount", true),
    ("pieceSize", true),
    ("priorities", true),
    ("queuePosition", false),
    ("rateDownload", false),
    ("rateUpload", false),
    ("recheckProgress", false),
    ("secondsDownloading", false),
    ("secondsSeeding", false),
    ("seedIdleLimit", false),
    ("seedIdleMode", false),
    ("seedRatioLimit", false),
    ("seedRatioMode", false),
    ("sequentialDownload", false),
    ("sizeWhenDone", false),
    ("startDate", false),
    ("status", false),
    ("torrentFile", false),
    ("totalSize", false),
    ("trackerList", true),
    ("trackerStats", true),
    ("trackers", true),
    ("uploadLimit", false),
    ("uploadLimited", false),
    ("uploadRatio", false),
    ("uploadedEver", false),
    ("wanted", true),
    ("webseeds", false),
    ("webseedsSendingToUs", false),
];

/// The fields a request names, as our keys; unknown names are left out, as
/// Transmission leaves them out of its answer.
pub fn requested(names: &[String]) -> Vec<(&'static str, bool)> {
    let wanted: Vec<String> = names.iter().map(|n| snake_case(n)).collect();
    FIELDS
        .iter()
        .filter(|(key, _)| wanted.iter().any(|w| *w == snake_case(key)))
        .copied()
        .collect()
}

/// Transmission's `status` (0 stopped, 1 check-wait, 2 check, 3 download-wait,
/// 4 download, 5 seed-wait, 6 seed) of one of our states.
pub fn status(state: TorrentStateName, complete: bool) -> u8 {
    match state {
        TorrentStateName::Paused | TorrentStateName::Finished | TorrentStateName::Error => 0,
        TorrentStateName::Checking => 2,
        TorrentStateName::Queued if complete => 5,
        TorrentStateName::Queued => 3,
        // A magnet fetching its metadata shows as downloading, as in Transmission.
        TorrentStateName::Downloading | TorrentStateName::Metadata => 4,
        TorrentStateName::Seeding => 6,
    }
}

/// What the session says about limits a torrent may defer to.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionDefaults {
    pub ratio_limit: Option<f64>,
    pub idle_limit_secs: Option<u64>,
}

/// One torrent as `torrent-get` sees it.
pub struct TorrentView<'a> {
    pub summary: &'a TorrentSummary,
    pub detail: Option<&'a TorrentDetail>,
    pub session: SessionDefaults,
    pub now_unix: u64,
}

fn is_complete(s: &TorrentSummary) -> bool {
    s.progress >= 1.0
}

fn left_until_done(s: &TorrentSummary) -> u64 {
    if is_complete(s) {
        0
    } else {
        ((s.wanted_bytes as f64) * (1.0 - s.progress.clamp(0.0, 1.0))).round() as u64
    }
}

/// Transmission's `seedRatioMode` and `seedIdleMode`: 0 = the session's limit, 1 =
/// its own, 2 = none. Our summary carries the limit in force, so one equal to the
/// session's counts as the session's.
pub fn limit_mode(own: Option<f64>, session: Option<f64>) -> u8 {
    match (own, session) {
        (None, None) => 0,
        (None, Some(_)) => 2,
        (Some(a), Some(b)) if (a - b).abs() < 1e-9 => 0,
        (Some(_), _) => 1,
    }
}

fn priority_number(p: FilePriorityName) -> i64 {
    match p {
        FilePriorityName::Low => -1,
        FilePriorityName::High => 1,
        FilePriorityName::Normal | FilePriorityName::Skip => 0,
    }
}

/// A file's name as Transmission gives it: the torrent's folder, then the path.
fn file_name(s: &TorrentSummary, d: &TorrentDetail, path: &str) -> String {
    if d.files.len() == 1 && path == s.name {
        path.to_string()
    } else {
        format!("{}/{}", s.name, path)
    }
}

fn tracker_host(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => url.to_string(),
    }
}

fn sitename(url: &str) -> String {
    let host = tracker_host(url);
    let host = host.split_once("://").map(|(_, h)| h).unwrap_or(&host);
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() >= 2 && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        parts[parts.len() - 2].to_string()
    } else {
        host.to_string()
    }
}

fn percent_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn peer_counts(d: &TorrentDetail) -> (usize, usize) {
    let sending = d.peers_list.iter().filter(|p| p.flags.contains('D')).count();
    let getting = d.peers_list.iter().filter(|p| p.flags.contains('U')).count();
    (sending, getting)
}

fn peers(d: &TorrentDetail) -> Value {
    let list: Vec<Value> = d
        .peers_list
        .iter()
        .map(|p| {
            let (address, port) = match p.addr.parse::<std::net::SocketAddr>() {
                Ok(a) => (a.ip().to_string(), a.port()),
                Err(_) => (p.addr.clone(), 0),
            };
            let mut flag_str = p.flags.clone();
            match p.source.as_str() {
                "pex" => flag_str.push('X'),
                "dht" => flag_str.push('H'),
                _ => {}
            }
            json!({
                "address": address,
                "port": port,
                "clientName": p.client,
                "clientIsChoked": p.flags.contains('d'),
                "clientIsInterested": p.flags.contains('D') || p.flags.contains('d'),
                "flagStr": flag_str,
                "isDownloadingFrom": p.flags.contains('D'),
                "isEncrypted": false,
                "isIncoming": p.flags.contains('I'),
                "isUploadingTo": p.flags.contains('U'),
                "isUTP": false,
                "peerIsChoked": p.flags.contains('u'),
                "peerIsInterested": p.flags.contains('U') || p.flags.contains('u'),
                "progress": p.progress,
                "rateToClient": p.download_rate,
                "rateToPeer": p.upload_rate,
            })
        })
        .collect();
    Value::Array(list)
}

fn tracker_stats(d: &TorrentDetail, now_unix: u64) -> Value {
    let list: Vec<Value> = d
        .trackers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let working = t.status == "working";
            let contacted = t.status != "not_contacted";
            json!({
                "announce": t.url,
                "announceState": if t.status == "updating" { 3 } else if contacted { 1 } else { 0 },
                "downloadCount": -1,
                "hasAnnounced": contacted,
                "hasScraped": false,
                "host": tracker_host(&t.url),
                "id": i,
                "isBackup": false,
                "lastAnnouncePeerCount": 0,
                "lastAnnounceResult": t.last_error.clone().unwrap_or_else(|| if working { "Success".into() } else { String::new() }),
                "lastAnnounceStartTime": 0,
                "lastAnnounceSucceeded": working,
                "lastAnnounceTime": 0,
                "lastAnnounceTimedOut": false,
                "lastScrapeResult": "",
                "lastScrapeStartTime": 0,
                "lastScrapeSucceeded": false,
                "lastScrapeTime": 0,
                "lastScrapeTimedOut": false,
                "leecherCount": t.leechers.map_or(-1, i64::from),
                "nextAnnounceTime": t.next_announce_secs.map_or(0, |s| now_unix + s),
                "nextScrapeTime": 0,
                "scrape": "",
                "scrapeState": 0,
                "seederCount": t.seeders.map_or(-1, i64::from),
                "sitename": sitename(&t.url),
                "tier": t.tier,
            })
        })
        .collect();
    Value::Array(list)
}

fn tracker_list(d: &TorrentDetail) -> String {
    let mut text = String::new();
    let mut last_tier = None;
    for t in &d.trackers {
        if last_tier.is_some_and(|tier| tier != t.tier) {
            text.push('\n');
        }
        text.push_str(&t.url);
        text.push('\n');
        last_tier = Some(t.tier);
    }
    text
}

fn magnet_link(s: &TorrentSummary, d: &TorrentDetail) -> String {
    let mut link = format!("magnet:?xt=urn:btih:{}&dn={}", s.info_hash, percent_encode(&s.name));
    for t in &d.trackers {
        link.push_str("&tr=");
        link.push_str(&percent_encode(&t.url));
    }
    link
}

/// The value of field `key` for `v`; none when it needs the detail and there is none.
pub fn value(key: &str, v: &TorrentView<'_>) -> Option<Value> {
    let s = v.summary;
    let detail = v.detail;
    let complete = is_complete(s);
    let kib = |limit: Option<u64>| limit.map_or(100, |b| b / SPEED_UNIT);
    let value = match key {
        "activityDate" => json!(if s.download_rate + s.upload_rate > 0 {
            v.now_unix
        } else {
            s.completed_at.unwrap_or(s.added_at)
        }),
        "addedDate" => json!(s.added_at),
        "bandwidthPriority" => json!(0),
        "comment" | "creator" | "group" | "torrentFile" => json!(""),
        "corruptEver" | "dateCreated" | "editDate" | "manualAnnounceTime" | "webseedsSendingToUs" => json!(0),
        "desiredAvailable" => json!(if s.peers > 0 { left_until_done(s) } else { 0 }),
        "doneDate" => json!(s.completed_at.unwrap_or(0)),
        "downloadDir" => json!(s.download_dir),
        "downloadedEver" => json!(s.downloaded),
        "downloadLimit" => json!(kib(s.download_limit)),
        "downloadLimited" => json!(s.download_limit.is_some()),
        "error" => json!(if s.error.is_some() { 3 } else { 0 }),
        "errorString" => json!(s.error.clone().unwrap_or_default()),
        "eta" => json!(s.eta_secs.map_or(-1, |e| e as i64)),
        "etaIdle" => json!(-1),
        "hashString" => json!(s.info_hash),
        "haveUnchecked" => json!(0),
        "haveValid" => json!(s.verified_bytes),
        "honorsSessionLimits" => json!(true),
        "id" => json!(s.id),
        "isFinished" => json!(s.state == TorrentStateName::Finished),
        "isPrivate" => json!(s.private),
        "isStalled" => json!(false),
        "labels" => json!(s.labels),
        "leftUntilDone" => json!(left_until_done(s)),
        "maxConnectedPeers" | "peer-limit" => {
            json!(ccbt_engine::connection_policy::ConnectionLimits::default().per_torrent)
        }
        "metadataPercentComplete" => json!(match s.metadata {
            Some(m) if m.pieces_total > 0 => f64::from(m.pieces_have) / f64::from(m.pieces_total),
            Some(_) => 0.0,
            None => 1.0,
        }),
        "name" => json!(s.name),
        "peersConnected" => json!(s.peers),
        "percentComplete" => json!(if s.total_bytes == 0 {
            0.0
        } else {
            s.verified_bytes as f64 / s.total_bytes as f64
        }),
        "percentDone" => json!(s.progress),
        "queuePosition" => json!(s.queue_position.unwrap_or(0)),
        "rateDownload" => json!(s.download_rate),
        "rateUpload" => json!(s.upload_rate),
        "recheckProgress" => json!(if s.state == TorrentStateName::Checking {
            s.progress
        } else {
            0.0
        }),
        "secondsDownloading" => json!(s.seconds_downloading),
        "secondsSeeding" => json!(s.seconds_seeding),
        "seedIdleLimit" => json!(s
            .idle_limit_secs
            .or(v.session.idle_limit_secs)
            .map_or(30, |secs| secs / 60)),
        "seedIdleMode" => json!(limit_mode(
            s.idle_limit_secs.map(|x| x as f64),
            v.session.idle_limit_secs.map(|x| x as f64)
        )),
        "seedRatioLimit" => json!(s.ratio_limit.or(v.session.ratio_limit).unwrap_or(2.0)),
        "seedRatioMode" => json!(limit_mode(s.ratio_limit, v.session.ratio_limit)),
        "sequentialDownload" => json!(s.sequential),
        "sizeWhenDone" => json!(s.wanted_bytes),
        "startDate" => json!(s.added_at),
        "status" => json!(status(s.state, complete)),
        "totalSize" => json!(s.total_bytes),
        "uploadLimit" => json!(kib(s.upload_limit)),
        "uploadLimited" => json!(s.upload_limit.is_some()),
        "uploadRatio" => json!(s.ratio),
        "uploadedEver" => json!(s.uploaded),
        "webseeds" => json!([]),
        _ => {
            let d = detail?;
            match key {
                "file-count" => json!(d.files.len()),
                "files" => Value::Array(
                    d.files
                        .iter()
                        .map(|f| {
                            json!({
                                "bytesCompleted": f.verified_bytes,
                                "length": f.length,
                                "name": file_name(s, d, &f.path),
                            })
                        })
                        .collect(),
                ),
                "fileStats" => Value::Array(
                    d.files
                        .iter()
                        .map(|f| {
                            json!({
                                "bytesCompleted": f.verified_bytes,
                                "wanted": f.priority != FilePriorityName::Skip,
                                "priority": priority_number(f.priority),
                            })
                        })
                        .collect(),
                ),
                "priorities" => json!(d.files.iter().map(|f| priority_number(f.priority)).collect::<Vec<_>>()),
                // 0/1, not booleans, as Transmission 3.00 and 4.0.2+ send them.
                "wanted" => json!(d
                    .files
                    .iter()
                    .map(|f| u8::from(f.priority != FilePriorityName::Skip))
                    .collect::<Vec<_>>()),
                "magnetLink" => json!(magnet_link(s, d)),
                "peers" => peers(d),
                "peersFrom" => {
                    let by = d.peers_by_source;
                    json!({
                        "fromCache": 0,
                        "fromDht": by.dht,
                        "fromIncoming": by.incoming,
                        "fromLpd": by.lsd,
                        "fromLtep": 0,
                        "fromPex": by.pex,
                        "fromTracker": by.tracker + by.manual,
                    })
                }
                "peersGettingFromUs" => json!(peer_counts(d).1),
                "peersSendingToUs" => json!(peer_counts(d).0),
                "pieceCount" => json!(d.num_pieces),
                "pieceSize" => json!(d.piece_length),
                "trackerList" => json!(tracker_list(d)),
                "trackerStats" => tracker_stats(d, v.now_unix),
                "trackers" => Value::Array(
                    d.trackers
                        .iter()
                        .enumerate()
                        .map(|(i, t)| {
                            json!({
                                "announce": t.url,
                                "id": i,
                                "scrape": "",
                                "sitename": sitename(&t.url),
                                "tier": t.tier,
                            })
                        })
                        .collect(),
                ),
                _ => return None,
            }
        }
    };
    Some(value)
}

/// One torrent's answer: the requested fields, as an object.
pub fn object(fields: &[(&'static str, bool)], v: &TorrentView<'_>) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, _) in fields {
        if let Some(value) = value(key, v) {
            map.insert((*key).to_string(), value);
        }
    }
    map
}

/// One torrent's row of the `table` format (same order as the header row).
pub fn row(fields: &[(&'static str, bool)], v: &TorrentView<'_>) -> Vec<Value> {
    fields
        .iter()
        .map(|(key, _)| value(key, v).unwrap_or(Value::Null))
        .collect()
}

#[cfg(test)]
mod tests;
