//! What the API shows of a torrent: summaries, details, files, peers, trackers,
//! pieces. Built from the daemon's own record and, for a running torrent, the
//! shard's snapshot.

use ccbt_engine::file_priority::FilePriority;
use ccbt_engine::metainfo::Metainfo;
use ccbt_io::tracker::TrackerStatus;
use ccbt_shards::messages::{PeerSnapshot, PeerSource, PeerSourceCounts, TorrentSnapshot};

use super::managed::{piece_is_set, Managed};
use crate::api_types::{
    CheckReport, FileEntry, FilePriorityName, LimitKeyword, LimitSetting, PeerEntry, PeersBySource, PieceMap,
    SessionSettings, TorrentDetail, TorrentStateName, TorrentSummary, TrackerEntry,
};

pub(crate) fn engine_priority(p: FilePriorityName) -> FilePriority {
    match p {
        FilePriorityName::Skip => FilePriority::Skip,
        FilePriorityName::Low => FilePriority::Low,
        FilePriorityName::Normal => FilePriority::Normal,
        FilePriorityName::High => FilePriority::High,
    }
}

fn limit_value<T: Copy>(setting: LimitSetting<T>, global: Option<T>) -> Option<T> {
    match setting {
        LimitSetting::Value(v) => Some(v),
        LimitSetting::Keyword(LimitKeyword::None) => None,
        LimitSetting::Keyword(LimitKeyword::Global) => global,
    }
}

/// What a torrent adds to the session's figures: its state, and its payload rates
/// and peers (counted only while it runs). Cheap: no strings, for `stats` and
/// `/metrics` over thousands of torrents.
pub(crate) struct LiveFigures {
    pub state: TorrentStateName,
    pub download_rate: u64,
    pub upload_rate: u64,
    pub peers: usize,
}

pub(crate) fn live_figures(t: &Managed) -> LiveFigures {
    let state = t.state();
    let running = matches!(state, TorrentStateName::Downloading | TorrentStateName::Seeding);
    let stats = t.status.as_ref().map(|s| &s.stats).filter(|_| running);
    LiveFigures {
        state,
        download_rate: stats.map_or(0, |s| s.download_rate),
        upload_rate: stats.map_or(0, |s| s.upload_rate),
        peers: stats.map_or(0, |s| s.peers),
    }
}

pub(crate) fn summary(t: &Managed, session: &SessionSettings) -> TorrentSummary {
    let LiveFigures {
        state,
        download_rate,
        upload_rate,
        peers,
    } = live_figures(t);
    let wanted = t.wanted_bytes();
    let verified = t.verified_bytes();
    let verified_wanted = verified.min(wanted);
    let progress = if t.awaiting_metadata() {
        0.0
    } else if wanted == 0 {
        1.0
    } else {
        verified_wanted as f64 / wanted as f64
    };
    let eta_secs = if t.complete || download_rate == 0 {
        None
    } else {
        Some(wanted.saturating_sub(verified_wanted) / download_rate.max(1))
    };
    TorrentSummary {
        id: t.id,
        info_hash: t.info_hash().to_hex(),
        name: t.name().to_string(),
        state,
        progress,
        verified_bytes: verified,
        total_bytes: t.meta.as_ref().map_or(0, |m| m.info.total_length),
        wanted_bytes: wanted,
        download_rate,
        upload_rate,
        downloaded: t.downloaded(),
        uploaded: t.uploaded(),
        ratio: t.ratio(),
        peers,
        eta_secs,
        labels: t.settings.labels.clone(),
        download_dir: t.settings.download_dir.display().to_string(),
        error: t.error.clone(),
        queue_position: match state {
            TorrentStateName::Paused | TorrentStateName::Finished => None,
            _ => Some(t.queue_position),
        },
        shard: t.shard,
        added_at: t.added_at,
        completed_at: t.completed_at,
        seconds_downloading: t.totals.seconds_downloading,
        seconds_seeding: t.totals.seconds_seeding,
        sequential: t.settings.sequential,
        force_started: t.settings.force_started,
        download_limit: t.settings.download_limit,
        upload_limit: t.settings.upload_limit,
        ratio_limit: limit_value(t.settings.ratio_limit, session.ratio_limit),
        seed_time_limit_secs: limit_value(t.settings.seed_time_limit_secs, session.seed_time_limit_secs),
        idle_limit_secs: limit_value(t.settings.idle_limit_secs, session.idle_limit_secs),
        private: t.meta.as_ref().is_some_and(|m| m.info.private),
        metadata: if state == TorrentStateName::Metadata {
            Some(t.metadata_progress())
        } else {
            None
        },
    }
}

/// Verified bytes of each file, from a bitfield.
pub(crate) fn file_verified_bytes(meta: &Metainfo, have: &[u8]) -> Vec<u64> {
    let piece_len = u64::from(meta.info.piece_length);
    let total = meta.info.total_length;
    meta.info
        .files
        .iter()
        .map(|f| {
            if f.length == 0 {
                return 0;
            }
            let start = f.offset;
            let end = f.offset + f.length;
            let first = (start / piece_len) as u32;
            let last = ((end - 1) / piece_len) as u32;
            (first..=last)
                .filter(|&p| piece_is_set(have, p))
                .map(|p| {
                    let ps = u64::from(p) * piece_len;
                    let pe = (ps + piece_len).min(total);
                    pe.min(end) - ps.max(start)
                })
                .sum()
        })
        .collect()
}

