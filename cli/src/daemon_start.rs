//! `btbt daemon start`: in the foreground (what systemd runs), or detached: the
//! same command re-run with `--foreground` in its own process group, its output
//! in the state dir's log, and this process returning once the API answers.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ccbt_daemon::daemon_config::sources::{find_config_file, load, ConfigInputs, FlagValue};
use ccbt_daemon::run::{run_foreground, ConfigOrigin, DaemonOptions};
use ccbt_daemon::state_dir::read_endpoint;
use ccbt_engine::config_model::RawValue;

use crate::error::CliError;

/// The daemon logs its own life at `info` (start, stop, errors, limits reached,
/// alerts) and everything else from `warn`.
const DAEMON_LOG_FILTER: &str = "warn,ccbt_daemon=info";
/// Longest wait for a detached daemon's API to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(100);
/// Log lines shown when a detached daemon did not come up.
const LOG_TAIL_LINES: usize = 5;

/// Runs the daemon here until it stops.
pub fn start_foreground(opts: DaemonOptions) -> Result<i32, CliError> {
    run_foreground(opts).map_err(|e| CliError::Daemon(e.to_string()))?;
    Ok(0)
}

/// The arguments of this process with `--foreground` added after `start`.
fn foreground_args() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let at = args
        .iter()
        .position(|a| a == "start")
        .map(|i| i + 1)
        .unwrap_or(args.len());
    args.insert(at, OsString::from("--foreground"));
    args
}

fn log_tail(log: &Path, since: u64) -> String {
    let Ok(mut file) = std::fs::File::open(log) else {
        return String::new();
    };
    use std::io::{Seek, SeekFrom};
    let _ = file.seek(SeekFrom::Start(since));
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[start..].join("\n")
}

/// Starts the daemon detached and waits until its API answers.
pub fn start_detached(state_dir: &Path, api_url: &str, json: bool) -> Result<i32, CliError> {
    std::fs::create_dir_all(state_dir).map_err(|source| CliError::ReadFile {
        path: state_dir.to_path_buf(),
        source,
    })?;
    let log: PathBuf = state_dir.join("daemon.log");
    let open_log = || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|source| CliError::ReadFile {
                path: log.clone(),
                source,
            })
    };
    let out = open_log()?;
    let log_start = out.metadata().map(|m| m.len()).unwrap_or(0);
    let err = open_log()?;
    let exe = std::env::current_exe().map_err(|e| CliError::Daemon(format!("cannot find this program: {e}")))?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(exe)
            .args(foreground_args())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group: the terminal's Ctrl-C does not reach it.
            .process_group(0)
            .spawn()
            .map_err(|e| CliError::Daemon(format!("cannot start the daemon: {e}")))?
    };
    let health = format!("{}/api/v1/health", api_url.trim_end_matches('/'));
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let tail = log_tail(&log, log_start);
            return Err(CliError::Daemon(format!(
                "the daemon exited at start ({status}); {}:\n{tail}",
                log.display()
            )));
        }
        // Ours, not another daemon that happens to answer on that address.
        let ours = read_endpoint(state_dir)
            .ok()
            .flatten()
            .is_some_and(|e| e.pid == child.id());
        let answered = ours
            && minreq::get(&health)
                .with_timeout(2)
                .send()
                .is_ok_and(|r| r.status_code == 200);
        if answered {
            break;
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(CliError::Daemon(format!(
                "the daemon (pid {}) did not answer on {api_url} within {}s; see {}",
                child.id(),
                READY_TIMEOUT.as_secs(),
                log.display()
            )));
        }
        std::thread::sleep(READY_POLL);
    }
    let endpoint = read_endpoint(state_dir).ok().flatten();
    let listen = endpoint.as_ref().map(|e| e.listen.clone()).unwrap_or_default();
    if json {
        let line = serde_json::json!({
            "event": "daemon_started",
            "pid": child.id(),
            "api": api_url,
            "listen": listen,
            "state_dir": state_dir.display().to_string(),
            "log": log.display().to_string(),
        });
        println!("{line}");
    } else {
        println!(
            "ccbt daemon running: API {api_url}, peers on {listen} (pid {}, log {})",
            child.id(),
            log.display()
        );
    }
    Ok(0)
}

