//! One torrent as qBittorrent 5.x shows it in `torrents/info` and `sync/maindata`:
//! its field names, units and state strings, built from the native summary.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::api_types::{TorrentStateName, TorrentSummary};
use crate::core::change_log::{Category, FieldMask, SummaryField as F};

/// qBittorrent's "infinite" ETA (100 days), used when none is known.
pub const ETA_INFINITE: i64 = 8_640_000;

/// The qBittorrent state string (5.x names: `stoppedUP`, not `pausedUP`).
pub fn state_name(s: &TorrentSummary) -> &'static str {
    let done = s.progress >= 1.0;
    match s.state {
        TorrentStateName::Error => "error",
        TorrentStateName::Metadata if s.force_started => "forcedMetaDL",
        TorrentStateName::Metadata => "metaDL",
        TorrentStateName::Checking if done => "checkingUP",
        TorrentStateName::Checking => "checkingDL",
        TorrentStateName::Queued if done => "queuedUP",
        TorrentStateName::Queued => "queuedDL",
        TorrentStateName::Paused | TorrentStateName::Finished if done => "stoppedUP",
        TorrentStateName::Paused | TorrentStateName::Finished => "stoppedDL",
        TorrentStateName::Seeding if s.force_started => "forcedUP",
        TorrentStateName::Seeding if s.upload_rate > 0 => "uploading",
        TorrentStateName::Seeding => "stalledUP",
        TorrentStateName::Downloading if s.force_started => "forcedDL",
        TorrentStateName::Downloading if s.download_rate > 0 => "downloading",
        TorrentStateName::Downloading => "stalledDL",
    }
}

/// The 4.x name of a 5.x state, for clients that filter on it.
pub fn legacy_state_name(state: &str) -> &str {
    match state {
        "stoppedUP" => "pausedUP",
        "stoppedDL" => "pausedDL",
        other => other,
    }
}

/// The category of a torrent: its first label that names a category.
pub fn category_of<'a>(s: &'a TorrentSummary, categories: &BTreeMap<String, Category>) -> &'a str {
    s.labels
        .iter()
        .find(|l| categories.contains_key(l.as_str()))
        .map_or("", String::as_str)
}

/// Its tags: the labels that are not its category.
pub fn tags_of(s: &TorrentSummary, categories: &BTreeMap<String, Category>) -> Vec<String> {
    let category = category_of(s, categories);
    s.labels.iter().filter(|l| l.as_str() != category).cloned().collect()
}

/// A limit in seconds as qBittorrent's minutes; -1 = none.
fn minutes_or_minus_one(v: Option<u64>) -> i64 {
    v.map_or(-1, |v| i64::try_from(v / 60).unwrap_or(i64::MAX))
}

fn limit_or_minus_one(v: Option<u64>) -> i64 {
    v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// A magnet link for the torrent (its hash and name).
pub fn magnet_uri(s: &TorrentSummary) -> String {
    let name: String = form_urlencoded::byte_serialize(s.name.as_bytes()).collect();
    format!("magnet:?xt=urn:btih:{}&dn={name}", s.info_hash)
}

/// Which summary fields each qBittorrent field is made of: an incremental answer
/// carries a field when one of them changed.
fn sources(key: &str) -> &'static [F] {
    match key {
        "hash" | "infohash_v1" | "magnet_uri" => &[F::InfoHash],
        "name" => &[F::Name],
        "state" => &[F::State, F::Progress, F::UploadRate, F::DownloadRate, F::ForceStarted],
        "progress" => &[F::Progress],
        "size" => &[F::WantedBytes],
        "total_size" => &[F::TotalBytes],
        "completed" => &[F::VerifiedBytes, F::WantedBytes],
        "amount_left" => &[F::VerifiedBytes, F::WantedBytes],
        "downloaded" => &[F::Downloaded],
        "uploaded" => &[F::Uploaded],
        "dlspeed" => &[F::DownloadRate],
        "upspeed" => &[F::UploadRate],
        "dl_limit" => &[F::DownloadLimit],
        "up_limit" => &[F::UploadLimit],
        "ratio" => &[F::Ratio],
        "ratio_limit" | "max_ratio" => &[F::RatioLimit],
        "seeding_time_limit" | "max_seeding_time" => &[F::SeedTimeLimitSecs],
        "inactive_seeding_time_limit" | "max_inactive_seeding_time" => &[F::IdleLimitSecs],
        "num_seeds" | "num_leechs" | "num_complete" | "num_incomplete" => &[F::Peers, F::State],
        "eta" => &[F::EtaSecs],
        "added_on" => &[F::AddedAt],
        "completion_on" => &[F::CompletedAt],
        "save_path" | "content_path" | "root_path" => &[F::DownloadDir, F::Name],
        "category" | "tags" => &[F::Labels],
        "priority" => &[F::QueuePosition],
        "seq_dl" => &[F::Sequential],
        "force_start" => &[F::ForceStarted],
        "time_active" => &[F::SecondsDownloading, F::SecondsSeeding],
        "seeding_time" => &[F::SecondsSeeding],
        "private" => &[F::Private],
        "has_metadata" => &[F::State, F::TotalBytes],
        // Constant for a torrent: only in full answers.
        _ => &[],
    }
}

