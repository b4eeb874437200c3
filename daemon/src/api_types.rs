//! The control API's JSON shapes: what the daemon answers and what it accepts.
//!
//! One set of types for the three sides of the API: the daemon's core fills them,
//! the HTTP server serializes them, and `btbt` (and the dashboard) parse them back.
//! `docs/api.md` documents each one; a field added here is added there.

use serde::{Deserialize, Serialize};

mod ip_filter;
#[cfg(any(test, feature = "test-fixtures"))]
mod sample;
pub use ip_filter::{IpFilterBlocked, IpFilterCheck, IpFilterList, IpFilterStatus, MalformedListLine};

/// Version of this API; bumped on an incompatible change.
pub const API_VERSION: u32 = 1;
/// The API's default address: the same port as the original Python ccbt's IPC server.
pub const DEFAULT_API_PORT: u16 = 64124;

/// Where a torrent is, as users see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TorrentStateName {
    /// Its files are being checked (on add, on `verify`, or after a restart when the
    /// resume record could not be trusted).
    Checking,
    /// Waiting for an active slot (see the session's `max_active_*`).
    Queued,
    Downloading,
    Seeding,
    /// Stopped by the user.
    Paused,
    /// Stopped by its ratio or seed-time limit.
    Finished,
    /// Stopped by an error of its own (disk, files); `error` says which.
    Error,
    /// A magnet waiting for its info dictionary from peers (`metadata` says how far).
    Metadata,
}

impl TorrentStateName {
    pub fn as_str(&self) -> &'static str {
        match self {
            TorrentStateName::Checking => "checking",
            TorrentStateName::Queued => "queued",
            TorrentStateName::Downloading => "downloading",
            TorrentStateName::Seeding => "seeding",
            TorrentStateName::Paused => "paused",
            TorrentStateName::Finished => "finished",
            TorrentStateName::Error => "error",
            TorrentStateName::Metadata => "metadata",
        }
    }
}

/// One torrent in `GET /api/v1/torrents` (and the head of `GET /api/v1/torrents/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TorrentSummary {
    /// Small integer, stable for the daemon's whole state dir (never reused).
    pub id: u32,
    /// 40 hex digits.
    pub info_hash: String,
    pub name: String,
    pub state: TorrentStateName,
    /// Verified share of the wanted bytes, 0..=1.
    pub progress: f64,
    pub verified_bytes: u64,
    pub total_bytes: u64,
    /// Bytes of the files not skipped.
    pub wanted_bytes: u64,
    /// Payload bytes per second, over the last seconds.
    pub download_rate: u64,
    pub upload_rate: u64,
    /// Payload bytes, over the torrent's whole life in this state dir.
    pub downloaded: u64,
    pub uploaded: u64,
    /// `uploaded / max(verified_bytes, downloaded)`; 0 when nothing is held.
    pub ratio: f64,
    pub peers: usize,
    /// Seconds until the wanted bytes are verified at the current rate; none when
    /// complete or not moving.
    pub eta_secs: Option<u64>,
    pub labels: Vec<String>,
    pub download_dir: String,
    pub error: Option<String>,
    /// 0-based position among queued and active torrents; none when paused or finished.
    pub queue_position: Option<u32>,
    /// The shard that runs it, when it runs.
    pub shard: Option<usize>,
    /// Unix seconds.
    pub added_at: u64,
    pub completed_at: Option<u64>,
    pub seconds_downloading: u64,
    pub seconds_seeding: u64,
    pub sequential: bool,
    /// Bypasses the queue's active limits.
    pub force_started: bool,
    /// Per-torrent payload limits in bytes/s; none = only the global limit applies.
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    /// The ratio at which it stops; none = no limit (after the global default is applied).
    pub ratio_limit: Option<f64>,
    pub seed_time_limit_secs: Option<u64>,
    /// Stops after this many seconds seeding without uploading; none = no limit.
    #[serde(default)]
    pub idle_limit_secs: Option<u64>,
    pub private: bool,
    /// A magnet's metadata fetch while it runs (state `metadata`); none once the
    /// torrent has its info dictionary, and for torrents added from a `.torrent`.
    #[serde(default)]
    pub metadata: Option<MetadataProgress>,
}