/// Where the config is read from for `btbt daemon start` (and `btbt config`
/// without a daemon): `--config FILE` or the usual places, the environment, and
/// the flags given, each a key of the config model.
pub fn config_inputs(config_file: Option<&Path>, flags: Vec<FlagValue>) -> Result<ConfigInputs, CliError> {
    let file = match config_file {
        Some(path) => Some(absolute(path.to_path_buf())?),
        None => {
            let cwd = std::env::current_dir().map_err(|e| CliError::Daemon(format!("no current directory: {e}")))?;
            let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
            let home = std::env::var_os("HOME").map(PathBuf::from);
            find_config_file(&cwd, xdg.as_deref(), home.as_deref())
        }
    };
    Ok(ConfigInputs {
        file,
        env: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with(ccbt_engine::config_model::ENV_PREFIX))
            .collect(),
        flags,
        default_state_dir: ccbt_daemon::state_dir::default_state_dir(),
    })
}

/// The flags of `daemon start` that set config keys, as the keys they set.
fn start_flags(
    args: &crate::daemon_cmd::StartArgs,
    api: &crate::client::args::ApiOptions,
) -> Result<Vec<FlagValue>, CliError> {
    let text = |s: String| RawValue::String(s);
    let mut flags = Vec::new();
    let mut flag = |flag: &'static str, key: &'static str, value: RawValue| flags.push(FlagValue { flag, key, value });
    if let Some(dir) = &api.state_dir {
        flag(
            "--state-dir",
            "storage.state_dir",
            text(absolute(dir.clone())?.display().to_string()),
        );
    }
    if let Some(url) = api.api.clone().or_else(|| std::env::var("CCBT_API").ok()) {
        let name = if api.api.is_some() { "--api" } else { "CCBT_API" };
        flag(name, "api.listen", text(api_socket_addr(&url)?.to_string()));
    }
    if let Some(dir) = &args.download_dir {
        flag(
            "--download-dir",
            "storage.download_dir",
            text(absolute(dir.clone())?.display().to_string()),
        );
    }
    if let Some(listen) = args.listen {
        flag("--listen", "network.listen", text(listen.to_string()));
    }
    if let Some(shards) = args.shards {
        let cores = crate::default_shards();
        let shards = crate::flags::check_shards("--shards", shards, cores)?;
        flag("--shards", "session.shards", RawValue::Integer(shards as i64));
    }
    for (on, name, key) in [
        (args.no_lsd, "--no-lsd", "lsd.enabled"),
        (args.no_pex, "--no-pex", "pex.enabled"),
        (args.no_dht, "--no-dht", "dht.enabled"),
    ] {
        if on {
            flag(name, key, RawValue::Bool(false));
        }
    }
    if let Some(port) = args.dht_port {
        flag("--dht-port", "dht.port", RawValue::Integer(i64::from(port)));
    }
    if !args.dht_bootstrap.is_empty() {
        let nodes = args
            .dht_bootstrap
            .iter()
            .map(|b| crate::flags::check_host_port("--dht-bootstrap", b))
            .collect::<Result<_, _>>()?;
        flag("--dht-bootstrap", "dht.bootstrap", RawValue::List(nodes));
    }
    Ok(flags)
}

