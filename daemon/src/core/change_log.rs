//! What changed since a revision: the record behind the qBittorrent API's
//! `sync/maindata?rid=N`, which answers only what moved since the client's last call.
//!
//! The core keeps, for each torrent, the summary it last reported and the revision at
//! which each of its fields last changed; a global counter numbers the revisions.
//! Removals, and changes to categories and tags, are kept in bounded rings. A request
//! reads this record: it never re-serialises every torrent to find the differences
//! (at 10,000 torrents that is what makes qBittorrent's own web UI slow). The record is
//! refreshed for every torrent once a second while someone follows it, and at once
//! for the torrents an API call or a lifecycle event touched.
//!
//! Fields that move with the clock alone (seconds downloading and seeding) count as
//! changed once a minute: 10,000 seeding torrents would otherwise all change every
//! second, and the clients that read them (the *arr apps) work in minutes.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::api_types::TorrentSummary;

/// Removals (and removed category and tag names) remembered; a client further behind
/// gets a full update.
pub const MAX_REMEMBERED_REMOVALS: usize = 4096;
/// The record is refreshed each second only while someone asked for it this recently.
pub const FOLLOW_WINDOW: Duration = Duration::from_secs(300);
/// A field that moves with the clock alone counts as changed once per this many seconds.
pub const CLOCK_FIELD_STEP_SECS: u64 = 60;

macro_rules! summary_fields {
    ($($field:ident => $bit:ident,)*) => {
        /// One bit per field of [`TorrentSummary`].
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum SummaryField { $($bit,)* }

        impl SummaryField {
            pub const ALL: &'static [SummaryField] = &[$(SummaryField::$bit,)*];
        }

        /// The fields of `new` that differ from `old`. The destructuring is exhaustive,
        /// so a field added to the summary cannot be forgotten here.
        pub fn changed_fields(old: &TorrentSummary, new: &TorrentSummary) -> FieldMask {
            let TorrentSummary { $($field,)* } = new;
            let mut mask = FieldMask::NONE;
            $(
                if old.$field != *$field {
                    mask.insert(SummaryField::$bit);
                }
            )*
            if clock_step_unchanged(old.seconds_downloading, new.seconds_downloading) {
                mask.remove(SummaryField::SecondsDownloading);
            }
            if clock_step_unchanged(old.seconds_seeding, new.seconds_seeding) {
                mask.remove(SummaryField::SecondsSeeding);
            }
            mask
        }
    };
}

summary_fields! {
    id => Id,
    info_hash => InfoHash,
    name => Name,
    state => State,
    progress => Progress,
    verified_bytes => VerifiedBytes,
    total_bytes => TotalBytes,
    wanted_bytes => WantedBytes,
    download_rate => DownloadRate,
    upload_rate => UploadRate,
    downloaded => Downloaded,
    uploaded => Uploaded,
    ratio => Ratio,
    peers => Peers,
    eta_secs => EtaSecs,
    labels => Labels,
    download_dir => DownloadDir,
    error => Error,
    queue_position => QueuePosition,
    shard => Shard,
    added_at => AddedAt,
    completed_at => CompletedAt,
    seconds_downloading => SecondsDownloading,
    seconds_seeding => SecondsSeeding,
    sequential => Sequential,
    force_started => ForceStarted,
    download_limit => DownloadLimit,
    upload_limit => UploadLimit,
    ratio_limit => RatioLimit,
    seed_time_limit_secs => SeedTimeLimitSecs,
    idle_limit_secs => IdleLimitSecs,
    metadata => Metadata,
    private => Private,
}

/// The clock-driven counters count as changed only when they cross a step.
fn clock_step_unchanged(old: u64, new: u64) -> bool {
    old / CLOCK_FIELD_STEP_SECS == new / CLOCK_FIELD_STEP_SECS
}

/// A set of [`SummaryField`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldMask(u64);

impl FieldMask {
    pub const NONE: FieldMask = FieldMask(0);
    pub const ALL: FieldMask = FieldMask(u64::MAX);

    pub fn insert(&mut self, field: SummaryField) {
        self.0 |= 1 << field as u8;
    }

    pub fn remove(&mut self, field: SummaryField) {
        self.0 &= !(1 << field as u8);
    }

    pub fn contains(self, field: SummaryField) -> bool {
        self.0 & (1 << field as u8) != 0
    }

    pub fn intersects(self, other: FieldMask) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn of(fields: &[SummaryField]) -> FieldMask {
        let mut mask = FieldMask::NONE;
        for f in fields {
            mask.insert(*f);
        }
        mask
    }
}

/// A qBittorrent category: a name (also a label on its torrents) and where they go.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Category {
    pub name: String,
    /// Empty = the session's download directory.
    #[serde(rename = "savePath")]
    pub save_path: String,
}

