//! `ccbt-bench`: swarms on loopback against real clients, measured from outside,
//! reported as ratios against peers measured in the same run; and micro-benchmarks
//! of the engine's hot parts.
//!
//! - [`procstat`]: CPU seconds and peak RSS of a process from `/proc`;
//! - [`jsonproc`]: a child process printing JSON lines (ccbt `--json`);
//! - [`daemon_proc`]: a ccbt daemon started by the harness, and its control API;
//! - [`participant`]: ccbt and the real clients of `ccbt_tests::clients` behind
//!   one interface;
//! - [`data`]: cached data sets and torrents;
//! - [`scenario`]: download, seed, fan-out, many torrents, restart;
//! - [`report`]: medians, spread, ratios, markdown and JSON;
//! - [`micro`]: `ccbt-bench micro`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod daemon_proc;
pub mod data;
pub mod jsonproc;
pub mod micro;
pub mod micro_ipfilter;
pub mod participant;
pub mod procstat;
pub mod report;
pub mod scenario;
pub mod util;