/// How far a magnet is with its info dictionary (BEP 9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataProgress {
    /// Peers asked for the metadata so far (connected ones that support `ut_metadata`).
    pub peers_asked: u32,
    /// Of them, peers that said they have it (sent `metadata_size`).
    pub peers_with_metadata: u32,
    /// 16 KiB pieces of the info dictionary received and kept.
    pub pieces_have: u32,
    /// Pieces in all (0 until a peer has told the size).
    pub pieces_total: u32,
}

/// `GET /api/v1/torrents/{id}`: the summary and everything `btbt show` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TorrentDetail {
    #[serde(flatten)]
    pub summary: TorrentSummary,
    pub piece_length: u32,
    pub num_pieces: u32,
    pub pieces_have: u32,
    pub files: Vec<FileEntry>,
    pub peers_list: Vec<PeerEntry>,
    pub trackers: Vec<TrackerEntry>,
    /// How the last start checked its data: pieces trusted from the resume record and
    /// pieces hashed.
    pub last_check: Option<CheckReport>,
    /// Connected peers by where their address came from.
    #[serde(default)]
    pub peers_by_source: PeersBySource,
}

/// A count of peers per source (`ccbt_engine::peer_source::PeerSource` names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeersBySource {
    pub tracker: u32,
    pub dht: u32,
    pub pex: u32,
    pub lsd: u32,
    pub incoming: u32,
    pub manual: u32,
}

/// How one start of a torrent came by its verified pieces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Pieces taken from the resume record without reading them.
    pub trusted_pieces: u32,
    /// Pieces read and hashed.
    pub hashed_pieces: u32,
    /// Files whose size or mtime differed from the record (rechecked).
    pub changed_files: u32,
    /// Why the record was not used at all, if it was not (missing, corrupt, ...).
    pub record_problem: Option<String>,
    pub millis: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilePriorityName {
    Skip,
    Low,
    Normal,
    High,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub index: usize,
    /// Relative to the torrent's directory, '/'-separated.
    pub path: String,
    pub length: u64,
    /// Bytes of this file inside verified pieces.
    pub verified_bytes: u64,
    pub progress: f64,
    pub priority: FilePriorityName,
    /// BEP 47 padding: never on disk.
    pub padding: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerEntry {
    pub addr: String,
    /// From the peer id (Azureus style `-qB4650-` → "qB 4.6.5.0"), or the hex prefix.
    pub client: String,
    /// Letters as libtorrent/qBittorrent show them: `D`/`d` we download (interested,
    /// unchoked / choked), `U`/`u` we upload, `I` incoming, `E` encrypted (never), `S` snubbed.
    pub flags: String,
    pub download_rate: u64,
    pub upload_rate: u64,
    pub downloaded: u64,
    pub uploaded: u64,
    /// Share of pieces the peer has, 0..=1.
    pub progress: f64,
    /// Where the address came from: `tracker`, `dht`, `pex`, `lsd`, `incoming`, `manual`.
    #[serde(default)]
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackerEntry {
    pub url: String,
    pub tier: usize,
    /// `working`, `updating`, `not_contacted`, `error`.
    pub status: String,
    pub next_announce_secs: Option<u64>,
    pub seeders: Option<u32>,
    pub leechers: Option<u32>,
    pub last_error: Option<String>,
}

/// `GET /api/v1/torrents/{id}/pieces`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceMap {
    pub num_pieces: u32,
    pub have: u32,
    /// The verified pieces as a BitTorrent bitfield (first piece = high bit of the
    /// first byte), in lower-case hex.
    pub bitfield_hex: String,
}

/// `POST /api/v1/torrents` with a JSON body (a raw `.torrent` body takes the same
/// options from the query string).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    /// A `.torrent` path on the daemon's machine.
    pub path: Option<String>,
    /// A magnet link (refused with `unsupported` until magnets land).
    pub magnet: Option<String>,
    /// A `.torrent`, base64 (standard alphabet, padded).
    pub metainfo_base64: Option<String>,
    /// Default: the session's `download_dir`.
    pub download_dir: Option<String>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub sequential: bool,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Peers to dial at once (`ADDR:PORT`), besides the trackers'.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Files not to download, by index.
    #[serde(default)]
    pub skip_files: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddResponse {
    pub id: u32,
    pub info_hash: String,
    pub name: String,
}

/// A limit that can be set, cleared, or handed back to the session's default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LimitSetting<T> {
    Value(T),
    /// `"none"` (no limit) or `"global"` (the session's default).
    Keyword(LimitKeyword),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKeyword {
    None,
    Global,
}

/// `PATCH /api/v1/torrents/{id}`: every field optional; absent = unchanged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorrentPatch {
    /// Bytes/s; 0 or `"none"` = no per-torrent limit.
    pub download_limit: Option<LimitSetting<u64>>,
    pub upload_limit: Option<LimitSetting<u64>>,
    pub ratio_limit: Option<LimitSetting<f64>>,
    pub seed_time_limit_secs: Option<LimitSetting<u64>>,
    pub idle_limit_secs: Option<LimitSetting<u64>>,
    pub sequential: Option<bool>,
    pub labels: Option<Vec<String>>,
    /// Move the data to this directory (rename, or copy + verify + delete across
    /// file systems); the torrent goes on from there.
    pub move_to: Option<String>,
    pub add_trackers: Option<Vec<String>>,
    pub remove_trackers: Option<Vec<String>>,
}

