//! `btbt daemon start|status|exit`. `start` (the process plumbing: detaching, the
//! pid and log files, the lock) belongs to the daemon's core; `status` and `exit`
//! are clients of a running daemon's API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ccbt_daemon::api_types::{SessionInfo, SessionStats};
use clap::{Args, Subcommand};

use crate::client::api_client::{ApiClient, Method};
use crate::client::args::ApiOptions;
use crate::client::stats_view::render_stats;
use crate::client::table;
use crate::error::CliError;

/// Longest `btbt daemon exit` waits for the daemon to stop answering after it
/// accepted the shutdown (final announces and resume records are bounded well below).
pub const EXIT_WAIT: Duration = Duration::from_secs(60);
/// How often `exit` looks whether the daemon is gone.
const EXIT_POLL: Duration = Duration::from_millis(200);

#[derive(Args, Debug)]
pub struct DaemonArgs {
    #[command(subcommand)]
    pub command: DaemonCommand,
}

#[derive(Subcommand, Debug)]
pub enum DaemonCommand {
    /// Start the daemon: detaches and returns once its API answers (--foreground
    /// stays attached, for systemd). Its state dir is the global --state-dir, its
    /// API address the global --api (ADDR:PORT)
    Start(StartArgs),
    /// Whether the daemon runs: its addresses, uptime, torrents and rates
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Stop the daemon gracefully and wait until it is gone
    Exit,
}

/// `btbt daemon start` flags (besides the global `--api` and `--state-dir`).
#[derive(Args, Debug, Clone)]
pub struct StartArgs {
    /// Stay attached and log to stderr (what a systemd unit runs)
    #[arg(long)]
    pub foreground: bool,
    /// Configuration file (TOML)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where torrents' data goes by default [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub download_dir: Option<PathBuf>,
    /// Address to accept peers on
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Executors (one per core by default)
    #[arg(long)]
    pub shards: Option<usize>,
    /// Print the start line as JSON
    #[arg(long)]
    pub json: bool,
    /// No local service discovery (BEP 14) on the LAN
    #[arg(long)]
    pub no_lsd: bool,
    /// No peer exchange (BEP 11) with peers
    #[arg(long)]
    pub no_pex: bool,
    /// UDP port of the DHT node [default: config `dht.port`, else the peer port's number]
    #[arg(long, value_name = "PORT")]
    pub dht_port: Option<u16>,
    /// A DHT node to bootstrap from (repeatable; replaces config `dht.bootstrap`)
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// Do not use the DHT
    #[arg(long)]
    pub no_dht: bool,
    /// Log lines as text or JSON objects, one per line [default: config `logging.format`, else text]
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Write a Chrome/Perfetto trace (JSON) of the session's spans to FILE
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Stop recording the trace at this size (e.g. 64M)
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size, default_value = "256M")]
    pub trace_max_size: u64,
}

impl DaemonArgs {
    pub fn is_start(&self) -> bool {
        matches!(self.command, DaemonCommand::Start(_))
    }
}

pub fn run_daemon_command(args: DaemonArgs, api: &ApiOptions) -> Result<(), CliError> {
    match args.command {
        DaemonCommand::Start(start) => crate::daemon_start::start(&start, api).map(|_| ()),
        DaemonCommand::Status { json } => status(&ApiClient::new(api.endpoint()?), json),
        DaemonCommand::Exit => exit(&ApiClient::new(api.endpoint()?)),
    }
}

/// The daemon's identity and settings, then the session totals.
pub fn render_status(info: &SessionInfo, stats: &SessionStats) -> String {
    format!(
        "ccbt daemon {} (pid {}) running for {}\n  API {}, peers on {}, {} shards\n  state dir {}, downloads to {}\n\n{}",
        info.version,
        info.pid,
        table::duration(Some(info.uptime_secs)),
        info.api_url,
        info.listen,
        info.shards,
        info.state_dir,
        info.download_dir,
        render_stats(stats)
    )
}

