//! The commands behind the `ccbt` and `btbt` binaries, callable from tests.
//!
//! The binaries only parse arguments and turn errors into one line and an exit code;
//! everything they do lives here, over `ccbt-shards` and `ccbt-engine`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
pub mod create;
pub mod daemon_cmd;
pub mod daemon_start;
pub mod demo;
pub mod download;
pub mod error;
pub mod flags;
pub mod output;
pub mod piece_scan;
pub mod size;
pub mod source;
pub mod verify;

pub use error::CliError;

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings and errors only),
/// with colour codes only when stderr is a terminal (a log file or a pipe read by
/// a script gets plain text).
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Default shard count: one per available core.
pub fn default_shards() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