/// `btbt daemon start`: defaults, the config file, `CCBT_*` variables, the flags
/// (with the global `--api` and `--state-dir`) and the state dir's runtime
/// overrides, later wins, merged into what the daemon runs with.
pub fn start(args: &crate::daemon_cmd::StartArgs, api: &crate::client::args::ApiOptions) -> Result<i32, CliError> {
    use ccbt_daemon::api_types::SessionSettings;
    use ccbt_daemon::daemon_config::LogFormat;

    let inputs = config_inputs(args.config.as_deref(), start_flags(args, api)?)?;
    let loaded = load(&inputs).map_err(|e| CliError::Config(e.to_string()))?;
    // Logged once the subscriber is installed (below), or they would be lost.
    let log_warnings = || {
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
    };
    let config = &loaded.config;
    let state_dir = absolute(loaded.state_dir.clone())?;
    let api_addr = config.api.listen;
    let download_dir = match config.storage.download_dir.clone() {
        Some(d) => absolute(d)?,
        None => std::env::current_dir().map_err(|e| CliError::Daemon(format!("no current directory: {e}")))?,
    };
    let cores = crate::default_shards();
    let shards = crate::flags::check_shards("session.shards", config.session.shards.unwrap_or(cores), cores)?;
    let queue = &config.queue;
    let settings = SessionSettings {
        download_limit: config.limits.download,
        upload_limit: config.limits.upload,
        alt_download_limit: config.limits.alt_download,
        alt_upload_limit: config.limits.alt_upload,
        alt_speed_enabled: false,
        alt_speed_schedule: config.limits.alt_schedule.as_ref().map(|w| w.to_schedule()),
        alt_speed_active: false,
        max_active_downloads: queue.max_active_downloads,
        max_active_seeds: queue.max_active_seeds,
        max_active_checks: queue.max_active_checks,
        ratio_limit: config.seeding.ratio_limit,
        seed_time_limit_secs: config.seeding.seed_time_limit.map(|d| d.as_secs()),
        idle_limit_secs: config.seeding.idle_limit.map(|d| d.as_secs()),
        watch_dir: config.watch.dir.as_ref().map(|d| d.display().to_string()),
    };
    let dht = config.dht.enabled.then(|| ccbt_shards::DhtSettings {
        port: config.dht.port,
        bootstrap: config.dht.bootstrap.clone(),
        ..Default::default()
    });
    if !args.foreground {
        crate::init_logging_with_default(DAEMON_LOG_FILTER);
        log_warnings();
        let api_url = format!("http://{api_addr}");
        return start_detached(&state_dir, &api_url, args.json);
    }
    let format = match args.log_format.as_deref() {
        Some(f) => LogFormat::parse(f).unwrap_or_default(),
        None => config.logging.format,
    };
    // Kept to the end: dropping it closes the trace file.
    let _logging = crate::log_setup::init(&crate::log_setup::LogOptions {
        default_filter: DAEMON_LOG_FILTER.to_string(),
        level: config.logging.level.clone(),
        format,
        trace: args.trace.clone(),
        trace_max_bytes: args.trace_max_size,
    })?;
    log_warnings();
    let opts = DaemonOptions {
        state_dir,
        download_dir,
        listen: config.network.listen,
        api: api_addr,
        shards,
        configured_token: config.api.token.clone(),
        extra_api: config.api.extra_listen.clone(),
        transmission: config.api.transmission.clone(),
        settings,
        hooks: config.hooks.clone(),
        watch_dir: config.watch.dir.clone(),
        redial: config.redial.policy(),
        our_id: crate::download::new_peer_id(),
        json: args.json,
        lsd: config.lsd.enabled,
        pex: config.pex.enabled,
        dht,
        qbittorrent: config.api.qbittorrent.clone(),
        ip_filter: config
            .security
            .ip_filter
            .iter()
            .cloned()
            .map(absolute)
            .collect::<Result<_, _>>()?,
        connection_limits: config.peers,
        bans: config.bans,
        cors_origins: config.api.cors_origins.clone(),
        config: Some(ConfigOrigin {
            inputs: inputs.clone(),
            loaded: loaded.clone(),
        }),
        metrics: config.metrics,
        alerts: config.alerts.clone(),
    };
    start_foreground(opts)
}

fn absolute(path: PathBuf) -> Result<PathBuf, CliError> {
    if path.is_absolute() {
        return Ok(path);
    }
    let cwd = std::env::current_dir().map_err(|e| CliError::Daemon(format!("no current directory: {e}")))?;
    Ok(cwd.join(path))
}

/// `--api` for the daemon itself: where to listen, from `http://HOST:PORT` or `HOST:PORT`.
pub fn api_socket_addr(url: &str) -> Result<std::net::SocketAddr, CliError> {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    hostport.parse().map_err(|_| CliError::BadApiUrl {
        url: url.to_string(),
        reason: "the daemon listens on an IP ADDRESS:PORT (e.g. 127.0.0.1:64124)".into(),
    })
}