/// `PATCH /api/v1/torrents/{id}/files`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesPatch {
    pub files: Vec<usize>,
    pub priority: FilePriorityName,
}

/// `POST /api/v1/torrents/{id}/queue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueMove {
    Top,
    Up,
    Down,
    Bottom,
    /// 0-based.
    Position(u32),
}

/// A daily window in which the alternative speed limits apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AltSpeedSchedule {
    /// `HH:MM`, local time; `end` before `begin` spans midnight.
    pub begin: String,
    pub end: String,
    /// Days it applies, `mon`..`sun`; empty = every day.
    #[serde(default)]
    pub days: Vec<String>,
}

/// `GET /api/v1/session`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub version: String,
    pub api_version: u32,
    pub pid: u32,
    pub api_url: String,
    pub listen: String,
    pub state_dir: String,
    pub download_dir: String,
    pub shards: usize,
    pub uptime_secs: u64,
    #[serde(flatten)]
    pub settings: SessionSettings,
}

/// The session settings that can change at run time (`PATCH /api/v1/session`
/// takes the same fields, each optional).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSettings {
    /// Global payload limits in bytes/s; none = unlimited.
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    pub alt_download_limit: Option<u64>,
    pub alt_upload_limit: Option<u64>,
    /// Alternative limits on by hand.
    pub alt_speed_enabled: bool,
    pub alt_speed_schedule: Option<AltSpeedSchedule>,
    /// Whether the alternative limits apply right now (by hand or by schedule).
    pub alt_speed_active: bool,
    pub max_active_downloads: u32,
    pub max_active_seeds: u32,
    pub max_active_checks: u32,
    /// Defaults for torrents without their own; none = no limit.
    pub ratio_limit: Option<f64>,
    pub seed_time_limit_secs: Option<u64>,
    #[serde(default)]
    pub idle_limit_secs: Option<u64>,
    pub watch_dir: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPatch {
    pub download_limit: Option<LimitSetting<u64>>,
    pub upload_limit: Option<LimitSetting<u64>>,
    pub alt_download_limit: Option<LimitSetting<u64>>,
    pub alt_upload_limit: Option<LimitSetting<u64>>,
    pub alt_speed_enabled: Option<bool>,
    /// `null` clears the schedule; absent leaves it.
    #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
    pub alt_speed_schedule: Option<Option<AltSpeedSchedule>>,
    pub max_active_downloads: Option<u32>,
    pub max_active_seeds: Option<u32>,
    pub max_active_checks: Option<u32>,
    pub ratio_limit: Option<LimitSetting<f64>>,
    pub seed_time_limit_secs: Option<LimitSetting<u64>>,
    pub idle_limit_secs: Option<LimitSetting<u64>>,
    pub download_dir: Option<String>,
}

