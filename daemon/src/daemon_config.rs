//! The daemon's config file (`btbt daemon start --config FILE`), TOML.
//!
//! Key names are those of the full config model to come (hot reload is a later
//! issue). Every key is optional; [`DaemonConfig::default()`] is what runs with no
//! file, and its values are chosen for a seedbox:
//!
//! ```toml
//! [network]
//! listen = "0.0.0.0:6881"          # peer port
//! [api]
//! listen = "127.0.0.1:64124"       # control API; another address needs a token
//! # token = "a-long-random-string"  # at least 16 characters
//! # extra_listen = ["127.0.0.1:9091"]  # the same APIs on more addresses (e.g.
//! #                                 # Transmission's port for tools that assume it)
//! # [api.transmission]             # HTTP Basic for /transmission/rpc; without it
//! # username = "admin"             # only loopback clients are served
//! # password = "secret"
//! # [api.qbittorrent]              # the qBittorrent Web API's login (both or neither);
//! # username = "admin"             # without them only loopback clients are served
//! # password = "a-password"
//! [storage]
//! # download_dir = "~/downloads"   # default: the directory the daemon starts in
//! # state_dir = "~/.local/share/ccbt"  # default: $XDG_DATA_HOME/ccbt
//! [limits]                         # bytes/s: 65536, 512K, 10M, 1.5G; 0 or "unlimited"
//! # download = "10M"               # default: unlimited
//! # upload = "10M"
//! # alt_download = "1M"            # alternative limits, by hand or on a schedule
//! # alt_upload = "1M"
//! # [limits.alt_schedule]
//! # begin = "22:00"                # local time; end before begin spans midnight
//! # end = "07:00"
//! # days = ["mon", "tue", "wed", "thu", "fri"]   # default: every day
//! [queue]                          # torrents active at once; "unlimited" allowed
//! max_active_downloads = 8
//! max_active_seeds = "unlimited"   # a seedbox seeds everything it holds
//! max_active_checks = 2            # hashing is disk-bound: few at once
//! [seeding]                        # defaults for torrents without their own
//! # ratio_limit = 2.0              # default: none (seed forever)
//! # seed_time_limit = "48h"        # default: none
//! # idle_limit = "30m"             # stop after uploading nothing this long; default: none
//! [watch]
//! # dir = "~/watch"                # *.torrent dropped here are added
//! [hooks]                          # run with `sh -c`, torrent in the environment
//! # on_added = "logger -t ccbt \"added $CCBT_NAME\""
//! # on_completed = "/usr/local/bin/torrent-done"
//! # on_error = "logger -t ccbt \"error $CCBT_NAME: $CCBT_ERROR\""
//! timeout = "60s"                  # a hook still running then is killed
//! max_concurrent = 4
//! [session]
//! # shards = 4                     # default: one per core
//! [lsd]                            # local service discovery (BEP 14) on the LAN
//! enabled = true                   # never on a loopback-only listen address
//! [pex]                            # peer exchange (BEP 11); private torrents never
//! enabled = true
//! [dht]                            # BEP 5; private torrents never use it
//! enabled = true
//! # port = 6881                    # UDP; default: the peer port's number
//! # bootstrap = ["router.bittorrent.com:6881"]   # default: the public routers
//! [security]                       # see docs/security.md
//! # ip_filter = ["~/lists/level1.gz"]   # blocklists (eMule, P2P, CIDR; plain or
//! #                                # gzip), reloaded when a file changes
//! ```

mod alerts;
mod api;
mod bans;
pub mod effective;
mod error;
mod hooks;
mod logging;
pub mod metrics;
mod peers;
mod redial;
pub mod security;
pub mod sources;
mod table_reader;
mod values;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeTable;

pub use self::alerts::{AlertRuleConfig, AlertsConfig};
pub use self::api::{ApiConfig, MAX_CORS_ORIGINS, MAX_EXTRA_LISTEN, MIN_TOKEN_LEN};
pub use self::error::ConfigError;
pub use self::hooks::{HooksConfig, MAX_HOOKS_CONCURRENT};
pub use self::logging::{check_log_filter, LogFormat, LoggingConfig};
pub use self::redial::RedialConfig;
pub use ccbt_engine::config_model::{parse_duration, parse_rate};

use self::api::read_api;
use self::hooks::read_hooks;
use self::table_reader::{Schema, Source, TableReader};
use self::values::{active_limit, bounded_integer, optional_duration, path_value, rate, ratio, socket_addr};
use crate::alt_speed::{AltSpeedWindow, TimeOfDay, Weekday};
use crate::queue_policy::{ActiveLimits, UNLIMITED};
use crate::seed_limits::SeedLimitDefaults;