/// The whole object, as `torrents/info` lists it (with `hash`).
pub fn torrent_object(s: &TorrentSummary, categories: &BTreeMap<String, Category>) -> Map<String, Value> {
    let state = state_name(s);
    let seeding = s.progress >= 1.0;
    let amount_left = s.wanted_bytes.saturating_sub(s.verified_bytes.min(s.wanted_bytes));
    let content_path = format!("{}/{}", s.download_dir.trim_end_matches('/'), s.name);
    // Without per-peer seed flags here: peers of a downloading torrent count as
    // seeds, of a seeding one as leechers (seeds do not stay connected to seeds).
    let (seeds, leechers) = if seeding { (0, s.peers) } else { (s.peers, 0) };
    let value = json!({
        "hash": s.info_hash,
        "infohash_v1": s.info_hash,
        "infohash_v2": "",
        "name": s.name,
        "magnet_uri": magnet_uri(s),
        "state": state,
        "progress": s.progress,
        "size": s.wanted_bytes,
        "total_size": s.total_bytes,
        "completed": s.verified_bytes.min(s.wanted_bytes),
        "amount_left": amount_left,
        "downloaded": s.downloaded,
        "uploaded": s.uploaded,
        "downloaded_session": s.downloaded,
        "uploaded_session": s.uploaded,
        "dlspeed": s.download_rate,
        "upspeed": s.upload_rate,
        "dl_limit": limit_or_minus_one(s.download_limit),
        "up_limit": limit_or_minus_one(s.upload_limit),
        "ratio": s.ratio,
        "ratio_limit": s.ratio_limit.unwrap_or(-1.0),
        "max_ratio": s.ratio_limit.unwrap_or(-1.0),
        "seeding_time_limit": s.seed_time_limit_secs.map_or(-1, |v| i64::try_from(v / 60).unwrap_or(i64::MAX)),
        "max_seeding_time": s.seed_time_limit_secs.map_or(-1, |v| i64::try_from(v / 60).unwrap_or(i64::MAX)),
    });
    let rest = json!({
        "inactive_seeding_time_limit": minutes_or_minus_one(s.idle_limit_secs),
        "max_inactive_seeding_time": minutes_or_minus_one(s.idle_limit_secs),
        "num_seeds": seeds,
        "num_leechs": leechers,
        "num_complete": seeds,
        "num_incomplete": leechers,
        "eta": s.eta_secs.map_or(ETA_INFINITE, |e| i64::try_from(e).unwrap_or(ETA_INFINITE).min(ETA_INFINITE)),
        "added_on": s.added_at,
        "completion_on": s.completed_at.map_or(-1, |t| i64::try_from(t).unwrap_or(-1)),
        "save_path": s.download_dir,
        "download_path": "",
        "content_path": content_path,
        "root_path": content_path,
        "category": category_of(s, categories),
        "tags": tags_of(s, categories).join(", "),
        "priority": s.queue_position.map_or(0, |p| i64::from(p) + 1),
        "seq_dl": s.sequential,
        "f_l_piece_prio": false,
        "force_start": s.force_started,
        "super_seeding": false,
        "auto_tmm": false,
        "time_active": s.seconds_downloading + s.seconds_seeding,
        "seeding_time": s.seconds_seeding,
        "private": s.private,
        "has_metadata": s.state != TorrentStateName::Metadata,
        "availability": -1,
        "tracker": "",
        "comment": "",
        "popularity": 0,
        "reannounce": 0,
        "last_activity": 0,
        "seen_complete": s.completed_at.map_or(-1, |t| i64::try_from(t).unwrap_or(-1)),
    });
    let mut map = match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Value::Object(rest) = rest {
        map.extend(rest);
    }
    map
}

