//! `btbt daemon start --foreground`: take the state dir, start the shards, serve
//! the API on the control thread, and stop cleanly on SIGINT/SIGTERM or a request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ccbt_engine::connection_policy::ConnectionLimits;
use ccbt_shards::{Session, SessionConfig, SessionError, DEFAULT_READ_CACHE_BYTES};

use crate::api_server::{self, ApiAuth};
use crate::api_types::SessionSettings;
use crate::control::control_channel;
use crate::core::{CoreSetup, DaemonCore};
use crate::hooks::HookRunner;
use crate::state_dir::{Endpoint, StateDir};
use crate::state_store::StateStore;

/// Longest wait for in-flight API requests once the core has stopped.
const API_DRAIN: Duration = Duration::from_secs(2);
/// How long a peer port in use is tried again at start.
const PORT_RETRY: Duration = Duration::from_secs(3);

/// Everything `daemon start` was told, after the config file and flags are merged.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub state_dir: PathBuf,
    pub download_dir: PathBuf,
    pub listen: SocketAddr,
    pub api: SocketAddr,
    pub shards: usize,
    /// A token from the config; None = the state dir's own (created on first start).
    pub configured_token: Option<String>,
    /// `[api] extra_listen`: more addresses serving the same API routes.
    pub extra_api: Vec<SocketAddr>,
    /// `[api.transmission]` credentials; None = loopback clients only.
    pub transmission: Option<crate::api_server::compat_auth::CompatCredentials>,
    pub settings: SessionSettings,
    pub hooks: crate::daemon_config::HooksConfig,
    pub watch_dir: Option<PathBuf>,
    pub redial: ccbt_engine::peer_book::RedialPolicy,
    pub our_id: ccbt_engine::PeerId,
    /// Print the start line as JSON.
    pub json: bool,
    /// `[api.qbittorrent]` credentials; none = loopback clients only.
    pub qbittorrent: Option<crate::api_server::compat_auth::CompatCredentials>,
    /// Local service discovery (BEP 14); it runs only where the peer port is not
    /// on a loopback address (nobody on the LAN could reach it).
    pub lsd: bool,
    /// Peer exchange (BEP 11) for torrents that are not private.
    pub pex: bool,
    /// The DHT node's settings (None = no DHT); the state dir adds the saved table.
    pub dht: Option<ccbt_shards::DhtSettings>,
    /// `[security] ip_filter`: blocklist files (empty = no IP filter).
    pub ip_filter: Vec<PathBuf>,
    /// `[peers]`: connection limits of each shard.
    pub connection_limits: ConnectionLimits,
    /// `[bans]`: how long bans last and how many are kept.
    pub bans: crate::ban_list::BanPolicy,
    /// `[api] cors_origins`: browser origins allowed to call the API (empty = no CORS).
    pub cors_origins: Vec<String>,
    /// The layered config these options came from: served on `/api/v1/config`,
    /// its file watched and re-read. None: not from a config (tests).
    pub config: Option<ConfigOrigin>,
    /// `[metrics]`.
    pub metrics: crate::daemon_config::metrics::MetricsConfig,
    /// `[alerts]`.
    pub alerts: crate::daemon_config::AlertsConfig,
}

