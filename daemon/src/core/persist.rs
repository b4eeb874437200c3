//! The core's side of the state dir: what it writes (session file, resume records)
//! and how it comes back after a restart or a crash.

use std::path::PathBuf;
use std::sync::Arc;

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::InfoHash;
use ccbt_io::resume::{FileStamp as IoFileStamp, ResumeRecord};

use super::magnet::PendingMagnet;
use super::managed::LifetimeTotals;
use super::store_writer::WriteJob;
use super::{DaemonCore, Life, Managed, StopReason, TorrentSettings};
use crate::api_types::{FilePriorityName, LimitKeyword, LimitSetting, SessionSettings};
use crate::state_store::{
    FileStamp, LimitRecord, ResumeFile, ScheduleRecord, SessionRecord, SettingsRecord, StopReason as StoredStop,
    TorrentRecord,
};

fn priority_code(p: FilePriorityName) -> u8 {
    match p {
        FilePriorityName::Skip => 0,
        FilePriorityName::Low => 1,
        FilePriorityName::Normal => 2,
        FilePriorityName::High => 3,
    }
}

fn priority_name(code: u8) -> FilePriorityName {
    match code {
        0 => FilePriorityName::Skip,
        1 => FilePriorityName::Low,
        3 => FilePriorityName::High,
        _ => FilePriorityName::Normal,
    }
}

fn limit_setting<T>(r: LimitRecord<T>) -> LimitSetting<T> {
    match r {
        LimitRecord::Global => LimitSetting::Keyword(LimitKeyword::Global),
        LimitRecord::None => LimitSetting::Keyword(LimitKeyword::None),
        LimitRecord::Value(v) => LimitSetting::Value(v),
    }
}

pub(crate) fn to_file(r: &ResumeRecord) -> ResumeFile {
    ResumeFile {
        have: r.have.clone(),
        files: r
            .files
            .iter()
            .map(|f| FileStamp {
                length: f.length,
                mtime_secs: f.mtime_secs,
                mtime_nanos: f.mtime_nanos,
            })
            .collect(),
    }
}

pub(crate) fn from_file(f: ResumeFile) -> ResumeRecord {
    ResumeRecord {
        have: f.have,
        files: f
            .files
            .iter()
            .map(|s| IoFileStamp {
                length: s.length,
                mtime_secs: s.mtime_secs,
                mtime_nanos: s.mtime_nanos,
            })
            .collect(),
    }
}

/// The settings as stored, and back.
pub(crate) fn settings_record(s: &SessionSettings, download_dir: &std::path::Path) -> SettingsRecord {
    SettingsRecord {
        download_limit: s.download_limit,
        upload_limit: s.upload_limit,
        alt_download_limit: s.alt_download_limit,
        alt_upload_limit: s.alt_upload_limit,
        alt_speed_enabled: s.alt_speed_enabled,
        alt_speed_schedule: s
            .alt_speed_schedule
            .as_ref()
            .and_then(|sch| ScheduleRecord::try_from(sch).ok()),
        max_active_downloads: s.max_active_downloads,
        max_active_seeds: s.max_active_seeds,
        max_active_checks: s.max_active_checks,
        ratio_limit: s.ratio_limit,
        seed_time_limit_secs: s.seed_time_limit_secs,
        idle_limit_secs: s.idle_limit_secs,
        download_dir: Some(download_dir.display().to_string()),
    }
}

fn apply_settings_record(s: &mut SessionSettings, r: &SettingsRecord) {
    s.download_limit = r.download_limit;
    s.upload_limit = r.upload_limit;
    s.alt_download_limit = r.alt_download_limit;
    s.alt_upload_limit = r.alt_upload_limit;
    s.alt_speed_enabled = r.alt_speed_enabled;
    s.alt_speed_schedule = r
        .alt_speed_schedule
        .as_ref()
        .map(crate::api_types::AltSpeedSchedule::from);
    s.max_active_downloads = r.max_active_downloads;
    s.max_active_seeds = r.max_active_seeds;
    s.max_active_checks = r.max_active_checks;
    s.ratio_limit = r.ratio_limit;
    s.seed_time_limit_secs = r.seed_time_limit_secs;
    s.idle_limit_secs = r.idle_limit_secs;
}