/// What changed since a revision, as the core answers it.
#[derive(Clone, Debug, Default)]
pub struct SyncDelta {
    /// The revision this answer brings the client to.
    pub revision: u64,
    /// The client's revision was 0, unknown, or too old: everything follows.
    pub full_update: bool,
    /// Changed (or, in a full update, all) torrents and which fields changed.
    pub torrents: Vec<(TorrentSummary, FieldMask)>,
    /// Info-hashes (hex) of torrents removed since.
    pub torrents_removed: Vec<String>,
    /// Every category, when any changed (always in a full update).
    pub categories: Option<BTreeMap<String, Category>>,
    pub categories_removed: Vec<String>,
    /// Every tag, when any changed (always in a full update).
    pub tags: Option<Vec<String>>,
    pub tags_removed: Vec<String>,
    /// Every category, changed or not: torrents' `category` is read from it.
    pub known_categories: BTreeMap<String, Category>,
    /// The session's figures now (the core fills them in).
    pub server: ServerFigures,
}

/// The session-wide figures of `server_state`, summed from the log's own record of
/// each torrent (no summary is rebuilt for them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerFigures {
    pub download_rate: u64,
    pub upload_rate: u64,
    pub session_downloaded: u64,
    pub session_uploaded: u64,
    pub total_downloaded: u64,
    pub total_uploaded: u64,
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    pub alt_speed_active: bool,
    pub peers: u64,
    pub torrents: u64,
}

struct Tracked {
    summary: TorrentSummary,
    /// Revision at which each field last changed.
    field_revs: Vec<u64>,
    /// Highest of `field_revs`.
    rev: u64,
}

/// The change record; see the module docs.
pub struct ChangeLog {
    /// Identifies this daemon run in the revisions it hands out: a revision from an
    /// earlier run never matches one of this run.
    epoch: u64,
    revision: u64,
    torrents: HashMap<u32, Tracked>,
    /// (revision, info-hash) of removed torrents, oldest first.
    removed: VecDeque<(u64, String)>,
    /// Revisions at or below this lost removals to the bound.
    horizon: u64,
    categories_rev: u64,
    categories_removed: VecDeque<(u64, String)>,
    tags_rev: u64,
    tags_removed: VecDeque<(u64, String)>,
    /// Torrents to refresh before the next answer.
    touched: HashSet<u32>,
    refresh_all: bool,
    followed_at: Option<Instant>,
}

/// Revisions of a run live in the low 32 bits; the run's epoch above them, kept under
/// 2^52 so JavaScript clients read the number exactly.
const EPOCH_SHIFT: u32 = 32;
const EPOCH_MASK: u64 = (1 << 20) - 1;

impl ChangeLog {
    /// `run_seed` varies between runs (e.g. the start time): it picks the epoch.
    pub fn new(run_seed: u64) -> ChangeLog {
        let epoch = (run_seed & EPOCH_MASK).max(1);
        ChangeLog {
            epoch,
            revision: 0,
            torrents: HashMap::new(),
            removed: VecDeque::new(),
            horizon: 0,
            categories_rev: 0,
            categories_removed: VecDeque::new(),
            tags_rev: 0,
            tags_removed: VecDeque::new(),
            touched: HashSet::new(),
            refresh_all: true,
            followed_at: None,
        }
    }

    /// The revision a client is at now (what a `rid` carries).
    pub fn current(&self) -> u64 {
        (self.epoch << EPOCH_SHIFT) | self.revision
    }