/// `GET /api/v1/stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionStats {
    pub download_rate: u64,
    pub upload_rate: u64,
    /// Payload bytes since the daemon started.
    pub session_downloaded: u64,
    pub session_uploaded: u64,
    /// Payload bytes over the state dir's life.
    pub total_downloaded: u64,
    pub total_uploaded: u64,
    pub torrents: u32,
    /// Torrents by state name.
    pub by_state: std::collections::BTreeMap<String, u32>,
    pub peers: usize,
    pub shards: Vec<ShardStats>,
    /// Events a slow `/api/v1/events` reader missed, over all readers.
    pub events_dropped: u64,
    /// Connections handed from the accepting shard to their owner.
    pub handovers: u64,
    pub uptime_secs: u64,
    /// What the IP filter refused since the daemon started.
    #[serde(default)]
    pub ip_filter_blocked: IpFilterBlocked,
    /// What the peer defences did since the daemon started.
    #[serde(default)]
    pub peer_guard: PeerGuardStats,
}

/// Refusals, violations and bans since the daemon started (`GET /api/v1/stats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerGuardStats {
    /// Peer connections refused (or dials not made), by reason: `per_ip`,
    /// `torrent_full`, `global_full`, `half_open`, `handshake_rate`, `banned`,
    /// `routing_full`.
    pub refusals: std::collections::BTreeMap<String, u64>,
    /// Peers cut off for breaking the protocol, by kind (floods by anomaly:
    /// `keepalive_storm`, `repeated_have`, `repeated_bitfield`, `extension_flood`,
    /// `request_flood`, `tiny_message_flood`).
    pub violations: std::collections::BTreeMap<String, u64>,
    /// Addresses banned by the torrents.
    pub bans_issued: u64,
    /// Entries of the session's ban list now (`GET /api/v1/bans`).
    pub bans_in_force: usize,
}

/// One entry of the session's ban list (`GET /api/v1/bans`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanView {
    pub ip: String,
    /// `corrupt_data`, `proven_corrupt_block`, `hostile_protocol`.
    pub reason: String,
    /// The torrent that banned it (hex info-hash).
    pub info_hash: Option<String>,
    /// Unix seconds.
    pub banned_at: u64,
    pub expires_at: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardStats {
    pub shard: usize,
    pub torrents: u32,
    pub peers: usize,
    pub download_rate: u64,
    pub upload_rate: u64,
    /// This shard's share of the global limits, bytes/s; none = unlimited.
    pub download_share: Option<u64>,
    pub upload_share: Option<u64>,
    /// How busy the shard's core was over the last second, 0 to 100 (time the
    /// executor spent running tasks, not waiting for I/O).
    #[serde(default)]
    pub busy_percent: f64,
}

/// How loud an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

/// One alert, firing or resolved (`GET /api/v1/alerts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// Increasing per daemon run.
    pub id: u64,
    /// The rule's name (`torrent_stalled`, `tracker_failing`, a config rule's `name`).
    pub rule: String,
    pub severity: AlertSeverity,
    /// The torrent it is about, for per-torrent rules.
    pub torrent_id: Option<u32>,
    pub torrent_name: Option<String>,
    /// For people: what crossed which threshold.
    pub message: String,
    /// Unix seconds.
    pub fired_at: u64,
    /// None while it is still firing.
    pub resolved_at: Option<u64>,
}

/// `GET /api/v1/alerts`: what fires now, and what fired lately (newest first, bounded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertList {
    pub active: Vec<AlertView>,
    pub recent: Vec<AlertView>,
}