pub(crate) fn files(t: &Managed, have: &[u8]) -> Vec<FileEntry> {
    let Some(meta) = &t.meta else {
        // A magnet's files are known once its metadata arrives.
        return Vec::new();
    };
    let verified = file_verified_bytes(meta, have);
    meta.info
        .files
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let v = verified.get(index).copied().unwrap_or(0);
            FileEntry {
                index,
                path: f.path.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>().join("/"),
                length: f.length,
                verified_bytes: v,
                progress: if f.length == 0 { 1.0 } else { v as f64 / f.length as f64 },
                priority: t
                    .settings
                    .file_priorities
                    .get(index)
                    .copied()
                    .unwrap_or(FilePriorityName::Normal),
                padding: f.padding,
            }
        })
        .collect()
}

/// A client name from an Azureus-style peer id (`-qB4650-…` → `qB 4.6.5.0`), else
/// the id's first bytes as text where printable.
pub(crate) fn client_name(peer_id: &[u8; 20]) -> String {
    if peer_id[0] == b'-' && peer_id[7] == b'-' && peer_id[1..7].iter().all(|b| b.is_ascii_alphanumeric()) {
        let code = String::from_utf8_lossy(&peer_id[1..3]);
        let version: Vec<String> = peer_id[3..7].iter().map(|b| (*b as char).to_string()).collect();
        return format!("{code} {}", version.join("."));
    }
    let printable: String = peer_id
        .iter()
        .take(8)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect();
    printable
}

pub(crate) fn peer(p: &PeerSnapshot, num_pieces: u32) -> PeerEntry {
    let mut flags = String::new();
    if p.am_interested {
        flags.push(if p.peer_choking { 'd' } else { 'D' });
    }
    if p.peer_interested {
        flags.push(if p.am_choking { 'u' } else { 'U' });
    }
    if p.incoming {
        flags.push('I');
    }
    PeerEntry {
        addr: p.addr.to_string(),
        client: client_name(&p.peer_id),
        flags,
        download_rate: p.download_rate,
        upload_rate: p.upload_rate,
        downloaded: p.downloaded,
        uploaded: p.uploaded,
        progress: if num_pieces == 0 {
            0.0
        } else {
            f64::from(p.pieces_have) / f64::from(num_pieces)
        },
        source: p.source.name().to_string(),
    }
}

/// Connected peers counted by where their address came from.
pub(crate) fn peers_by_source(peers: &[PeerSnapshot]) -> PeersBySource {
    let mut counts = PeerSourceCounts::default();
    for p in peers {
        counts.count(p.source);
    }
    PeersBySource {
        tracker: counts.get(PeerSource::Tracker),
        dht: counts.get(PeerSource::Dht),
        pex: counts.get(PeerSource::Pex),
        lsd: counts.get(PeerSource::Lsd),
        incoming: counts.get(PeerSource::Incoming),
        manual: counts.get(PeerSource::Manual),
    }
}

pub(crate) fn tracker(s: &TrackerStatus) -> TrackerEntry {
    let status = if s.last_error.is_some() {
        "error"
    } else if s.last_announce_secs_ago.is_some() {
        "working"
    } else {
        "not_contacted"
    };
    TrackerEntry {
        url: s.url.clone(),
        tier: s.tier,
        status: status.to_string(),
        next_announce_secs: s.next_announce_in_secs,
        seeders: s.seeders,
        leechers: s.leechers,
        last_error: s.last_error.clone(),
    }
}

/// The trackers of a torrent not running: its list, never contacted.
pub(crate) fn idle_trackers(t: &Managed) -> Vec<TrackerEntry> {
    tracker_tiers(t)
        .into_iter()
        .enumerate()
        .flat_map(|(tier, urls)| {
            urls.into_iter().map(move |url| TrackerEntry {
                url,
                tier,
                status: "not_contacted".into(),
                next_announce_secs: None,
                seeders: None,
                leechers: None,
                last_error: None,
            })
        })
        .collect()
}

/// The torrent's tracker tiers: the user's list, else the metainfo's.
pub(crate) fn tracker_tiers(t: &Managed) -> Vec<Vec<String>> {
    if let Some(tiers) = &t.settings.trackers {
        return tiers.clone();
    }
    let Some(meta) = &t.meta else {
        return t.magnet.as_ref().map(|m| m.tracker_tiers()).unwrap_or_default();
    };
    if !meta.announce_list.is_empty() {
        return meta.announce_list.clone();
    }
    meta.announce.iter().map(|a| vec![a.clone()]).collect()
}

