//! What the state dir keeps, as rkyv types: the session (every torrent with its
//! settings, the queue order and totals) and one resume record per torrent.
//! Changing a field here changes the file format: bump `FORMAT_VERSION` in
//! `record_file.rs` and keep the previous types in a `records_vN.rs` that
//! converts them, so an upgrade keeps every torrent and setting.

use rkyv::{Archive, Deserialize, Serialize};

use crate::api_types::{AltSpeedSchedule, LimitKeyword, LimitSetting};

/// `session.rkyv`: everything needed to bring the session back as it was.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// The id the next added torrent gets; ids are never reused.
    pub next_id: u32,
    pub torrents: Vec<TorrentRecord>,
    pub settings: SettingsRecord,
    /// Payload bytes over the session's whole life, across restarts.
    pub total_downloaded: u64,
    pub total_uploaded: u64,
}

/// One torrent of the session: identity, user settings, and counters.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TorrentRecord {
    pub id: u32,
    pub info_hash: [u8; 20],
    pub name: String,
    pub download_dir: String,
    pub labels: Vec<String>,
    /// Unix seconds.
    pub added_at: u64,
    pub completed_at: Option<u64>,
    pub stopped: StopReason,
    /// Runs regardless of the queue's active limits.
    pub force_started: bool,
    pub queue_position: u32,
    pub sequential: bool,
    /// Bytes/s; none = unlimited.
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    pub ratio_limit: LimitRecord<f64>,
    pub seed_time_limit_secs: LimitRecord<u64>,
    /// Seconds a complete torrent may go without uploading before it stops.
    pub idle_limit_secs: LimitRecord<u64>,
    /// One per file, in the metainfo's order: 0 skip, 1 low, 2 normal, 3 high.
    pub file_priorities: Vec<u8>,
    /// The user's edited tracker tiers; none = the metainfo's own.
    pub trackers: Option<Vec<Vec<String>>>,
    /// Peers known at the last save (`ADDR:PORT`), to reconnect without waiting
    /// for a tracker.
    pub peers: Vec<String>,
    /// Payload bytes of this torrent over its life.
    pub downloaded: u64,
    pub uploaded: u64,
    pub seconds_downloading: u64,
    pub seconds_seeding: u64,
}

/// Why a torrent is not running, if it is not.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Running,
    /// Paused by the user.
    Paused,
    /// Stopped by its ratio or seed-time limit.
    Finished,
}

/// A per-torrent limit: the session's default, no limit, or its own value.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum LimitRecord<T> {
    Global,
    None,
    Value(T),
}

impl<T> From<LimitSetting<T>> for LimitRecord<T> {
    fn from(setting: LimitSetting<T>) -> Self {
        match setting {
            LimitSetting::Value(v) => LimitRecord::Value(v),
            LimitSetting::Keyword(LimitKeyword::None) => LimitRecord::None,
            LimitSetting::Keyword(LimitKeyword::Global) => LimitRecord::Global,
        }
    }
}

impl<T: Copy> LimitRecord<T> {
    /// The limit in force, given the session's default.
    pub fn effective(&self, global: Option<T>) -> Option<T> {
        match self {
            LimitRecord::Global => global,
            LimitRecord::None => None,
            LimitRecord::Value(v) => Some(*v),
        }
    }
}

/// The session settings a user can change at run time (`PATCH /api/v1/session`).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SettingsRecord {
    /// Bytes/s; none = unlimited.
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
    pub idle_limit_secs: Option<u64>,
    pub download_dir: Option<String>,
}

/// The alternative speed limits' daily window.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleRecord {
    /// Minutes after local midnight, 0..1440; `end` before `begin` spans midnight.
    pub begin_minute: u16,
    pub end_minute: u16,
    /// Bit 0 = Monday .. bit 6 = Sunday.
    pub days: u8,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const EVERY_DAY: u8 = 0x7f;
const MINUTES_PER_DAY: u16 = 24 * 60;

/// A schedule from the API that cannot be stored: names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alt_speed_schedule.{field}: {value:?} is not {expected}")]
pub struct ScheduleError {
    pub field: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl TryFrom<&AltSpeedSchedule> for ScheduleRecord {
    type Error = ScheduleError;

    fn try_from(schedule: &AltSpeedSchedule) -> Result<Self, ScheduleError> {
        let minute = |field: &'static str, value: &str| {
            parse_hh_mm(value).ok_or_else(|| ScheduleError {
                field,
                value: value.to_string(),
                expected: "a time of day as HH:MM",
            })
        };
        let mut days = 0u8;
        for day in &schedule.days {
            let index = DAY_NAMES
                .iter()
                .position(|name| name.eq_ignore_ascii_case(day))
                .ok_or_else(|| ScheduleError {
                    field: "days",
                    value: day.clone(),
                    expected: "one of mon, tue, wed, thu, fri, sat, sun",
                })?;
            days |= 1 << index;
        }
        Ok(ScheduleRecord {
            begin_minute: minute("begin", &schedule.begin)?,
            end_minute: minute("end", &schedule.end)?,
            days: if days == 0 { EVERY_DAY } else { days },
        })
    }
}