/// What the state dir holds of a torrent besides its record.
enum Saved {
    Metainfo(Arc<Metainfo>),
    /// A magnet whose metadata had not arrived.
    Magnet(PendingMagnet),
}

impl DaemonCore {
    fn torrent_record(t: &Managed) -> TorrentRecord {
        TorrentRecord {
            id: t.id,
            info_hash: t.info_hash().0,
            name: t.name().to_string(),
            download_dir: t.settings.download_dir.display().to_string(),
            labels: t.settings.labels.clone(),
            added_at: t.added_at,
            completed_at: t.completed_at,
            stopped: match t.stop {
                None => StoredStop::Running,
                Some(StopReason::Paused) => StoredStop::Paused,
                Some(StopReason::Finished) => StoredStop::Finished,
            },
            force_started: t.settings.force_started,
            queue_position: t.queue_position,
            sequential: t.settings.sequential,
            download_limit: t.settings.download_limit,
            upload_limit: t.settings.upload_limit,
            ratio_limit: t.settings.ratio_limit.into(),
            seed_time_limit_secs: t.settings.seed_time_limit_secs.into(),
            idle_limit_secs: t.settings.idle_limit_secs.into(),
            file_priorities: t.settings.file_priorities.iter().map(|p| priority_code(*p)).collect(),
            trackers: t.settings.trackers.clone(),
            peers: t.settings.peers.iter().map(|p| p.to_string()).collect(),
            downloaded: t.downloaded(),
            uploaded: t.uploaded(),
            seconds_downloading: t.totals.seconds_downloading,
            seconds_seeding: t.totals.seconds_seeding,
        }
    }

    /// Writes the session file (atomically); a failure is logged and tried again
    /// at the next tick.
    pub(super) fn save_session(&mut self) {
        let (down, up) = self.lifetime_totals();
        let record = SessionRecord {
            next_id: self.next_id,
            torrents: self.torrents.values().map(Self::torrent_record).collect(),
            settings: settings_record(&self.settings, &self.download_dir),
            total_downloaded: down,
            total_uploaded: up,
        };
        let after = std::mem::take(&mut self.after_session_write);
        self.writer.send(WriteJob::Session(Box::new(record), after));
        self.session_dirty = false;
        self.last_session_save = std::time::Instant::now();
    }

    /// Writes the records that changed since they were last written.
    pub(super) fn save_dirty_resume(&mut self) {
        for t in self.torrents.values_mut() {
            if !t.resume_dirty {
                continue;
            }
            let Some(record) = &t.resume else { continue };
            self.writer.send(WriteJob::Resume(t.info_hash.0, to_file(record)));
            t.resume_dirty = false;
        }
    }

    pub(super) fn save_all_resume(&mut self) {
        self.save_dirty_resume();
    }