/// The fields of `s` that changed, for an incremental `sync/maindata` (without
/// `hash`: the torrent's key names it).
pub fn changed_object(
    s: &TorrentSummary,
    changed: FieldMask,
    categories: &BTreeMap<String, Category>,
) -> Map<String, Value> {
    let mut all = torrent_object(s, categories);
    all.remove("hash");
    if changed == FieldMask::ALL {
        return all;
    }
    all.into_iter()
        .filter(|(k, _)| sources(k).iter().any(|f| changed.contains(*f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::change_log::FieldMask;

    pub(crate) fn summary() -> TorrentSummary {
        TorrentSummary {
            info_hash: "ab".repeat(20),
            state: TorrentStateName::Seeding,
            progress: 1.0,
            verified_bytes: 1000,
            total_bytes: 1000,
            wanted_bytes: 1000,
            download_rate: 0,
            downloaded: 1000,
            uploaded: 500,
            peers: 2,
            eta_secs: None,
            labels: vec!["tv".into(), "hd".into()],
            download_dir: "/data/tv".into(),
            shard: Some(0),
            added_at: 10,
            completed_at: Some(20),
            seconds_downloading: 30,
            seconds_seeding: 125,
            upload_limit: Some(1000),
            ratio_limit: Some(2.0),
            seed_time_limit_secs: Some(3600),
            ..TorrentSummary::sample(1, "My Show S01")
        }
    }

    fn cats() -> BTreeMap<String, Category> {
        let mut c = BTreeMap::new();
        c.insert(
            "tv".into(),
            Category {
                name: "tv".into(),
                save_path: "/data/tv".into(),
            },
        );
        c
    }

    #[test]
    fn states_follow_qbittorrent_5_names() {
        let mut s = summary();
        assert_eq!(state_name(&s), "stalledUP");
        s.upload_rate = 5;
        assert_eq!(state_name(&s), "uploading");
        s.state = TorrentStateName::Paused;
        assert_eq!(state_name(&s), "stoppedUP");
        assert_eq!(legacy_state_name(state_name(&s)), "pausedUP");
        s.state = TorrentStateName::Finished;
        assert_eq!(state_name(&s), "stoppedUP");
        s.progress = 0.5;
        assert_eq!(state_name(&s), "stoppedDL");
        s.state = TorrentStateName::Downloading;
        assert_eq!(state_name(&s), "stalledDL");
        s.download_rate = 9;
        assert_eq!(state_name(&s), "downloading");
        s.force_started = true;
        assert_eq!(state_name(&s), "forcedDL");
        s.state = TorrentStateName::Queued;
        assert_eq!(state_name(&s), "queuedDL");
        s.state = TorrentStateName::Checking;
        assert_eq!(state_name(&s), "checkingDL");
        s.state = TorrentStateName::Error;
        assert_eq!(state_name(&s), "error");
    }

    #[test]
    fn the_object_uses_qbittorrent_names_and_units() {
        let o = torrent_object(&summary(), &cats());
        assert_eq!(o["hash"], "ab".repeat(20));
        assert_eq!(o["category"], "tv");
        assert_eq!(o["tags"], "hd");
        assert_eq!(o["amount_left"], 0);
        assert_eq!(o["ratio_limit"], 2.0);
        // Minutes, as qBittorrent counts seeding-time limits.
        assert_eq!(o["seeding_time_limit"], 60);
        assert_eq!(o["dl_limit"], -1);
        assert_eq!(o["up_limit"], 1000);
        assert_eq!(o["eta"], ETA_INFINITE);
        assert_eq!(o["content_path"], "/data/tv/My Show S01");
        assert_eq!(o["priority"], 1);
        assert_eq!(o["num_leechs"], 2);
        assert!(o["magnet_uri"].as_str().unwrap().contains("dn=My+Show+S01"));
    }

    #[test]
    fn an_incremental_object_has_only_what_changed() {
        let s = summary();
        let mut mask = FieldMask::NONE;
        mask.insert(F::State);
        let o = changed_object(&s, mask, &cats());
        let keys: Vec<&str> = o.keys().map(String::as_str).collect();
        assert!(keys.contains(&"state"), "{keys:?}");
        assert!(!keys.contains(&"name") && !keys.contains(&"hash") && !keys.contains(&"size"));
        // The state and what is derived from it.
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            vec![
                "has_metadata",
                "num_complete",
                "num_incomplete",
                "num_leechs",
                "num_seeds",
                "state"
            ]
        );
        let full = changed_object(&s, FieldMask::ALL, &cats());
        assert!(full.contains_key("name") && !full.contains_key("hash"));
    }
}
