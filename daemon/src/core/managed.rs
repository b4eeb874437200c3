//! One torrent as the daemon keeps it: what the user set, where it is in its life,
//! and the latest the shard said about it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::InfoHash;
use ccbt_io::resume::ResumeRecord;
use ccbt_shards::messages::CheckSummary;
use ccbt_shards::{TorrentState, TorrentStatus};

use super::magnet::PendingMagnet;
use crate::api_types::{FilePriorityName, LimitSetting, MetadataProgress, TorrentStateName, TorrentSummary};
use crate::control::Reply;

/// Why a torrent is not running although it is in the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// By the user (`pause`, or added paused).
    Paused,
    /// By its ratio or seed-time limit.
    Finished,
}

/// What the user set on one torrent.
#[derive(Clone, Debug)]
pub(crate) struct TorrentSettings {
    pub download_dir: PathBuf,
    pub labels: Vec<String>,
    pub sequential: bool,
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    pub ratio_limit: LimitSetting<f64>,
    pub seed_time_limit_secs: LimitSetting<u64>,
    pub idle_limit_secs: LimitSetting<u64>,
    /// One per metainfo file.
    pub file_priorities: Vec<FilePriorityName>,
    /// The user's tracker list; None = the metainfo's.
    pub trackers: Option<Vec<Vec<String>>>,
    /// Peers the user named at add time, dialled on every start.
    pub peers: Vec<SocketAddr>,
    pub force_started: bool,
}

/// What to do once the shard has really stopped a torrent.
pub(crate) enum AfterStop {
    /// Stay stopped (paused, finished, or queued).
    Nothing,
    /// Start again at once, hashing every piece (`verify`).
    Recheck,
    /// Start again with the latest record (a setting that needs a restart).
    Restart,
    /// Move its data, then start from the new place.
    Move {
        to: PathBuf,
        reply: Option<Reply<TorrentSummary>>,
    },
}

/// Where the daemon is with the torrent's shard.
pub(crate) enum Life {
    /// Not on any shard.
    Idle,
    /// Sent to a shard; `status` follows it from there.
    Running,
    /// A remove was sent; waiting for the shard's `Stopped`.
    Stopping(AfterStop),
}

/// Byte and time counters over the torrent's life in this state dir.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LifetimeTotals {
    /// Payload bytes of earlier runs (the shard counts from 0 at each start).
    pub downloaded_before: u64,
    pub uploaded_before: u64,
    pub seconds_downloading: u64,
    pub seconds_seeding: u64,
}

/// How long a seeding torrent has uploaded nothing (for the idle limit); counted
/// in this run only, as Transmission counts from its last activity.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdleSeeding {
    pub seconds: u64,
    /// Lifetime upload at the last tick.
    pub uploaded_seen: u64,
}

impl IdleSeeding {
    /// One second passed; `seeding` is whether the torrent seeds now.
    pub fn tick(&mut self, seeding: bool, uploaded: u64) {
        if !seeding || uploaded != self.uploaded_seen {
            self.seconds = 0;
        } else {
            self.seconds += 1;
        }
        self.uploaded_seen = uploaded;
    }
}

pub(crate) struct Managed {
    pub id: u32,
    pub info_hash: InfoHash,
    /// None while a magnet waits for its info dictionary.
    pub meta: Option<Arc<Metainfo>>,
    /// The magnet it was added from, until its metadata arrives (then `None`).
    pub magnet: Option<PendingMagnet>,
    pub settings: TorrentSettings,
    pub stop: Option<StopReason>,
    pub life: Life,
    /// The shard's latest status while running.
    pub status: Option<TorrentStatus>,
    pub shard: Option<usize>,
    /// Latest verified set and file stamps; written to the state dir when dirty.
    pub resume: Option<ResumeRecord>,
    pub resume_dirty: bool,
    /// Skip the record at the next start (after `verify`, or when it proved wrong).
    pub recheck_next_start: bool,
    pub check: Option<CheckSummary>,
    /// Why the record could not be used, reported once.
    pub record_problem: Option<String>,
    pub error: Option<String>,
    pub totals: LifetimeTotals,
    /// Every wanted piece verified, as of the last status or record.
    pub complete: bool,
    pub added_at: u64,
    pub completed_at: Option<u64>,
    pub queue_position: u32,
    /// The state last published as an event (to publish only changes).
    pub published_state: Option<TorrentStateName>,
    /// This run has finished checking its files (the shard said `Started`).
    pub checked: bool,
    /// Running but held by the queue on its shard: checked, no peers, no trackers.
    pub held: bool,
    pub idle: IdleSeeding,
}

impl Managed {
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The metainfo's name; a magnet's display name (or its hash) until then.
    pub fn name(&self) -> &str {
        match (&self.meta, &self.magnet) {
            (Some(meta), _) => &meta.info.name,
            (None, Some(magnet)) => &magnet.name,
            (None, None) => "",
        }
    }

    /// Waiting for a magnet's info dictionary.
    pub fn awaiting_metadata(&self) -> bool {
        self.meta.is_none()
    }