    /// Brings back the torrents of the state dir as they were: paused ones paused,
    /// finished ones finished, the rest queued (started by the first `schedule`).
    pub(super) fn restore(&mut self) {
        let record = match self.store.load_session() {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "the session file cannot be read; rebuilding it from the saved torrents");
                self.publish("record_problem", None, Some(e.to_string()));
                self.rebuild_from_saved_torrents();
                return;
            }
        };
        apply_settings_record(&mut self.settings, &record.settings);
        if let Some(dir) = &record.settings.download_dir {
            self.download_dir = PathBuf::from(dir);
        }
        let known_totals: (u64, u64) = record
            .torrents
            .iter()
            .fold((0, 0), |(d, u), t| (d + t.downloaded, u + t.uploaded));
        self.removed_downloaded = record.total_downloaded.saturating_sub(known_totals.0);
        self.removed_uploaded = record.total_uploaded.saturating_sub(known_totals.1);
        self.next_id = record.next_id.max(1);
        for tr in record.torrents {
            let Some(saved) = self.load_saved(&tr.info_hash) else {
                continue;
            };
            let managed = self.restored(tr, saved);
            self.next_id = self.next_id.max(managed.id + 1);
            self.by_hash.insert(managed.info_hash(), managed.id);
            if let Err(e) = self.ids.insert(managed.id, managed.info_hash().0) {
                tracing::error!(error = %e, "two saved torrents share an id; one is dropped");
                self.by_hash.remove(&managed.info_hash());
                continue;
            }
            self.torrents.insert(managed.id, managed);
        }
    }

    /// The torrent's saved `.torrent`, else its saved magnet link (a magnet whose
    /// metadata had not arrived).
    fn load_saved(&self, info_hash: &[u8; 20]) -> Option<Saved> {
        let hex = InfoHash(*info_hash).to_hex();
        match self.store.load_metainfo(info_hash) {
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => return self.load_saved_metainfo(info_hash).map(Saved::Metainfo),
        }
        match self.store.load_magnet(info_hash) {
            Ok(Some(link)) => match PendingMagnet::parse(&link) {
                Ok(m) if m.link.info_hash.0 == *info_hash => Some(Saved::Magnet(m)),
                Ok(_) => {
                    tracing::error!(torrent = %hex, "its saved magnet link is another torrent's");
                    None
                }
                Err(e) => {
                    tracing::error!(torrent = %hex, error = %e.message, "its saved magnet link is corrupt");
                    None
                }
            },
            Ok(None) => {
                tracing::error!(torrent = %hex, "its saved .torrent is missing; it cannot be restored");
                None
            }
            Err(e) => {
                tracing::error!(torrent = %hex, error = %e, "its saved magnet link cannot be read");
                None
            }
        }
    }

    fn load_saved_metainfo(&self, info_hash: &[u8; 20]) -> Option<Arc<Metainfo>> {
        let hex = InfoHash(*info_hash).to_hex();
        let bytes = match self.store.load_metainfo(info_hash) {
            Ok(Some(b)) => b,
            Ok(None) => {
                tracing::error!(torrent = %hex, "its saved .torrent is missing; it cannot be restored");
                return None;
            }
            Err(e) => {
                tracing::error!(torrent = %hex, error = %e, "its saved .torrent cannot be read");
                return None;
            }
        };
        match Metainfo::from_bytes(&bytes) {
            Ok(m) if m.info_hash.0 == *info_hash => Some(Arc::new(m)),
            Ok(_) => {
                tracing::error!(torrent = %hex, "its saved .torrent is another torrent's");
                None
            }
            Err(e) => {
                tracing::error!(torrent = %hex, error = %e, "its saved .torrent is corrupt");
                None
            }
        }
    }

    fn load_resume_of(&self, meta: &Metainfo) -> (Option<ResumeRecord>, Option<String>) {
        match self.store.load_resume(&meta.info_hash.0) {
            Ok(Some(f)) => (Some(from_file(f)), None),
            Ok(None) => (None, None),
            Err(e) => {
                tracing::warn!(torrent = %meta.info_hash, error = %e, "resume record unusable; the torrent will be rechecked");
                (None, Some(e.to_string()))
            }
        }
    }

    fn restored(&self, tr: TorrentRecord, saved: Saved) -> Managed {
        let mut priorities: Vec<FilePriorityName> = tr.file_priorities.iter().map(|c| priority_name(*c)).collect();
        let (info_hash, meta, magnet) = match saved {
            Saved::Metainfo(meta) => (meta.info_hash, Some(meta), None),
            // Until its metadata comes the list is the add's `skip_files`, as given.
            Saved::Magnet(m) => (m.link.info_hash, None, Some(m)),
        };
        let (resume, record_problem) = match &meta {
            Some(meta) => self.load_resume_of(meta),
            None => (None, None),
        };
        let mut complete = false;
        if let Some(meta) = &meta {
            priorities.resize(meta.info.files.len(), FilePriorityName::Normal);
            complete = tr.completed_at.is_some()
                && resume.as_ref().is_some_and(|r| {
                    super::managed::verified_bytes_of(meta, &r.have)
                        >= super::managed::wanted_bytes_of(meta, &priorities)
                });
        }
        Managed {
            id: tr.id,
            info_hash,
            meta,
            magnet,
            settings: TorrentSettings {
                download_dir: PathBuf::from(tr.download_dir),
                labels: tr.labels,
                sequential: tr.sequential,
                download_limit: tr.download_limit,
                upload_limit: tr.upload_limit,
                ratio_limit: limit_setting(tr.ratio_limit),
                seed_time_limit_secs: limit_setting(tr.seed_time_limit_secs),
                idle_limit_secs: limit_setting(tr.idle_limit_secs),
                file_priorities: priorities,
                trackers: tr.trackers,
                peers: tr.peers.iter().filter_map(|p| p.parse().ok()).collect(),
                force_started: tr.force_started,
            },
            stop: match tr.stopped {
                StoredStop::Running => None,
                StoredStop::Paused => Some(StopReason::Paused),
                StoredStop::Finished => Some(StopReason::Finished),
            },
            life: Life::Idle,
            status: None,
            shard: None,
            resume,
            resume_dirty: false,
            recheck_next_start: false,
            check: None,
            record_problem,
            error: None,
            totals: LifetimeTotals {
                downloaded_before: tr.downloaded,
                uploaded_before: tr.uploaded,
                seconds_downloading: tr.seconds_downloading,
                seconds_seeding: tr.seconds_seeding,
            },
            complete,
            added_at: tr.added_at,
            completed_at: tr.completed_at,
            queue_position: tr.queue_position,
            published_state: None,
            checked: false,
            held: false,
            idle: Default::default(),
        }
    }

    /// The session file is gone or corrupt: every saved .torrent comes back with
    /// default settings in the default download dir, so nothing is silently lost.
    fn rebuild_from_saved_torrents(&mut self) {
        let hashes = match self.store.list_saved_metainfo() {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the saved torrents");
                return;
            }
        };
        let magnets = self.store.list_saved_magnets().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot list the saved magnet links");
            Vec::new()
        });
        let magnets = magnets.into_iter().filter(|h| !hashes.contains(h));
        for hash in hashes.iter().copied().chain(magnets) {
            let Some(saved) = self.load_saved(&hash) else {
                continue;
            };
            let id = self.next_id;
            self.next_id += 1;
            let (name, files, trackers) = match &saved {
                Saved::Metainfo(meta) => (meta.info.name.clone(), meta.info.files.len(), None),
                Saved::Magnet(m) => (m.name.clone(), 0, Some(m.tracker_tiers()).filter(|t| !t.is_empty())),
            };
            let record = TorrentRecord {
                id,
                info_hash: hash,
                name,
                download_dir: self.download_dir.display().to_string(),
                labels: Vec::new(),
                added_at: super::unix_now(),
                completed_at: None,
                stopped: StoredStop::Running,
                force_started: false,
                queue_position: id,
                sequential: false,
                download_limit: None,
                upload_limit: None,
                ratio_limit: LimitRecord::Global,
                seed_time_limit_secs: LimitRecord::Global,
                idle_limit_secs: LimitRecord::Global,
                file_priorities: vec![2; files],
                trackers,
                peers: match &saved {
                    Saved::Magnet(m) => m.peer_addrs().iter().map(|p| p.to_string()).collect(),
                    Saved::Metainfo(_) => Vec::new(),
                },
                downloaded: 0,
                uploaded: 0,
                seconds_downloading: 0,
                seconds_seeding: 0,
            };
            let managed = self.restored(record, saved);
            self.by_hash.insert(managed.info_hash(), id);
            let _ = self.ids.insert(id, hash);
            self.torrents.insert(id, managed);
        }
        self.session_dirty = true;
    }
}