fn status(client: &ApiClient, json: bool) -> Result<(), CliError> {
    if json {
        let session = client.get_json("/session")?;
        let stats = client.get_json("/stats")?;
        println!("{}", serde_json::json!({ "session": session, "stats": stats }));
        return Ok(());
    }
    let info: SessionInfo = client.get("/session")?;
    let stats: SessionStats = client.get("/stats")?;
    print!("{}", render_status(&info, &stats));
    Ok(())
}

/// `POST /shutdown`, then wait (bounded) until the API stops answering.
fn exit(client: &ApiClient) -> Result<(), CliError> {
    client.send_no_answer(Method::Post, "/shutdown", &[])?;
    let deadline = Instant::now() + EXIT_WAIT;
    while Instant::now() < deadline {
        if let Err(CliError::DaemonUnreachable { .. }) = client.health() {
            println!("daemon stopped");
            return Ok(());
        }
        std::thread::sleep(EXIT_POLL);
    }
    Err(CliError::BadResponse {
        url: client.endpoint().base_url.clone(),
        reason: format!(
            "the daemon accepted the shutdown but still answers after {} s",
            EXIT_WAIT.as_secs()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::SessionSettings;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        api: ApiOptions,
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Subcommand, Debug)]
    enum Top {
        Daemon(DaemonArgs),
    }

    #[test]
    fn start_takes_the_issues_flags_and_the_global_api_and_state_dir() {
        let cli = Cli::try_parse_from([
            "btbt",
            "daemon",
            "start",
            "--foreground",
            "--config",
            "c.toml",
            "--state-dir",
            "/s",
            "--download-dir",
            "/d",
            "--listen",
            "127.0.0.1:6881",
            "--api",
            "127.0.0.1:9000",
            "--shards",
            "2",
            "--json",
        ])
        .unwrap();
        let Top::Daemon(DaemonArgs {
            command: DaemonCommand::Start(start),
        }) = cli.command
        else {
            panic!("not start: {:?}", cli.command);
        };
        assert!(start.foreground && start.json);
        assert_eq!(start.listen, Some(SocketAddr::from(([127, 0, 0, 1], 6881))));
        assert_eq!(start.shards, Some(2));
        assert_eq!(cli.api.api.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(cli.api.state_dir, Some(PathBuf::from("/s")));
    }

    #[test]
    fn status_golden_head() {
        let info = SessionInfo {
            version: "0.1.0".into(),
            api_version: 1,
            pid: 42,
            api_url: "http://127.0.0.1:64124".into(),
            listen: "0.0.0.0:6881".into(),
            state_dir: "/var/lib/ccbt".into(),
            download_dir: "/srv".into(),
            shards: 2,
            uptime_secs: 65,
            settings: SessionSettings {
                download_limit: None,
                upload_limit: None,
                alt_download_limit: None,
                alt_upload_limit: None,
                alt_speed_enabled: false,
                alt_speed_schedule: None,
                alt_speed_active: false,
                max_active_downloads: 3,
                max_active_seeds: 1000,
                max_active_checks: 1,
                ratio_limit: None,
                seed_time_limit_secs: None,
                idle_limit_secs: None,
                watch_dir: None,
            },
        };
        let stats = SessionStats {
            download_rate: 0,
            upload_rate: 0,
            session_downloaded: 0,
            session_uploaded: 0,
            total_downloaded: 0,
            total_uploaded: 0,
            torrents: 0,
            by_state: Default::default(),
            peers: 0,
            shards: vec![],
            events_dropped: 0,
            handovers: 0,
            uptime_secs: 65,
            ip_filter_blocked: Default::default(),
            peer_guard: Default::default(),
        };
        let text = render_status(&info, &stats);
        assert!(
            text.starts_with(concat!(
                "ccbt daemon 0.1.0 (pid 42) running for 1m05s\n",
                "  API http://127.0.0.1:64124, peers on 0.0.0.0:6881, 2 shards\n",
                "  state dir /var/lib/ccbt, downloads to /srv\n\n",
                "torrents      0\n",
            )),
            "{text}"
        );
    }
}
