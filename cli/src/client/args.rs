//! The client commands' arguments (clap), kept out of the binary so tests parse
//! them too. Names follow the original Python ccbt's `btbt` where it has them.

use std::path::PathBuf;

use ccbt_daemon::api_types::{FilePriorityName, LimitSetting, QueueMove};
use clap::{Args, Subcommand};

use super::add_cmd::AddOptions;
use super::endpoint::{ApiEndpoint, EndpointInputs};
use super::files_cmd::parse_priority;
use super::limit_values::{
    parse_duration_secs, parse_on_off, parse_queue_move, parse_rate, parse_ratio, parse_session_rate,
};
use super::torrent_cmd::SetOptions;
use super::torrent_id::{parse_torrent_id, TorrentId};
use crate::error::CliError;

/// Where the daemon is; global, so they go before or after the subcommand.
#[derive(Args, Debug, Clone, Default)]
pub struct ApiOptions {
    /// The daemon's API, http://HOST:PORT or HOST:PORT (env CCBT_API)
    /// [default: http://127.0.0.1:64124]
    #[arg(long, global = true, value_name = "URL")]
    pub api: Option<String>,
    /// The daemon's state dir, where a local daemon's API token is (env
    /// CCBT_API_TOKEN gives the token itself) [default: $XDG_DATA_HOME/ccbt or
    /// ~/.local/share/ccbt]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ApiOptions {
    pub fn endpoint(&self) -> Result<ApiEndpoint, CliError> {
        ApiEndpoint::resolve(&EndpointInputs::from_env(self.api.clone(), self.state_dir.clone()))
    }
}

/// The commands that talk to a running daemon.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Add .torrent files (or directories of them) to the daemon; with no daemon
    /// running and no --api, download them here in the foreground as `ccbt` does
    Download {
        /// .torrent files, or directories of them
        #[arg(required = true, value_name = "TORRENT")]
        torrents: Vec<PathBuf>,
        #[command(flatten)]
        add: AddArgs,
    },
    /// Add a magnet link to the daemon
    Magnet {
        /// magnet:?xt=urn:btih:…
        #[arg(value_name = "LINK")]
        link: String,
        #[command(flatten)]
        add: AddArgs,
    },
    /// Every torrent: id, name, state, progress, rates, ratio, peers, eta
    List {
        /// One JSON array, as the API answers it
        #[arg(long)]
        json: bool,
    },
    /// Session totals, and per shard: torrents, peers, rates
    Status {
        #[arg(long)]
        json: bool,
    },
    /// One torrent: files, peers, trackers, piece summary
    Show {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        #[arg(long)]
        json: bool,
    },
    /// Pause, resume, verify, remove, or change a torrent's settings
    #[command(subcommand)]
    Torrent(TorrentCommand),
    /// The order in which queued torrents start
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Which files of a torrent are downloaded
    #[command(subcommand)]
    Files(FilesCommand),
    /// Banned peer addresses: list them, lift a ban
    #[command(subcommand)]
    Peers(PeersCommand),
    /// Global rate limits; no flag prints them
    Limits {
        /// Download limit, bytes/s with a unit (10M, 500K) or none
        #[arg(long, value_parser = parse_session_rate, value_name = "RATE")]
        down: Option<LimitSetting<u64>>,
        /// Upload limit, bytes/s with a unit (10M, 500K) or none
        #[arg(long, value_parser = parse_session_rate, value_name = "RATE")]
        up: Option<LimitSetting<u64>>,
        #[arg(long)]
        json: bool,
    },
    /// The list, refreshed each second, until q or Ctrl-C
    Watch,
    /// bitonic, the live dashboard: torrents, one torrent in depth, the session's shards, alerts
    Dashboard(super::dashboard_cmd::DashboardArgs),
    /// The daemon's monitoring figures once (what GET /metrics serves)
    Metrics {
        /// Output format
        #[arg(short = 'f', long, value_enum, default_value = "prometheus")]
        format: super::metrics_cmd::MetricsFormat,
        /// Write to this file instead of stdout
        #[arg(short = 'o', long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// The IP filter: its lists and counts, test an address, reload the lists
    #[command(subcommand, visible_alias = "ipfilter")]
    Filter(super::ipfilter_cmd::FilterCommand),
    /// Alert rules and the alerts firing: list, active, add, remove, test
    #[command(subcommand)]
    Alerts(super::alerts_cmd::AlertsCommand),
}

/// Options of `download` and `magnet`.
#[derive(Args, Debug, Clone, Default)]
pub struct AddArgs {
    /// Directory the data goes to [default: the daemon's download dir]
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Add without starting
    #[arg(long)]
    pub paused: bool,
    /// Download pieces in order
    #[arg(long)]
    pub sequential: bool,
    /// A label (repeatable)
    #[arg(long = "label", value_name = "L")]
    pub labels: Vec<String>,
    /// A peer to connect to at once (repeatable)
    #[arg(long = "peer", value_name = "ADDR:PORT")]
    pub peers: Vec<String>,
    /// The daemon's answers as one JSON array
    #[arg(long)]
    pub json: bool,
}

