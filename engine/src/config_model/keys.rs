//! The registry: every key a user may set, once.
//!
//! **Adding a section** (`[metrics]`, `[security]`, …): a `const` slice of
//! [`KeySpec`] below and one line in [`SECTIONS`]; the daemon reads it in
//! `daemon/src/daemon_config/<section>.rs`. A test in the daemon fails until its
//! `SCHEMA` and this registry list the same keys, and another until
//! `docs/config.md` is regenerated (`cargo run -p ccbt-cli --bin btbt -- config
//! describe --format markdown > docs/config.md`).

use super::registry::{KeySpec, Reload};
use super::value_kind::ValueKind;

use Reload::{Live, Restart};

/// Every section, in the order the reference documents them.
pub const SECTIONS: &[&[KeySpec]] = &[
    NETWORK,
    API,
    STORAGE,
    LIMITS,
    QUEUE,
    SEEDING,
    WATCH,
    HOOKS,
    SESSION,
    DHT,
    LSD,
    PEX,
    REDIAL,
    METRICS,
    SECURITY,
    ALERTS,
    ALERT_RULES,
    LOGGING,
    PEERS,
    BANS,
];

const fn key(path: &'static str, kind: ValueKind, default: &'static str, reload: Reload, doc: &'static str) -> KeySpec {
    KeySpec {
        path,
        kind,
        default,
        reload,
        doc,
    }
}

const NETWORK: &[KeySpec] = &[key(
    "network.listen",
    ValueKind::SocketAddr,
    "0.0.0.0:6881",
    Restart,
    "Address peers connect to (TCP).",
)];

const API: &[KeySpec] = &[
    key(
        "api.listen",
        ValueKind::SocketAddr,
        "127.0.0.1:64124",
        Restart,
        "The control API's address; one that is not loopback needs `api.token`.",
    ),
    key(
        "api.token",
        ValueKind::Secret,
        "(made once, kept in the state dir)",
        Restart,
        "The API's bearer token, at least 16 characters, no spaces.",
    ),
    key(
        "api.extra_listen",
        ValueKind::SocketAddrList,
        "[]",
        Restart,
        "More addresses serving the same APIs (e.g. 127.0.0.1:9091 for Transmission tools), at most 8.",
    ),
    key(
        "api.cors_origins",
        ValueKind::HostPortList,
        "[]",
        Restart,
        "Browser origins sent CORS headers (e.g. http://localhost:3000); none = no CORS.",
    ),
    key(
        "api.transmission.username",
        ValueKind::Text,
        "(none: loopback clients only)",
        Restart,
        "HTTP Basic user of /transmission/rpc; set with the password or neither.",
    ),
    key(
        "api.transmission.password",
        ValueKind::Secret,
        "(none: loopback clients only)",
        Restart,
        "HTTP Basic password of /transmission/rpc.",
    ),
    key(
        "api.qbittorrent.username",
        ValueKind::Text,
        "(none: loopback clients only)",
        Restart,
        "Login of the qBittorrent Web API; set with the password or neither.",
    ),
    key(
        "api.qbittorrent.password",
        ValueKind::Secret,
        "(none: loopback clients only)",
        Restart,
        "Password of the qBittorrent Web API.",
    ),
];

const STORAGE: &[KeySpec] = &[
    key(
        "storage.download_dir",
        ValueKind::Path,
        "(the directory the daemon starts in)",
        Live,
        "Where new torrents' data goes unless they name their own.",
    ),
    key(
        "storage.state_dir",
        ValueKind::Path,
        "($XDG_DATA_HOME/ccbt, else ~/.local/share/ccbt)",
        Restart,
        "Resume records, the API token, runtime overrides and the daemon's log.",
    ),
];

const LIMITS: &[KeySpec] = &[
    key(
        "limits.download",
        ValueKind::Rate,
        "unlimited",
        Live,
        "Global download limit (payload bytes/s).",
    ),
    key(
        "limits.upload",
        ValueKind::Rate,
        "unlimited",
        Live,
        "Global upload limit (payload bytes/s).",
    ),
    key(
        "limits.alt_download",
        ValueKind::Rate,
        "unlimited",
        Live,
        "Download limit while the alternative limits are on.",
    ),
    key(
        "limits.alt_upload",
        ValueKind::Rate,
        "unlimited",
        Live,
        "Upload limit while the alternative limits are on.",
    ),
    key(
        "limits.alt_schedule.begin",
        ValueKind::TimeOfDay,
        "(no schedule)",
        Live,
        "Local time the alternative limits turn on; set with `end`.",
    ),
    key(
        "limits.alt_schedule.end",
        ValueKind::TimeOfDay,
        "(no schedule)",
        Live,
        "Local time they turn off; before `begin` spans midnight.",
    ),
    key(
        "limits.alt_schedule.days",
        ValueKind::Weekdays,
        "(every day)",
        Live,
        "Days the schedule applies on.",
    ),
];