/// What the config was read from, and what it read.
#[derive(Clone, Debug)]
pub struct ConfigOrigin {
    pub inputs: crate::daemon_config::sources::ConfigInputs,
    pub loaded: crate::daemon_config::sources::LoadedConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    State(#[from] crate::state_dir::StateError),
    #[error(transparent)]
    Store(#[from] crate::state_store::StoreError),
    #[error(transparent)]
    ApiBind(#[from] api_server::ApiBindError),
    #[error("cannot listen for the API on {addr}: {source}")]
    ApiListen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("cannot start the control thread's runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs the daemon in this process until it is told to stop. Returns once every
/// torrent's record is written.
pub fn run_foreground(opts: DaemonOptions) -> Result<(), DaemonError> {
    let state = StateDir::open(&opts.state_dir)?;
    api_server::check_bind_allowed(opts.api, opts.configured_token.is_some())?;
    for addr in &opts.extra_api {
        api_server::check_bind_allowed(*addr, opts.configured_token.is_some())?;
    }
    let token = match &opts.configured_token {
        Some(t) => t.clone(),
        None => state.ensure_token()?,
    };
    let api_listener = bind_api(opts.api)?;
    let api_addr = api_listener
        .local_addr()
        .map_err(|source| DaemonError::ApiListen { addr: opts.api, source })?;
    let extra_listeners = opts
        .extra_api
        .iter()
        .map(|addr| bind_api(*addr))
        .collect::<Result<Vec<_>, _>>()?;
    let store = StateStore::new(state.root());
    let mut session = start_session(&opts)?;
    // Before any torrent runs or any discovery starts: no blocked peer gets in first.
    let ip_filter =
        crate::ip_filter_loader::IpFilterService::start(opts.ip_filter.clone(), session.ip_filter_control());
    session.set_pex_enabled(opts.pex);
    if opts.lsd && !session.listen_addr().ip().is_loopback() {
        if let Err(error) = session.start_lsd(ccbt_shards::LsdSettings::default()) {
            tracing::warn!(%error, "local service discovery is off");
        }
    }
    let dht_watch = match &opts.dht {
        Some(settings) => Some(start_dht(&mut session, settings.clone(), state.root())?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    let api_url = format!("http://{api_addr}");
    runtime.block_on(async move {
        let mut listeners = Vec::with_capacity(1 + extra_listeners.len());
        for (addr, std_listener) in
            std::iter::once((api_addr, api_listener)).chain(opts.extra_api.iter().copied().zip(extra_listeners))
        {
            match tokio::net::TcpListener::from_std(std_listener) {
                Ok(l) => listeners.push(l),
                Err(source) => return Err(DaemonError::ApiListen { addr, source }),
            }
        }
        let (handle, inbox) = control_channel();
        let core = DaemonCore::new(
            CoreSetup {
                session,
                store,
                state_dir: state.root().to_path_buf(),
                download_dir: opts.download_dir.clone(),
                api_url: api_url.clone(),
                settings: opts.settings.clone(),
                hooks: HookRunner::start(&opts.hooks),
                watch_dir: opts.watch_dir.clone(),
                bans: opts.bans,
                metrics: opts.metrics,
                ip_filter,
                alerts: opts.alerts.clone(),
            },
            inbox.events.clone(),
        )
        .map_err(DaemonError::Runtime)?;
        let listen = core.listen_addr();
        let shards = core.shard_count();
        state.write_pid()?;
        state.write_endpoint(&Endpoint {
            pid: std::process::id(),
            api_url: api_url.clone(),
            listen: listen.to_string(),
        })?;
        announce_start(&opts, &api_url, listen, shards, state.root());
        let live_config = opts
            .config
            .clone()
            .map(|origin| crate::config_reload::LiveConfig::new(origin.inputs, origin.loaded, handle.clone()));
        let config_tasks = live_config.clone().map(|live| {
            let file = opts.config.as_ref().and_then(|o| o.inputs.file.clone());
            tokio::spawn(async move {
                live.apply_at_start().await;
                if let Some(file) = file {
                    crate::config_reload::watch_file(live, file).await;
                }
            })
        });
        let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
        let auth = ApiAuth {
            token,
            transmission: opts.transmission.clone(),
            qbittorrent: opts.qbittorrent.clone(),
            cors_origins: opts.cors_origins.clone(),
        };
        let server = tokio::spawn(api_server::serve(listeners, handle, auth, live_config, async move {
            let _ = api_stopped.await;
        }));
        let dht_saver = dht_watch.clone().map(|watch| {
            let root = state.root().to_path_buf();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(DHT_SAVE_EVERY);
                every.tick().await;
                loop {
                    every.tick().await;
                    crate::dht_nodes::save(&root, &watch.status());
                }
            })
        });
        core.run(inbox, stop_signal()).await;
        if let Some(task) = config_tasks {
            task.abort();
        }
        if let Some(saver) = dht_saver {
            saver.abort();
        }
        if let Some(watch) = &dht_watch {
            crate::dht_nodes::save(state.root(), &watch.status());
        }
        let _ = stop_api.send(());
        let _ = tokio::time::timeout(API_DRAIN, server).await;
        let _ = state.remove_pid();
        let _ = state.remove_endpoint();
        tracing::info!("stopped");
        Ok(())
    })
}

/// A non-blocking listener for the API on `addr`.
fn bind_api(addr: SocketAddr) -> Result<std::net::TcpListener, DaemonError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|source| DaemonError::ApiListen { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| DaemonError::ApiListen { addr, source })?;
    Ok(listener)
}

/// How often the DHT routing table is saved while the daemon runs (and at exit).
const DHT_SAVE_EVERY: Duration = Duration::from_secs(300);

/// Starts the DHT node with the table saved by the last run. Without a configured
/// port, a UDP port number already taken falls back to any free port.
fn start_dht(
    session: &mut Session,
    mut settings: ccbt_shards::DhtSettings,
    state_dir: &std::path::Path,
) -> Result<ccbt_shards::DhtWatch, DaemonError> {
    crate::dht_nodes::load_into(state_dir, &mut settings);
    let seed = rand::RngCore::next_u64(&mut rand::rngs::OsRng);
    let started = match session.start_dht(settings.clone(), seed) {
        Err(e) if settings.port.is_none() => {
            tracing::warn!(error = %e, "DHT: the peer port's number is taken for UDP; using another port");
            session.start_dht(
                ccbt_shards::DhtSettings {
                    port: Some(0),
                    ..settings
                },
                seed,
            )
        }
        other => other,
    };
    let addr = started?;
    tracing::info!(%addr, "DHT on");
    session.dht_watch().ok_or(DaemonError::Session(SessionError::Stopped))
}

/// Starts the shards. A peer port still held for a moment by a process that was just
/// killed (its io_uring rings are torn down after it is reaped) is tried again for a
/// few seconds, as a restart by a supervisor needs; another process really holding
/// it is still an error.
fn start_session(opts: &DaemonOptions) -> Result<Session, DaemonError> {
    let deadline = std::time::Instant::now() + PORT_RETRY;
    loop {
        let started = Session::start(SessionConfig {
            shards: opts.shards,
            listen: opts.listen,
            our_id: opts.our_id,
            read_cache_bytes: DEFAULT_READ_CACHE_BYTES,
            connection_limits: opts.connection_limits,
            redial: opts.redial,
        });
        match started {
            Err(SessionError::Listen(e))
                if e.source.kind() == std::io::ErrorKind::AddrInUse && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return Ok(other?),
        }
    }
}

/// The one line `daemon start` prints: where the API and the peer port are.
fn announce_start(opts: &DaemonOptions, api_url: &str, listen: SocketAddr, shards: usize, state_dir: &std::path::Path) {
    if opts.json {
        let line = serde_json::json!({
            "event": "daemon_started",
            "pid": std::process::id(),
            "api": api_url,
            "listen": listen.to_string(),
            "shards": shards,
            "state_dir": state_dir.display().to_string(),
        });
        println!("{line}");
    } else {
        println!(
            "ccbt daemon {} running: API {api_url}, peers on {listen}, {shards} shards, state in {} (pid {})",
            env!("CARGO_PKG_VERSION"),
            state_dir.display(),
            std::process::id()
        );
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        tracing::error!("cannot watch for SIGINT/SIGTERM; stop the daemon with `btbt daemon exit`");
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
    }
}
