//! The session file of format version 1 (before the idle seeding limit), read so an
//! upgrade keeps every torrent and setting; converted to the current records with
//! the new limits at their defaults (per torrent: the session's; session: none).

use rkyv::{Archive, Deserialize, Serialize};

use super::records::{LimitRecord, ScheduleRecord, SessionRecord, SettingsRecord, StopReason, TorrentRecord};

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SessionRecordV1 {
    pub next_id: u32,
    pub torrents: Vec<TorrentRecordV1>,
    pub settings: SettingsRecordV1,
    pub total_downloaded: u64,
    pub total_uploaded: u64,
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TorrentRecordV1 {
    pub id: u32,
    pub info_hash: [u8; 20],
    pub name: String,
    pub download_dir: String,
    pub labels: Vec<String>,
    pub added_at: u64,
    pub completed_at: Option<u64>,
    pub stopped: StopReason,
    pub force_started: bool,
    pub queue_position: u32,
    pub sequential: bool,
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    pub ratio_limit: LimitRecord<f64>,
    pub seed_time_limit_secs: LimitRecord<u64>,
    pub file_priorities: Vec<u8>,
    pub trackers: Option<Vec<Vec<String>>>,
    pub peers: Vec<String>,
    pub downloaded: u64,
    pub uploaded: u64,
    pub seconds_downloading: u64,
    pub seconds_seeding: u64,
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SettingsRecordV1 {
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    pub alt_download_limit: Option<u64>,
    pub alt_upload_limit: Option<u64>,
    pub alt_speed_enabled: bool,
    pub alt_speed_schedule: Option<ScheduleRecord>,
    pub max_active_downloads: u32,
    pub max_active_seeds: u32,
    pub max_active_checks: u32,
    pub ratio_limit: Option<f64>,
    pub seed_time_limit_secs: Option<u64>,
    pub download_dir: Option<String>,
}

impl From<SessionRecordV1> for SessionRecord {
    fn from(v1: SessionRecordV1) -> SessionRecord {
        SessionRecord {
            next_id: v1.next_id,
            torrents: v1.torrents.into_iter().map(TorrentRecord::from).collect(),
            settings: v1.settings.into(),
            total_downloaded: v1.total_downloaded,
            total_uploaded: v1.total_uploaded,
        }
    }
}

impl From<TorrentRecordV1> for TorrentRecord {
    fn from(t: TorrentRecordV1) -> TorrentRecord {
        TorrentRecord {
            id: t.id,
            info_hash: t.info_hash,
            name: t.name,
            download_dir: t.download_dir,
            labels: t.labels,
            added_at: t.added_at,
            completed_at: t.completed_at,
            stopped: t.stopped,
            force_started: t.force_started,
            queue_position: t.queue_position,
            sequential: t.sequential,
            download_limit: t.download_limit,
            upload_limit: t.upload_limit,
            ratio_limit: t.ratio_limit,
            seed_time_limit_secs: t.seed_time_limit_secs,
            idle_limit_secs: LimitRecord::Global,
            file_priorities: t.file_priorities,
            trackers: t.trackers,
            peers: t.peers,
            downloaded: t.downloaded,
            uploaded: t.uploaded,
            seconds_downloading: t.seconds_downloading,
            seconds_seeding: t.seconds_seeding,
        }
    }
}

impl From<SettingsRecordV1> for SettingsRecord {
    fn from(s: SettingsRecordV1) -> SettingsRecord {
        SettingsRecord {
            download_limit: s.download_limit,
            upload_limit: s.upload_limit,
            alt_download_limit: s.alt_download_limit,
            alt_upload_limit: s.alt_upload_limit,
            alt_speed_enabled: s.alt_speed_enabled,
            alt_speed_schedule: s.alt_speed_schedule,
            max_active_downloads: s.max_active_downloads,
            max_active_seeds: s.max_active_seeds,
            max_active_checks: s.max_active_checks,
            ratio_limit: s.ratio_limit,
            seed_time_limit_secs: s.seed_time_limit_secs,
            idle_limit_secs: None,
            download_dir: s.download_dir,
        }
    }
}