const QUEUE: &[KeySpec] = &[
    key(
        "queue.max_active_downloads",
        ValueKind::IntegerOrUnlimited { max: 1_000_000 },
        "8",
        Live,
        "Torrents downloading at once; the rest wait in the queue.",
    ),
    key(
        "queue.max_active_seeds",
        ValueKind::IntegerOrUnlimited { max: 1_000_000 },
        "unlimited",
        Live,
        "Torrents seeding at once (a seedbox seeds everything it holds).",
    ),
    key(
        "queue.max_active_checks",
        ValueKind::IntegerOrUnlimited { max: 1_000_000 },
        "2",
        Live,
        "Torrents hashing their data at once (disk-bound: few).",
    ),
];

const SEEDING: &[KeySpec] = &[
    key(
        "seeding.ratio_limit",
        ValueKind::Ratio,
        "unlimited",
        Live,
        "Stop seeding at this upload/download ratio, for torrents without their own.",
    ),
    key(
        "seeding.seed_time_limit",
        ValueKind::DurationOrUnlimited,
        "unlimited",
        Live,
        "Stop seeding after this long, for torrents without their own.",
    ),
    key(
        "seeding.idle_limit",
        ValueKind::DurationOrUnlimited,
        "unlimited",
        Live,
        "Stop seeding after uploading nothing this long.",
    ),
];

const WATCH: &[KeySpec] = &[key(
    "watch.dir",
    ValueKind::Path,
    "(none)",
    Live,
    "*.torrent files dropped here are added.",
)];

const HOOKS: &[KeySpec] = &[
    key(
        "hooks.on_added",
        ValueKind::Text,
        "(none)",
        Live,
        "Command (sh -c) run when a torrent is added; the torrent is in CCBT_* variables.",
    ),
    key(
        "hooks.on_completed",
        ValueKind::Text,
        "(none)",
        Live,
        "Command run when a torrent completes.",
    ),
    key(
        "hooks.on_error",
        ValueKind::Text,
        "(none)",
        Live,
        "Command run when a torrent stops on an error.",
    ),
    key(
        "hooks.timeout",
        ValueKind::Duration,
        "1m",
        Live,
        "A hook still running after this is killed (1s to 24h).",
    ),
    key(
        "hooks.max_concurrent",
        ValueKind::Integer { min: 1, max: 64 },
        "4",
        Live,
        "Hooks running at once; more wait their turn.",
    ),
];

const SESSION: &[KeySpec] = &[key(
    "session.shards",
    ValueKind::Integer { min: 1, max: 256 },
    "(one per core)",
    Restart,
    "Executors, each pinned to a core, that the torrents are spread over.",
)];

const DHT: &[KeySpec] = &[
    key(
        "dht.enabled",
        ValueKind::Bool,
        "true",
        Restart,
        "The DHT (BEP 5); private torrents never use it.",
    ),
    key(
        "dht.port",
        ValueKind::Integer { min: 1, max: 65535 },
        "(the peer port's number)",
        Restart,
        "UDP port of the DHT node.",
    ),
    key(
        "dht.bootstrap",
        ValueKind::HostPortList,
        "(the public routers)",
        Restart,
        "Nodes to join the DHT through, at most 32.",
    ),
];

const LSD: &[KeySpec] = &[key(
    "lsd.enabled",
    ValueKind::Bool,
    "true",
    Restart,
    "Local service discovery (BEP 14) on the LAN; never on a loopback-only peer address.",
)];

const PEX: &[KeySpec] = &[key(
    "pex.enabled",
    ValueKind::Bool,
    "true",
    Restart,
    "Peer exchange (BEP 11); private torrents never use it.",
)];

const REDIAL: &[KeySpec] = &[
    key(
        "redial.base_ms",
        ValueKind::Integer { min: 1, max: 3_600_000 },
        "3000",
        Restart,
        "First wait (ms) before a peer that failed is dialled again; it doubles per failure.",
    ),
    key(
        "redial.max_ms",
        ValueKind::Integer {
            min: 1,
            max: 86_400_000,
        },
        "(300000; 60000 for peers named by hand)",
        Restart,
        "Longest wait (ms) between dials of a failing peer, named or learned.",
    ),
];

const METRICS: &[KeySpec] = &[
    key(
        "metrics.enabled",
        ValueKind::Bool,
        "true",
        Restart,
        "Serve `GET /metrics` (Prometheus text) and `GET /api/v1/metrics` (JSON); false answers 404.",
    ),
    key(
        "metrics.per_torrent",
        ValueKind::Bool,
        "false",
        Restart,
        "Add series per torrent (labels info_hash and name).",
    ),
    key(
        "metrics.per_torrent_max",
        ValueKind::Integer { min: 0, max: 100_000 },
        "1000",
        Restart,
        "With more torrents than this, the per-torrent series are left out (ccbt_torrent_series_omitted says how many).",
    ),
];
const SECURITY: &[KeySpec] = &[key(
    "security.ip_filter",
    ValueKind::PathList,
    "[]",
    Live,
    "Blocklists (eMule ipfilter.dat, PeerGuardian P2P, CIDR; plain or gzip), at most 32, none by default; reloaded when a file changes.",
)];