pub(crate) fn piece_map(num_pieces: u32, have: &[u8]) -> PieceMap {
    let count = (0..num_pieces).filter(|&i| piece_is_set(have, i)).count() as u32;
    PieceMap {
        num_pieces,
        have: count,
        bitfield_hex: ccbt_engine::types::to_hex(have),
    }
}

/// The verified pieces: the shard's, else the last record's, else none.
pub(crate) fn have_of(t: &Managed, snapshot: Option<&TorrentSnapshot>) -> Vec<u8> {
    match snapshot {
        Some(s) => s.have.clone(),
        None => t
            .resume
            .as_ref()
            .map(|r| r.have.clone())
            .unwrap_or_else(|| vec![0; t.num_pieces().div_ceil(8) as usize]),
    }
}

/// Everything about one torrent, with the shard's snapshot when it runs.
pub(crate) fn detail(summary: TorrentSummary, t: &Managed, snapshot: Option<&TorrentSnapshot>) -> TorrentDetail {
    let num_pieces = t.num_pieces();
    let have = have_of(t, snapshot);
    let trackers = match &t.status {
        Some(s) if !s.trackers.is_empty() => s.trackers.iter().map(tracker).collect(),
        _ => idle_trackers(t),
    };
    // The core's copy of the check report also carries a record problem found on load.
    let check = t.check.clone().or_else(|| snapshot.and_then(|s| s.check.clone()));
    TorrentDetail {
        piece_length: t.meta.as_ref().map_or(0, |m| m.info.piece_length),
        num_pieces,
        pieces_have: piece_map(num_pieces, &have).have,
        files: files(t, &have),
        peers_list: snapshot
            .map(|s| s.peers.iter().map(|p| peer(p, num_pieces)).collect())
            .unwrap_or_default(),
        peers_by_source: snapshot.map(|s| peers_by_source(&s.peers)).unwrap_or_default(),
        trackers,
        last_check: check.map(|c| CheckReport {
            trusted_pieces: c.trusted_pieces,
            hashed_pieces: c.hashed_pieces,
            changed_files: c.changed_files,
            record_problem: c.record_problem.clone(),
            millis: c.millis,
        }),
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_engine::metainfo_builder::MetainfoBuilder;

    /// Three files of 10, 20 and 6 bytes in pieces of 16: piece 0 = a[0..10] + b[0..6],
    /// piece 1 = b[6..20] + c[0..2], piece 2 = c[2..6].
    fn three_files() -> Metainfo {
        let mut b = MetainfoBuilder::new("dir");
        b.files = vec![(vec!["a".into()], 10), (vec!["b".into()], 20), (vec!["c".into()], 6)];
        b.piece_length = 16;
        b.piece_hashes = vec![[0; 20]; 3];
        Metainfo::from_bytes(&b.build().unwrap()).unwrap()
    }

    #[test]
    fn verified_bytes_per_file_follow_the_pieces_they_overlap() {
        let meta = three_files();
        // Piece 0 and 2 verified (bits 0 and 2: 0b1010_0000).
        assert_eq!(file_verified_bytes(&meta, &[0b1010_0000]), vec![10, 6, 4]);
        // Only piece 1.
        assert_eq!(file_verified_bytes(&meta, &[0b0100_0000]), vec![0, 14, 2]);
        assert_eq!(file_verified_bytes(&meta, &[0xe0]), vec![10, 20, 6]);
        assert_eq!(file_verified_bytes(&meta, &[]), vec![0, 0, 0]);
    }

    #[test]
    fn piece_map_counts_only_pieces_of_the_torrent() {
        // Spare bits past the last piece do not count.
        let map = piece_map(3, &[0xff]);
        assert_eq!(map.have, 3);
        assert_eq!(map.bitfield_hex, "ff");
        assert_eq!(piece_map(3, &[0b0100_0000]).have, 1);
    }

    #[test]
    fn client_names_come_from_azureus_style_ids() {
        let mut id = [b'x'; 20];
        id[..8].copy_from_slice(b"-qB4650-");
        assert_eq!(client_name(&id), "qB 4.6.5.0");
        let mut odd = [0u8; 20];
        odd[..3].copy_from_slice(b"M7-");
        assert_eq!(client_name(&odd), "M7-.....");
    }

    #[test]
    fn peer_flags_say_who_is_interested_and_choked() {
        let p = PeerSnapshot {
            addr: "127.0.0.1:1".parse().unwrap(),
            peer_id: [0; 20],
            incoming: true,
            am_choking: false,
            am_interested: true,
            peer_choking: true,
            peer_interested: true,
            download_rate: 0,
            upload_rate: 0,
            downloaded: 0,
            uploaded: 0,
            pieces_have: 5,
            source: PeerSource::Incoming,
        };
        let e = peer(&p, 10);
        assert_eq!(e.flags, "dUI");
        assert_eq!(e.source, "incoming");
        let mut dialed = p.clone();
        dialed.source = PeerSource::Dht;
        let counts = peers_by_source(&[p, dialed.clone(), dialed]);
        assert_eq!((counts.incoming, counts.dht, counts.tracker), (1, 2, 0));
        assert!((e.progress - 0.5).abs() < 1e-9);
    }
}
