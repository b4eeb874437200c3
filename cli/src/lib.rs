//! The commands behind the `ccbt` and `btbt` binaries, callable from tests.
//!
//! The binaries only parse arguments and turn errors into one line and an exit code;
//! everything they do lives here, over `ccbt-shards` and `ccbt-engine`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod chrome_trace;
pub mod client;
pub mod create;
pub mod daemon_cmd;
pub mod daemon_start;
pub mod demo;
pub mod download;
pub mod error;
pub mod flags;
pub mod log_setup;
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
    init_logging_with_default("warn");
}

/// As [`init_logging`], with another filter when `RUST_LOG` is not set (the daemon
/// logs its own life at `info`: start, stop, errors, limits reached).
pub fn init_logging_with_default(default_filter: &str) {
    // Without a trace file nothing can fail.
    let _ = log_setup::init(&log_setup::LogOptions::with_default(default_filter));
}

/// Default shard count: one per available core.
pub fn default_shards() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
