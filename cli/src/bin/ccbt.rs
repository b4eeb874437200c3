//! `ccbt`: download (or seed) torrents and exit when every piece is verified.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ccbt_cli::download::{self, DownloadOptions};
use ccbt_cli::output::{OutputMode, Reporter};
use ccbt_cli::{demo, flags, size, source, CliError};
use ccbt_engine::torrent::TorrentConfig;
use ccbt_io::storage::Preallocation;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ccbt",
    version,
    about = "Fast BitTorrent downloads and seeding on Linux servers"
)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// .torrent files, directories of .torrent files, or magnet links
    #[arg(required = true)]
    sources: Vec<String>,
    /// Directory the data is written to (and rechecked in)
    #[arg(short = 'o', long = "output", default_value = ".")]
    output: PathBuf,
    /// Keep seeding after the download until SIGINT/SIGTERM
    #[arg(long)]
    seed: bool,
    /// A peer to connect to (repeatable)
    #[arg(long = "peer", value_name = "HOST:PORT")]
    peers: Vec<String>,
    /// Address to accept peers on [default: 0.0.0.0:6881, or any free port if it is taken]
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// UDP port of the DHT node [default: the peer listen port's number]
    #[arg(long, value_name = "PORT")]
    dht_port: Option<u16>,
    /// A DHT node to bootstrap from (repeatable; replaces the public routers)
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    dht_bootstrap: Vec<String>,
    /// Do not use the DHT (trackers and --peer only)
    #[arg(long)]
    no_dht: bool,
    /// Executors (one per core by default; at most 4 per core and 256)
    #[arg(long)]
    shards: Option<usize>,
    /// JSON lines on stdout instead of human output
    #[arg(long)]
    json: bool,
    /// Download rate limit per torrent in bytes/s (e.g. 10M; at least 16K, 0 = none)
    #[arg(long, value_parser = size::parse_size)]
    download_limit: Option<u64>,
    /// Upload rate limit per torrent in bytes/s (e.g. 10M; at least 16K, 0 = none)
    #[arg(long, value_parser = size::parse_size)]
    upload_limit: Option<u64>,
    /// Regular unchoke slots (0 = unchoke every interested peer)
    #[arg(long, default_value_t = 8)]
    unchoke_slots: usize,
    /// Download pieces in order
    #[arg(long)]
    sequential: bool,
    /// Allocate the whole files up front instead of sparse files
    #[arg(long)]
    full_allocation: bool,
    /// Write downloaded pieces through the page cache. By default the page-aligned
    /// part of each piece is written with O_DIRECT where the disk allows it, which
    /// costs less CPU and leaves the page cache to the data being served
    #[arg(long)]
    buffered_writes: bool,
    /// No local service discovery (BEP 14) on the LAN (never used on a loopback listen address)
    #[arg(long)]
    no_lsd: bool,
    /// No peer exchange (BEP 11) with peers
    #[arg(long)]
    no_pex: bool,
    /// Log lines on stderr as text or JSON objects, one per line
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Seed a generated payload and download it over loopback through the real engine
    Demo {
        /// Payload size (e.g. 256M, 1G)
        #[arg(long, default_value = "256M", value_parser = size::parse_size)]
        size: u64,
        /// Piece size
        #[arg(long, default_value = "1M", value_parser = size::parse_size)]
        piece_size: u64,
        /// Executors per session (at most 4 per core and 256)
        #[arg(long)]
        shards: Option<usize>,
        /// Directory for the temporary files
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
}

fn main() {
    let args = Args::parse();
    let mut logging = ccbt_cli::log_setup::LogOptions::with_default("warn");
    logging.format = ccbt_daemon::daemon_config::LogFormat::parse(&args.log_format).unwrap_or_default();
    let _logging = ccbt_cli::log_setup::init(&logging);
    let code = match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ccbt: error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}

fn run(args: Args) -> Result<(), CliError> {
    if let Some(Command::Demo {
        size,
        piece_size,
        shards,
        workdir,
    }) = args.command
    {
        let piece_size = flags::check_piece_size("--piece-size", piece_size)?;
        let report = demo::run(&demo::DemoOptions {
            size,
            piece_size,
            shards: shards_flag(shards)?,
            workdir,
        })?;
        println!(
            "{{\"type\":\"demo\",\"bytes\":{},\"seconds\":{:.3},\"rate\":{:.0}}}",
            report.bytes,
            report.seconds,
            report.bytes as f64 / report.seconds
        );
        return Ok(());
    }
    let shards = shards_flag(args.shards)?;
    let download_limit = flags::check_rate_limit("--download-limit", args.download_limit)?;
    let upload_limit = flags::check_rate_limit("--upload-limit", args.upload_limit)?;
    let peers = flags::resolve_peers(&args.peers)?;
    let dht = flags::dht_settings(args.no_dht, args.dht_port, &args.dht_bootstrap)?;
    let sources = source::load_sources(&args.sources)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks for a clean stop (summary, exit 130); a second one
        // ends the process at once, whatever it is waiting for. Registered before
        // the flag, so it sees the flag as the first signal left it.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone());
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let config = TorrentConfig {
        unchoke_slots: args.unchoke_slots,
        sequential: args.sequential,
        pex: !args.no_pex,
        ..TorrentConfig::default()
    };
    let opts = DownloadOptions {
        sources,
        output_dir: args.output,
        seed: args.seed,
        peers,
        listen: args.listen.unwrap_or_else(download::default_listen_addr),
        dht,
        shards,
        download_limit,
        upload_limit,
        direct_writes: !args.buffered_writes,
        preallocation: if args.full_allocation {
            Preallocation::Full
        } else {
            Preallocation::Sparse
        },
        config,
        lsd: !args.no_lsd,
    };
    let mut reporter = Reporter::new(OutputMode::choose(args.json));
    download::run(opts, &mut reporter, stop)?;
    Ok(())
}

/// `--shards`, checked against this machine's cores; one per core when not given.
fn shards_flag(shards: Option<usize>) -> Result<usize, CliError> {
    match shards {
        Some(n) => flags::check_shards("--shards", n, ccbt_cli::default_shards()),
        None => Ok(ccbt_cli::default_shards()),
    }
}