    /// The state users see.
    pub fn state(&self) -> TorrentStateName {
        if self.error.is_some() {
            return TorrentStateName::Error;
        }
        match &self.life {
            Life::Running if self.awaiting_metadata() => TorrentStateName::Metadata,
            Life::Running if !self.checked => TorrentStateName::Checking,
            // Checked, and waiting on its shard for a slot.
            Life::Running if self.held => TorrentStateName::Queued,
            Life::Running => match self.status.as_ref().map(|s| s.state) {
                Some(TorrentState::Downloading) => TorrentStateName::Downloading,
                Some(TorrentState::Seeding) => TorrentStateName::Seeding,
                Some(TorrentState::Failed) => TorrentStateName::Error,
                // The shard's next status says it; until then, what the check found.
                None | Some(TorrentState::FetchingMetadata | TorrentState::Checking | TorrentState::Held)
                    if self.complete =>
                {
                    TorrentStateName::Seeding
                }
                None | Some(TorrentState::FetchingMetadata | TorrentState::Checking | TorrentState::Held) => {
                    TorrentStateName::Downloading
                }
            },
            Life::Stopping(AfterStop::Recheck) => TorrentStateName::Checking,
            Life::Idle | Life::Stopping(_) => match self.stop {
                Some(StopReason::Paused) => TorrentStateName::Paused,
                Some(StopReason::Finished) => TorrentStateName::Finished,
                None => TorrentStateName::Queued,
            },
        }
    }

    /// Pieces of the torrent; 0 until a magnet's metadata arrives.
    pub fn num_pieces(&self) -> u32 {
        self.meta.as_ref().map_or(0, |m| m.num_pieces())
    }

    /// A magnet's metadata fetch as its shard last reported it.
    pub fn metadata_progress(&self) -> MetadataProgress {
        match self.status.as_ref().and_then(|s| s.metadata) {
            Some(m) => MetadataProgress {
                peers_asked: m.peers_asked,
                peers_with_metadata: m.peers_with_metadata,
                pieces_have: m.pieces_have,
                pieces_total: m.pieces_total,
            },
            None => MetadataProgress::default(),
        }
    }

    /// Bytes of the files not skipped (pads never count).
    pub fn wanted_bytes(&self) -> u64 {
        self.meta
            .as_ref()
            .map_or(0, |meta| wanted_bytes_of(meta, &self.settings.file_priorities))
    }

    /// Payload bytes over the torrent's life.
    pub fn downloaded(&self) -> u64 {
        self.totals.downloaded_before + self.status.as_ref().map_or(0, |s| s.stats.downloaded)
    }

    pub fn uploaded(&self) -> u64 {
        self.totals.uploaded_before + self.status.as_ref().map_or(0, |s| s.stats.uploaded)
    }

    /// Verified bytes: from the shard's status, else from this run's check, else from
    /// the record. Events run ahead of the once-a-second status: a torrent known to be
    /// complete holds at least every wanted byte.
    pub fn verified_bytes(&self) -> u64 {
        let from_status = self
            .status
            .as_ref()
            .filter(|s| s.state != TorrentState::Checking)
            .map(|s| s.stats.verified_bytes);
        let from_check = self.check.as_ref().filter(|_| self.checked).map(|c| c.verified_bytes);
        let from_record = || match (&self.resume, &self.meta) {
            (Some(r), Some(meta)) => verified_bytes_of(meta, &r.have),
            _ => 0,
        };
        let known = from_status.or(from_check).unwrap_or_else(from_record);
        if self.complete {
            known.max(self.wanted_bytes())
        } else {
            known
        }
    }

    pub fn ratio(&self) -> f64 {
        let held = self.verified_bytes().max(self.downloaded());
        if held == 0 {
            0.0
        } else {
            self.uploaded() as f64 / held as f64
        }
    }

    /// Folds the finished run's counters into the lifetime totals.
    pub fn end_run(&mut self) {
        if let Some(s) = self.status.take() {
            self.totals.downloaded_before += s.stats.downloaded;
            self.totals.uploaded_before += s.stats.uploaded;
        }
        self.shard = None;
        self.checked = false;
        self.held = false;
    }
}

/// Bytes covered by the set pieces of a bitfield.
/// Whether piece `i` is set in a BitTorrent bitfield (piece 0 = high bit of byte 0).
pub(crate) fn piece_is_set(have: &[u8], i: u32) -> bool {
    have.get((i / 8) as usize).is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
}

/// Bytes of the files not skipped (pads never count); a file without a priority
/// is wanted.
pub(crate) fn wanted_bytes_of(meta: &Metainfo, priorities: &[FilePriorityName]) -> u64 {
    meta.info
        .files
        .iter()
        .zip(priorities.iter().chain(std::iter::repeat(&FilePriorityName::Normal)))
        .filter(|(f, p)| !f.padding && **p != FilePriorityName::Skip)
        .map(|(f, _)| f.length)
        .sum()
}

pub(crate) fn verified_bytes_of(meta: &Metainfo, have: &[u8]) -> u64 {
    let n = meta.num_pieces();
    (0..n)
        .filter(|&i| piece_is_set(have, i))
        .map(|i| u64::from(meta.piece_size(ccbt_engine::PieceIndex(i))))
        .sum()
}

impl Managed {
    /// A copy for building a view off the core (the pending-stop action stays here).
    pub fn view_copy(&self) -> Managed {
        Managed {
            id: self.id,
            info_hash: self.info_hash,
            meta: self.meta.clone(),
            magnet: self.magnet.clone(),
            settings: self.settings.clone(),
            stop: self.stop,
            life: match self.life {
                Life::Idle => Life::Idle,
                Life::Running => Life::Running,
                Life::Stopping(_) => Life::Stopping(AfterStop::Nothing),
            },
            status: self.status.clone(),
            shard: self.shard,
            resume: self.resume.clone(),
            resume_dirty: false,
            recheck_next_start: self.recheck_next_start,
            check: self.check.clone(),
            record_problem: self.record_problem.clone(),
            error: self.error.clone(),
            totals: self.totals,
            complete: self.complete,
            added_at: self.added_at,
            completed_at: self.completed_at,
            queue_position: self.queue_position,
            published_state: self.published_state,
            checked: self.checked,
            held: self.held,
            idle: self.idle,
        }
    }
}