/// One alert rule (`GET /api/v1/alerts/rules`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRuleView {
    pub name: String,
    /// As written (see `docs/alerts.md` for the grammar).
    pub condition: String,
    /// How long the condition must hold before the alert fires.
    pub for_secs: u64,
    pub severity: AlertSeverity,
    /// `builtin` (thresholds in `[alerts]`), `config` (`[[alerts.rules]]`) or
    /// `runtime` (added through the API; only these can be removed through it).
    pub source: String,
    /// Checked once per torrent (the condition names a `torrent.` figure).
    pub per_torrent: bool,
}

/// `POST /api/v1/alerts/rules`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAlertRule {
    pub name: String,
    pub condition: String,
    /// Default 0: fires as soon as the condition holds.
    #[serde(default)]
    pub for_secs: u64,
    /// Default `warning`.
    #[serde(default)]
    pub severity: Option<AlertSeverity>,
}

/// One event of `GET /api/v1/events` (the SSE `event:` is `kind`, `data:` this JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiEvent {
    /// Increasing per daemon run.
    pub seq: u64,
    /// `added`, `metadata_received`, `state_changed`, `completed`, `error`,
    /// `tracker_error`, `peer_banned`, `removed`, `record_problem`, `limit_reached`,
    /// `alert_fired`, `alert_resolved` (`message` is the alert as JSON).
    pub kind: String,
    pub id: Option<u32>,
    pub info_hash: Option<String>,
    pub name: Option<String>,
    /// For `state_changed`.
    pub state: Option<TorrentStateName>,
    pub message: Option<String>,
    /// Unix seconds.
    pub time: u64,
}

/// Every error the API answers: `{"error":{"code":…,"message":…}}` with a 4xx
/// (a 5xx is a bug).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, for scripts: `bad_request`, `bad_json`, `invalid_torrent`, `not_found`,
    /// `ambiguous_id`, `duplicate`, `unauthorized`, `body_too_large`, `unsupported`,
    /// `conflict`, `internal`.
    pub code: String,
    /// For people; names the field, torrent or file that was wrong.
    pub message: String,
}

/// `Option<Option<T>>` from JSON: absent → None, `null` → Some(None), value → Some(Some).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(inner) => inner.serialize(s),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// `GET /api/v1/torrents/changes?since=REV`: the torrents that changed since a
/// revision this daemon run handed out, so a client follows 10,000 torrents without
/// fetching them all each second (bitonic does). The same record as the qBittorrent
/// API's `sync/maindata`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TorrentChanges {
    /// Pass it as `since` next time.
    pub revision: u64,
    /// `since` was 0, from another daemon run, or too old: `torrents` is every
    /// torrent, and the client drops any it holds that are not in it.
    pub full: bool,
    /// Torrents with a field changed since `since` (whole summaries), by id.
    pub torrents: Vec<TorrentSummary>,
    /// Info-hashes of the torrents removed since `since`.
    pub removed: Vec<String>,
}

/// One key of `GET /api/v1/config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// Dotted path: `limits.download`.
    pub key: String,
    /// As a user writes it (`"10M"`, `"48h"`, `8`, `"unlimited"`); `null` = unset;
    /// a secret shows as `"<set>"`.
    pub value: serde_json::Value,
    /// Where it came from: `default`, `file:PATH:LINE`, `env:VAR`, `flag:--x`, `runtime`.
    pub source: String,
    /// `live` (applied while running) or `restart`.
    pub reload: String,
}

/// `GET /api/v1/config`: the running daemon's effective config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigView {
    /// The config file it reads and watches, if any.
    pub file: Option<String>,
    pub entries: Vec<ConfigEntry>,
    /// Keys whose new value (from the file) waits for a restart.
    pub needs_restart: Vec<String>,
}

/// `PATCH /api/v1/config`: a runtime override of one live key, or its removal
/// (`value` null). Kept in the state dir, never written into the user's file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    pub key: String,
    /// As typed on the command line (`10M`, `2h`, `a:1,b:2`); null = unset.
    pub value: Option<String>,
}