impl AddArgs {
    pub fn options(&self) -> AddOptions {
        AddOptions {
            download_dir: self.output.clone(),
            paused: self.paused,
            sequential: self.sequential,
            labels: self.labels.clone(),
            peers: self.peers.clone(),
            json: self.json,
        }
    }
}

/// Torrents named by id, or `--all`.
#[derive(Args, Debug, Clone)]
pub struct Targets {
    /// Ids from `btbt list`, info-hashes, or unique prefixes of them
    #[arg(value_parser = parse_torrent_id, required_unless_present = "all", conflicts_with = "all", value_name = "ID")]
    pub ids: Vec<TorrentId>,
    /// Every torrent
    #[arg(long)]
    pub all: bool,
}

#[derive(Subcommand, Debug)]
pub enum TorrentCommand {
    /// Stop transferring (keeps the torrent and its data)
    Pause(Targets),
    /// Start again (through the queue)
    Resume(Targets),
    /// Start now, bypassing the queue's active limits
    ForceStart(Targets),
    /// Hash every piece again
    Verify(Targets),
    /// Announce to the trackers now
    Reannounce(Targets),
    /// Remove from the daemon (the data stays unless --delete-data)
    Remove {
        #[command(flatten)]
        targets: Targets,
        /// Delete the downloaded files too
        #[arg(long)]
        delete_data: bool,
    },
    /// Change a torrent's own settings
    Set {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        #[command(flatten)]
        settings: SetArgs,
    },
    /// Add a tracker URL
    AddTracker {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        /// Announce URL
        url: String,
    },
    /// Remove a tracker URL
    RemoveTracker {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        /// Announce URL
        url: String,
    },
}

/// The settings `torrent set` changes; each absent one stays as it is.
#[derive(Args, Debug, Clone)]
pub struct SetArgs {
    /// Download limit: bytes/s with a unit (10M), none, or global
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub down: Option<LimitSetting<u64>>,
    /// Upload limit: bytes/s with a unit (10M), none, or global
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub up: Option<LimitSetting<u64>>,
    /// Stop seeding at this ratio (2, 1.5), none, or global
    #[arg(long, value_parser = parse_ratio, value_name = "R")]
    pub ratio_limit: Option<LimitSetting<f64>>,
    /// Stop seeding after this long (90m, 2h, 1d12h), none, or global
    #[arg(long, value_parser = parse_duration_secs, value_name = "DURATION")]
    pub seed_time_limit: Option<LimitSetting<u64>>,
    /// Stop seeding after uploading nothing for this long (30m, 2h), none, or global
    #[arg(long, value_parser = parse_duration_secs, value_name = "DURATION")]
    pub idle_limit: Option<LimitSetting<u64>>,
    /// Download pieces in order
    #[arg(long, value_parser = parse_on_off, value_name = "on|off")]
    pub sequential: Option<bool>,
    /// Move the data to DIR (the torrent goes on from there)
    #[arg(long = "move", value_name = "DIR")]
    pub move_to: Option<PathBuf>,
    /// Replace the labels (repeatable)
    #[arg(long = "label", value_name = "L")]
    pub labels: Vec<String>,
}

impl SetArgs {
    pub fn options(&self) -> SetOptions {
        SetOptions {
            down: self.down,
            up: self.up,
            ratio_limit: self.ratio_limit,
            seed_time_limit: self.seed_time_limit,
            idle_limit: self.idle_limit,
            sequential: self.sequential,
            move_to: self.move_to.clone(),
            labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum QueueCommand {
    /// The queue in order (positions from 1)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Move a torrent in the queue
    Reorder {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        /// top, up, down, bottom, or a position from 1
        #[arg(value_parser = parse_queue_move, value_name = "top|up|down|bottom|POSITION")]
        to: QueueMove,
    },
}

#[derive(Subcommand, Debug)]
pub enum PeersCommand {
    /// Addresses the session refuses (corrupt data, hostile protocol), with expiry
    Bans {
        #[arg(long)]
        json: bool,
    },
    /// Lift the ban on an address (IP, with or without a port)
    Unban {
        #[arg(value_name = "ADDR")]
        addr: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum FilesCommand {
    /// A torrent's files with their index N, priority and progress
    List {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        #[arg(long)]
        json: bool,
    },
    /// Download these files (priority normal)
    Select {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        /// File indexes, as `btbt files list` shows them
        #[arg(required = true, value_name = "N")]
        files: Vec<usize>,
    },
    /// Do not download these files (priority skip)
    Deselect {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        /// File indexes, as `btbt files list` shows them
        #[arg(required = true, value_name = "N")]
        files: Vec<usize>,
    },
    /// Set a file's priority
    Priority {
        /// Id from `btbt list`, an info-hash, or a unique prefix of one
        #[arg(value_parser = parse_torrent_id)]
        id: TorrentId,
        /// File index, as `btbt files list` shows it
        #[arg(value_name = "N")]
        file: usize,
        /// skip, low, normal or high
        #[arg(value_parser = parse_priority, value_name = "skip|low|normal|high")]
        priority: FilePriorityName,
    },
}