impl From<&ScheduleRecord> for AltSpeedSchedule {
    fn from(record: &ScheduleRecord) -> Self {
        let days = if record.days & EVERY_DAY == EVERY_DAY || record.days == 0 {
            Vec::new()
        } else {
            DAY_NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| record.days & (1 << i) != 0)
                .map(|(_, name)| name.to_string())
                .collect()
        };
        let hh_mm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        AltSpeedSchedule {
            begin: hh_mm(record.begin_minute % MINUTES_PER_DAY),
            end: hh_mm(record.end_minute % MINUTES_PER_DAY),
            days,
        }
    }
}

fn parse_hh_mm(text: &str) -> Option<u16> {
    let (hours, minutes) = text.trim().split_once(':')?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// `resume/<hex>.resume`: what was verified, and the files as they were then.
/// On load, a file whose length or mtime differs is rechecked; the rest is
/// trusted without hashing.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ResumeFile {
    /// Verified pieces, BEP 3 bitfield order (high bit of byte 0 = piece 0).
    pub have: Vec<u8>,
    /// One per file, in the metainfo's order.
    pub files: Vec<FileStamp>,
}

/// A file's length and modification time when its pieces were recorded.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub length: u64,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
}

impl FileStamp {
    /// The stamp of a file as it is on disk now; a resume record is trusted for
    /// a file only while this still equals the recorded one.
    pub fn of(metadata: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            length: metadata.len(),
            mtime_secs: metadata.mtime(),
            mtime_nanos: u32::try_from(metadata.mtime_nsec()).unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn file_stamp_changes_with_length_and_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(1000).unwrap();
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        file.set_modified(at).unwrap();
        let stamp = FileStamp::of(&std::fs::metadata(&path).unwrap());
        assert_eq!(
            stamp,
            FileStamp {
                length: 1000,
                mtime_secs: 1_700_000_000,
                mtime_nanos: 123_456_789,
            }
        );
        file.set_modified(at + Duration::from_nanos(1)).unwrap();
        assert_ne!(FileStamp::of(&std::fs::metadata(&path).unwrap()), stamp);
        file.set_modified(at).unwrap();
        file.set_len(999).unwrap();
        file.set_modified(at).unwrap();
        assert_ne!(FileStamp::of(&std::fs::metadata(&path).unwrap()), stamp);
    }

    fn schedule(begin: &str, end: &str, days: &[&str]) -> AltSpeedSchedule {
        AltSpeedSchedule {
            begin: begin.into(),
            end: end.into(),
            days: days.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn schedule_round_trips_through_minutes_and_day_mask() {
        let api = schedule("22:30", "06:05", &["mon", "sun"]);
        let record = ScheduleRecord::try_from(&api).unwrap();
        assert_eq!(
            record,
            ScheduleRecord {
                begin_minute: 22 * 60 + 30,
                end_minute: 6 * 60 + 5,
                days: 0b100_0001,
            }
        );
        assert_eq!(AltSpeedSchedule::from(&record), api);
    }

    #[test]
    fn schedule_without_days_means_every_day() {
        let record = ScheduleRecord::try_from(&schedule("0:00", "23:59", &[])).unwrap();
        assert_eq!(record.days, EVERY_DAY);
        assert_eq!(AltSpeedSchedule::from(&record), schedule("00:00", "23:59", &[]));
    }

    #[test]
    fn bad_schedule_names_field_and_value() {
        let err = ScheduleRecord::try_from(&schedule("24:00", "06:00", &[])).unwrap_err();
        assert_eq!(err.field, "begin");
        assert!(err.to_string().contains("\"24:00\""), "{err}");
        let err = ScheduleRecord::try_from(&schedule("01:00", "6", &[])).unwrap_err();
        assert_eq!(err.field, "end");
        let err = ScheduleRecord::try_from(&schedule("01:00", "02:00", &["funday"])).unwrap_err();
        assert_eq!(err.field, "days");
        assert!(err.to_string().contains("funday"), "{err}");
    }

    #[test]
    fn limit_record_from_setting_and_effective_value() {
        let global: LimitRecord<u64> = LimitSetting::Keyword(LimitKeyword::Global).into();
        let none: LimitRecord<u64> = LimitSetting::Keyword(LimitKeyword::None).into();
        let own: LimitRecord<u64> = LimitSetting::Value(7).into();
        assert_eq!(global.effective(Some(100)), Some(100));
        assert_eq!(none.effective(Some(100)), None);
        assert_eq!(own.effective(Some(100)), Some(7));
    }
}