/// The peer port when none is configured (the common BitTorrent default).
pub const DEFAULT_LISTEN_PORT: u16 = 6881;
/// Largest value of a `max_active_*` other than "unlimited".
pub const MAX_ACTIVE_LIMIT: u32 = 1_000_000;
/// Most shards a config may ask for.
pub const MAX_SHARDS: usize = 256;
/// Longest a config file may be; it is read whole.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

const SCHEMA: Schema = &[
    (
        "",
        &[
            "network", "api", "storage", "limits", "queue", "seeding", "watch", "hooks", "session", "lsd", "pex",
            "dht", "redial", "metrics", "security", "alerts", "logging", "peers", "bans",
        ],
    ),
    ("security", security::SECURITY_KEYS),
    ("dht", &["enabled", "port", "bootstrap"]),
    (
        "alerts",
        &[
            "stall_after",
            "tracker_fail_after",
            "disk_free_min",
            "hash_failures_per_min",
            "disk_errors",
            "webhook",
            "webhook_timeout",
            "webhook_retries",
            "command",
            "rules",
        ],
    ),
    ("alerts.rules", &["name", "condition", "for", "severity"]),
    ("logging", &["level", "format"]),
    ("network", &["listen"]),
    (
        "api",
        &[
            "listen",
            "token",
            "extra_listen",
            "transmission",
            "qbittorrent",
            "cors_origins",
        ],
    ),
    ("api.transmission", &["username", "password"]),
    ("api.qbittorrent", &["username", "password"]),
    ("storage", &["download_dir", "state_dir"]),
    (
        "limits",
        &["download", "upload", "alt_download", "alt_upload", "alt_schedule"],
    ),
    ("limits.alt_schedule", &["begin", "end", "days"]),
    (
        "queue",
        &["max_active_downloads", "max_active_seeds", "max_active_checks"],
    ),
    ("seeding", &["ratio_limit", "seed_time_limit", "idle_limit"]),
    ("watch", &["dir"]),
    (
        "hooks",
        &["on_added", "on_completed", "on_error", "timeout", "max_concurrent"],
    ),
    ("session", &["shards"]),
    ("lsd", &["enabled"]),
    ("pex", &["enabled"]),
    (
        "peers",
        &[
            "max_connections",
            "max_per_torrent",
            "max_half_open",
            "max_per_ip",
            "handshakes_per_sec",
        ],
    ),
    ("bans", &["duration", "max_bans"]),
    ("redial", &["base_ms", "max_ms"]),
    ("metrics", metrics::KEYS),
];

/// Everything the config file sets; see the module docs for keys and defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DaemonConfig {
    pub network: NetworkConfig,
    pub api: ApiConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub queue: QueueConfig,
    pub seeding: SeedingConfig,
    pub watch: WatchConfig,
    pub hooks: HooksConfig,
    pub session: SessionConfig,
    pub dht: DhtConfig,
    /// Local service discovery (BEP 14).
    pub lsd: DiscoveryToggle,
    /// Peer exchange (BEP 11).
    pub pex: DiscoveryToggle,
    /// `[peers]`: connection limits (see `daemon_config/peers.rs`).
    pub peers: ccbt_engine::connection_policy::ConnectionLimits,
    /// `[bans]`: ban duration and list size (see `daemon_config/bans.rs`).
    pub bans: crate::ban_list::BanPolicy,
    pub redial: RedialConfig,
    pub metrics: metrics::MetricsConfig,
    pub security: security::SecurityConfig,
    pub alerts: AlertsConfig,
    pub logging: LoggingConfig,
}

/// A peer discovery service that can be turned off (on by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscoveryToggle {
    pub enabled: bool,
}

impl Default for DiscoveryToggle {
    fn default() -> Self {
        DiscoveryToggle { enabled: true }
    }
}

/// Most bootstrap routers a config may name.
pub const MAX_DHT_BOOTSTRAP: usize = 32;

/// The `[dht]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct DhtConfig {
    pub enabled: bool,
    /// UDP port; None = the peer port's number.
    pub port: Option<u16>,
    /// `host:port` routers to bootstrap from.
    pub bootstrap: Vec<String>,
}

