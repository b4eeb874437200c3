//! `btbt`: the daemon and its client commands, and offline torrent tools
//! (create, verify). Argument parsing only; the commands live in `ccbt_cli`.

use std::path::PathBuf;

use ccbt_cli::client::args::{ApiOptions, ClientCommand};
use ccbt_cli::client::config_cmd::{run_config_command, ConfigArgs};
use ccbt_cli::client::run_client_command;
use ccbt_cli::create::{create, CreateOptions};
use ccbt_cli::daemon_cmd::{run_daemon_command, DaemonArgs};
use ccbt_cli::verify::verify;
use ccbt_cli::{size, CliError};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "btbt",
    version,
    about = "ccbt's daemon, its client commands, and torrent tools"
)]
struct Args {
    #[command(flatten)]
    api: ApiOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run and control the daemon (start, status, exit)
    Daemon(DaemonArgs),
    /// The configuration: get, set, unset, show, describe, schema, diff, check
    Config(ConfigArgs),
    #[command(flatten)]
    Client(ClientCommand),
    /// Make a .torrent from a file or a directory
    #[command(visible_alias = "create-torrent")]
    Create {
        /// File or directory to share
        path: PathBuf,
        /// Where to write the .torrent
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Piece size in bytes, a power of two >= 16K (default: about 1000-2000 pieces)
        #[arg(long, value_parser = size::parse_size)]
        piece_size: Option<u64>,
        /// Tracker announce URL (repeatable; each becomes its own tier)
        #[arg(long = "tracker")]
        trackers: Vec<String>,
        /// Mark the torrent private (BEP 27)
        #[arg(long)]
        private: bool,
        /// Free-text comment
        #[arg(long)]
        comment: Option<String>,
        /// Hashing threads (one per core by default)
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Check data on disk against a .torrent
    Verify {
        /// The .torrent file
        torrent: PathBuf,
        /// Directory holding the torrent's data
        #[arg(long)]
        data: PathBuf,
        /// Hashing threads (one per core by default)
        #[arg(long)]
        threads: Option<usize>,
    },
}

fn main() {
    let args = Args::parse();
    // `daemon start` sets up its logging once its config is read.
    if !matches!(&args.command, Command::Daemon(d) if d.is_start()) {
        ccbt_cli::init_logging();
    }
    let code = match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("btbt: error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}

fn run(args: Args) -> Result<i32, CliError> {
    match args.command {
        Command::Daemon(daemon) => run_daemon_command(daemon, &args.api).map(|()| 0),
        Command::Config(config) => run_config_command(config, &args.api),
        Command::Client(client) => run_client_command(client, &args.api).map(|()| 0),
        Command::Create {
            path,
            output,
            piece_size,
            trackers,
            private,
            comment,
            threads,
        } => {
            let piece_size = piece_size
                .map(|p| {
                    u32::try_from(p).map_err(|_| CliError::Create {
                        path: path.clone(),
                        reason: "piece size too large".into(),
                    })
                })
                .transpose()?;
            let created = create(&CreateOptions {
                path,
                output: output.clone(),
                piece_size,
                trackers,
                private,
                comment,
                threads: threads.unwrap_or_else(ccbt_cli::default_shards),
            })?;
            println!("{}", created.info_hash);
            eprintln!(
                "wrote {} ({} pieces, {} bytes)",
                output.display(),
                created.num_pieces,
                created.total_length
            );
            Ok(0)
        }
        Command::Verify { torrent, data, threads } => {
            let report = verify(&torrent, &data, threads.unwrap_or_else(ccbt_cli::default_shards))?;
            println!(
                "{}: {}/{} pieces valid",
                report.name, report.valid_pieces, report.num_pieces
            );
            for (path, ok, total) in &report.incomplete_files {
                println!("incomplete: {path} ({ok}/{total} pieces valid)");
            }
            Ok(if report.all_valid() { 0 } else { 1 })
        }
    }
}