const ALERTS: &[KeySpec] = &[
    key(
        "alerts.stall_after",
        ValueKind::DurationOrOff,
        "10m",
        Live,
        "`torrent_stalled` after a download gets no data this long; \"off\" turns it off.",
    ),
    key(
        "alerts.tracker_fail_after",
        ValueKind::DurationOrOff,
        "30m",
        Live,
        "`tracker_failing` after every tracker of a torrent failed this long; \"off\" turns it off.",
    ),
    key(
        "alerts.disk_free_min",
        ValueKind::SizeOrOff,
        "1G",
        Live,
        "`disk_free_low` when the download dir's filesystem has less free space; \"off\" turns it off.",
    ),
    key(
        "alerts.hash_failures_per_min",
        ValueKind::IntegerOrOff { max: 1_000_000 },
        "20",
        Live,
        "`hash_failures` above this many failed pieces in a minute; \"off\" turns it off.",
    ),
    key(
        "alerts.disk_errors",
        ValueKind::Bool,
        "true",
        Live,
        "`disk_error` when a torrent stops on a disk or file error.",
    ),
    key(
        "alerts.webhook",
        ValueKind::Text,
        "(none)",
        Live,
        "An http:// URL each alert is POSTed to as JSON.",
    ),
    key(
        "alerts.webhook_timeout",
        ValueKind::Duration,
        "5s",
        Live,
        "Longest wait for the webhook's answer (1s to 60s).",
    ),
    key(
        "alerts.webhook_retries",
        ValueKind::Integer { min: 0, max: 10 },
        "3",
        Live,
        "Retries of a failed webhook POST, with backoff.",
    ),
    key(
        "alerts.command",
        ValueKind::Text,
        "(none)",
        Live,
        "A command run with `sh -c` for each alert, as the hooks are.",
    ),
];

/// `[[alerts.rules]]`: one table per rule (see docs/alerts.md).
const ALERT_RULES: &[KeySpec] = &[
    key(
        "alerts.rules.name",
        ValueKind::Text,
        "(none)",
        Live,
        "A rule's name, unique.",
    ),
    key(
        "alerts.rules.condition",
        ValueKind::Text,
        "(none)",
        Live,
        "A rule's condition, such as `torrent.download_rate < 10K`.",
    ),
    key(
        "alerts.rules.for",
        ValueKind::Duration,
        "(0s)",
        Live,
        "How long the condition must hold before the alert fires.",
    ),
    key(
        "alerts.rules.severity",
        ValueKind::Text,
        "(warning)",
        Live,
        "info, warning or critical.",
    ),
];

const LOGGING: &[KeySpec] = &[
    key(
        "logging.level",
        ValueKind::Text,
        "(warn,ccbt_daemon=info)",
        Live,
        "A RUST_LOG-style filter; RUST_LOG itself wins over it.",
    ),
    key(
        "logging.format",
        ValueKind::Text,
        "text",
        Restart,
        "text or json (one JSON object per line); --log-format wins over it.",
    ),
];

const PEERS: &[KeySpec] = &[
    key(
        "peers.max_connections",
        ValueKind::Integer { min: 1, max: 1_000_000 },
        "4000",
        Restart,
        "Peer connections per shard, over all its torrents.",
    ),
    key(
        "peers.max_per_torrent",
        ValueKind::Integer { min: 1, max: 1_000_000 },
        "100",
        Restart,
        "Peer connections per torrent.",
    ),
    key(
        "peers.max_half_open",
        ValueKind::Integer { min: 1, max: 1_000_000 },
        "64",
        Restart,
        "Dials still connecting, per shard.",
    ),
    key(
        "peers.max_per_ip",
        ValueKind::Integer { min: 1, max: 1_000_000 },
        "8",
        Restart,
        "Incoming connections from one address to one torrent.",
    ),
    key(
        "peers.handshakes_per_sec",
        ValueKind::Integer { min: 0, max: 1_000_000 },
        "200",
        Restart,
        "Incoming connections accepted per second, per shard; 0 = no limit.",
    ),
];

const BANS: &[KeySpec] = &[
    key(
        "bans.duration",
        ValueKind::Duration,
        "1h",
        Restart,
        "How long a banned address is refused (1m to 365d).",
    ),
    key(
        "bans.max_bans",
        ValueKind::Integer { min: 0, max: 1_000_000 },
        "4096",
        Restart,
        "Entries the session's ban list keeps; 0 keeps none (torrents still ban for themselves).",
    ),
];