impl Default for DhtConfig {
    fn default() -> DhtConfig {
        DhtConfig {
            enabled: true,
            port: None,
            bootstrap: ccbt_shards::DEFAULT_BOOTSTRAP.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    /// Where peers connect.
    pub listen: SocketAddr,
}

impl Default for NetworkConfig {
    fn default() -> NetworkConfig {
        NetworkConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_LISTEN_PORT),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageConfig {
    /// None: the directory the daemon was started in.
    pub download_dir: Option<PathBuf>,
    /// None: `$XDG_DATA_HOME/ccbt` (`~/.local/share/ccbt`).
    pub state_dir: Option<PathBuf>,
}

/// A download and an upload limit in bytes/s; none = unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub download: Option<u64>,
    pub upload: Option<u64>,
}

/// Global payload limits in bytes/s; none = unlimited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LimitsConfig {
    pub download: Option<u64>,
    pub upload: Option<u64>,
    pub alt_download: Option<u64>,
    pub alt_upload: Option<u64>,
    /// When the alternative limits apply by themselves.
    pub alt_schedule: Option<AltSpeedWindow>,
}

impl LimitsConfig {
    /// The global limits in force: the alternative ones while they are active.
    pub fn in_force(&self, alt_active: bool) -> RateLimits {
        if alt_active {
            RateLimits {
                download: self.alt_download,
                upload: self.alt_upload,
            }
        } else {
            RateLimits {
                download: self.download,
                upload: self.upload,
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    pub max_active_downloads: u32,
    /// [`UNLIMITED`] by default: a seedbox seeds everything it holds.
    pub max_active_seeds: u32,
    pub max_active_checks: u32,
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            max_active_downloads: 8,
            max_active_seeds: UNLIMITED,
            max_active_checks: 2,
        }
    }
}

impl QueueConfig {
    pub fn active_limits(&self) -> ActiveLimits {
        ActiveLimits {
            downloads: self.max_active_downloads,
            seeds: self.max_active_seeds,
            checks: self.max_active_checks,
        }
    }
}

/// Defaults for torrents without their own limits; none = seed forever.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SeedingConfig {
    pub ratio_limit: Option<f64>,
    pub seed_time_limit: Option<Duration>,
    pub idle_limit: Option<Duration>,
}

impl SeedingConfig {
    pub fn defaults(&self) -> SeedLimitDefaults {
        SeedLimitDefaults {
            ratio_limit: self.ratio_limit,
            seed_time_limit: self.seed_time_limit,
            idle_limit: self.idle_limit,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchConfig {
    pub dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionConfig {
    /// None: one shard per core.
    pub shards: Option<usize>,
}

impl DaemonConfig {
    /// Reads and checks a config file.
    pub fn from_file(path: &Path) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::from_toml(&sources::read_config_text(path)?, path)
    }

    /// Checks a config's text over the defaults; `path` names it in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<DaemonConfig, ConfigError> {
        let mut config = DaemonConfig::default();
        config.apply_toml(text, path)?;
        Ok(config)
    }

    /// Reads a config's text over this one: the keys it sets replace theirs, the
    /// rest stay. Returns each key it set with its line. On an error `self` is
    /// unchanged.
    pub fn apply_toml(&mut self, text: &str, path: &Path) -> Result<Vec<(String, usize)>, ConfigError> {
        let source = Source::new(path, text);
        let document = DeTable::parse(text).map_err(|e| source.syntax_error(&e))?;
        let root = TableReader::root(&source, SCHEMA, &document)?;
        let mut config = self.clone();
        read_tables(&root, &mut config)?;
        *self = config;
        Ok(source.keys_read())
    }
}

fn read_tables(root: &TableReader<'_, '_>, config: &mut DaemonConfig) -> Result<(), ConfigError> {
    {
        if let Some(t) = root.table("network", "network")? {
            if let Some(f) = t.field("listen") {
                config.network.listen = socket_addr(&f)?;
            }
        }
        if let Some(t) = root.table("api", "api")? {
            read_api(&t, &mut config.api)?;
        }
        if let Some(t) = root.table("storage", "storage")? {
            for (key, slot) in [
                ("download_dir", &mut config.storage.download_dir),
                ("state_dir", &mut config.storage.state_dir),
            ] {
                if let Some(f) = t.field(key) {
                    *slot = Some(path_value(&f)?);
                }
            }
        }
        if let Some(t) = root.table("limits", "limits")? {
            read_limits(&t, &mut config.limits)?;
        }
        if let Some(t) = root.table("queue", "queue")? {
            let q = &mut config.queue;
            for (key, slot) in [
                ("max_active_downloads", &mut q.max_active_downloads),
                ("max_active_seeds", &mut q.max_active_seeds),
                ("max_active_checks", &mut q.max_active_checks),
            ] {
                if let Some(f) = t.field(key) {
                    *slot = active_limit(&f)?;
                }
            }
        }
        if let Some(t) = root.table("seeding", "seeding")? {
            if let Some(f) = t.field("ratio_limit") {
                config.seeding.ratio_limit = ratio(&f)?;
            }
            for (key, slot) in [
                ("seed_time_limit", &mut config.seeding.seed_time_limit),
                ("idle_limit", &mut config.seeding.idle_limit),
            ] {
                if let Some(f) = t.field(key) {
                    *slot = optional_duration(&f)?;
                }
            }
        }
        if let Some(t) = root.table("watch", "watch")? {
            if let Some(f) = t.field("dir") {
                config.watch.dir = Some(path_value(&f)?);
            }
        }
        if let Some(t) = root.table("hooks", "hooks")? {
            read_hooks(&t, &mut config.hooks)?;
        }
        if let Some(t) = root.table("session", "session")? {
            if let Some(f) = t.field("shards") {
                config.session.shards = Some(bounded_integer(&f, 1, MAX_SHARDS as i128)? as usize);
            }
        }
        for (key, toggle) in [("lsd", &mut config.lsd), ("pex", &mut config.pex)] {
            if let Some(t) = root.table(key, key)? {
                if let Some(f) = t.field("enabled") {
                    toggle.enabled = f.boolean()?;
                }
            }
        }
        if let Some(t) = root.table("dht", "dht")? {
            read_dht(&t, &mut config.dht)?;
        }
        if let Some(t) = root.table("peers", "peers")? {
            peers::read_peers(&t, &mut config.peers)?;
        }
        if let Some(t) = root.table("bans", "bans")? {
            bans::read_bans(&t, &mut config.bans)?;
        }
        if let Some(t) = root.table("redial", "redial")? {
            redial::read_redial(&t, &mut config.redial)?;
        }
        if let Some(t) = root.table("metrics", "metrics")? {
            metrics::read_metrics(&t, &mut config.metrics)?;
        }
        if let Some(t) = root.table("security", "security")? {
            security::read_security(&t, &mut config.security)?;
        }
        if let Some(t) = root.table("alerts", "alerts")? {
            alerts::read_alerts(&t, &mut config.alerts)?;
        }
        if let Some(t) = root.table("logging", "logging")? {
            logging::read_logging(&t, &mut config.logging)?;
        }
        Ok(())
    }
}

fn read_limits(t: &TableReader<'_, '_>, limits: &mut LimitsConfig) -> Result<(), ConfigError> {
    for (key, slot) in [
        ("download", &mut limits.download),
        ("upload", &mut limits.upload),
        ("alt_download", &mut limits.alt_download),
        ("alt_upload", &mut limits.alt_upload),
    ] {
        if let Some(f) = t.field(key) {
            *slot = rate(&f)?;
        }
    }
    if let Some(s) = t.table("alt_schedule", "limits.alt_schedule")? {
        let time = |key: &str| {
            let f = s.required(key)?;
            TimeOfDay::parse(f.string()?).map_err(|e| f.bad_value(e.to_string()))
        };
        let (begin, end) = (time("begin")?, time("end")?);
        let days = match s.field("days") {
            None => Vec::new(),
            Some(f) => f
                .strings()?
                .into_iter()
                .map(|d| Weekday::parse(d).map_err(|e| f.bad_value(e.to_string())))
                .collect::<Result<_, _>>()?,
        };
        limits.alt_schedule = Some(AltSpeedWindow { begin, end, days });
    }
    Ok(())
}

fn read_dht(t: &TableReader<'_, '_>, dht: &mut DhtConfig) -> Result<(), ConfigError> {
    if let Some(f) = t.field("enabled") {
        dht.enabled = f.value().as_bool().ok_or_else(|| f.wrong_type("true or false"))?;
    }
    if let Some(f) = t.field("port") {
        dht.port = Some(bounded_integer(&f, 1, i128::from(u16::MAX))? as u16);
    }
    if let Some(f) = t.field("bootstrap") {
        let routers = f.strings()?;
        if routers.len() > MAX_DHT_BOOTSTRAP {
            return Err(f.out_of_range(format!("at most {MAX_DHT_BOOTSTRAP} routers")));
        }
        for r in &routers {
            let port = r.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>()));
            if !matches!(port, Some((h, Ok(p))) if !h.is_empty() && p != 0) {
                return Err(f.bad_value(format!("{r:?} is not HOST:PORT")));
            }
        }
        dht.bootstrap = routers.into_iter().map(str::to_string).collect();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
