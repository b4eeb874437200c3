//! `btbt`: torrent tools — create and verify (the daemon commands come later).

use std::path::PathBuf;

use ccbt_cli::create::{create, CreateOptions};
use ccbt_cli::verify::verify;
use ccbt_cli::{size, CliError};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "btbt", version, about = "ccbt's torrent tools")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Make a .torrent from a file or a directory
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
    ccbt_cli::init_logging();
    let args = Args::parse();
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