    fn next(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    /// Whether the once-a-second refresh is worth doing.
    pub fn followed(&self, now: Instant) -> bool {
        self.followed_at
            .is_some_and(|at| now.saturating_duration_since(at) < FOLLOW_WINDOW)
    }

    pub fn touch(&mut self, id: u32) {
        self.touched.insert(id);
    }

    /// Something moved many torrents at once (a queue move): refresh them all.
    pub fn touch_all(&mut self) {
        self.refresh_all = true;
    }

    /// Whether [`Self::refresh`] must see every torrent before the next answer.
    pub fn needs_full_refresh(&self) -> bool {
        self.refresh_all
    }

    /// The torrents touched since the last refresh (emptied).
    pub fn take_touched(&mut self) -> Vec<u32> {
        self.touched.drain().collect()
    }

    /// Records a torrent's current summary; returns whether anything changed.
    pub fn record(&mut self, summary: TorrentSummary) -> bool {
        let id = summary.id;
        let mask = match self.torrents.get(&id) {
            Some(t) => changed_fields(&t.summary, &summary),
            None => FieldMask::ALL,
        };
        if mask.is_empty() {
            // Keep the latest clock counters for full answers.
            if let Some(t) = self.torrents.get_mut(&id) {
                t.summary = summary;
            }
            return false;
        }
        let rev = self.next();
        let entry = self.torrents.entry(id).or_insert_with(|| Tracked {
            summary: summary.clone(),
            field_revs: vec![rev; SummaryField::ALL.len()],
            rev,
        });
        for f in SummaryField::ALL {
            if mask.contains(*f) {
                entry.field_revs[*f as usize] = rev;
            }
        }
        entry.rev = rev;
        entry.summary = summary;
        true
    }

    /// Forgets torrents not in `present` (removed), after a full refresh.
    pub fn finish_full_refresh(&mut self, present: &HashSet<u32>) {
        self.refresh_all = false;
        self.touched.clear();
        let gone: Vec<u32> = self
            .torrents
            .keys()
            .filter(|id| !present.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.removed_torrent(id);
        }
    }

    /// A torrent left the session.
    pub fn removed_torrent(&mut self, id: u32) {
        let Some(t) = self.torrents.remove(&id) else { return };
        self.touched.remove(&id);
        let rev = self.next();
        self.removed.push_back((rev, t.summary.info_hash));
        while self.removed.len() > MAX_REMEMBERED_REMOVALS {
            if let Some((r, _)) = self.removed.pop_front() {
                self.horizon = self.horizon.max(r);
            }
        }
    }

    pub fn categories_changed(&mut self, removed: &[String]) {
        let rev = self.next();
        self.categories_rev = rev;
        Self::remember(&mut self.categories_removed, &mut self.horizon, rev, removed);
    }

    pub fn tags_changed(&mut self, removed: &[String]) {
        let rev = self.next();
        self.tags_rev = rev;
        Self::remember(&mut self.tags_removed, &mut self.horizon, rev, removed);
    }

    fn remember(ring: &mut VecDeque<(u64, String)>, horizon: &mut u64, rev: u64, names: &[String]) {
        for name in names {
            ring.push_back((rev, name.clone()));
        }
        while ring.len() > MAX_REMEMBERED_REMOVALS {
            if let Some((r, _)) = ring.pop_front() {
                *horizon = (*horizon).max(r);
            }
        }
    }

    /// What changed since `rid` (a value [`Self::current`] gave out, or 0).
    pub fn delta_since(
        &mut self,
        rid: u64,
        now: Instant,
        categories: &BTreeMap<String, Category>,
        tags: &[String],
    ) -> SyncDelta {
        self.followed_at = Some(now);
        let since = self.local_revision(rid);
        let Some(since) = since else {
            let mut torrents: Vec<(TorrentSummary, FieldMask)> = self
                .torrents
                .values()
                .map(|t| (t.summary.clone(), FieldMask::ALL))
                .collect();
            torrents.sort_by_key(|(s, _)| s.id);
            return SyncDelta {
                revision: self.current(),
                full_update: true,
                torrents,
                torrents_removed: Vec::new(),
                categories: Some(categories.clone()),
                categories_removed: Vec::new(),
                tags: Some(tags.to_vec()),
                tags_removed: Vec::new(),
                known_categories: categories.clone(),
                server: self.server_figures(),
            };
        };
        let mut torrents: Vec<(TorrentSummary, FieldMask)> = self
            .torrents
            .values()
            .filter(|t| t.rev > since)
            .map(|t| {
                let mut mask = FieldMask::NONE;
                for f in SummaryField::ALL {
                    if t.field_revs[*f as usize] > since {
                        mask.insert(*f);
                    }
                }
                (t.summary.clone(), mask)
            })
            .collect();
        torrents.sort_by_key(|(s, _)| s.id);
        let after = |ring: &VecDeque<(u64, String)>| -> Vec<String> {
            ring.iter()
                .filter(|(r, _)| *r > since)
                .map(|(_, n)| n.clone())
                .collect()
        };
        SyncDelta {
            revision: self.current(),
            full_update: false,
            torrents,
            torrents_removed: after(&self.removed),
            categories: (self.categories_rev > since).then(|| categories.clone()),
            categories_removed: after(&self.categories_removed),
            tags: (self.tags_rev > since).then(|| tags.to_vec()),
            tags_removed: after(&self.tags_removed),
            known_categories: categories.clone(),
            server: self.server_figures(),
        }
    }

    /// Rates and peers summed over the recorded torrents.
    fn server_figures(&self) -> ServerFigures {
        let mut f = ServerFigures {
            torrents: self.torrents.len() as u64,
            ..ServerFigures::default()
        };
        for t in self.torrents.values() {
            f.download_rate += t.summary.download_rate;
            f.upload_rate += t.summary.upload_rate;
            f.peers += t.summary.peers as u64;
        }
        f
    }

    /// This run's revision inside `rid`, when the delta since it can be answered.
    fn local_revision(&self, rid: u64) -> Option<u64> {
        if rid == 0 || rid >> EPOCH_SHIFT != self.epoch {
            return None;
        }
        let local = rid & ((1 << EPOCH_SHIFT) - 1);
        if local > self.revision || local < self.horizon {
            return None;
        }
        Some(local)
    }
}

#[cfg(test)]
mod tests;
