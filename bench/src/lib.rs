//! The benchmark harness (`ccbt-bench`) will live here: swarms on loopback against
//! real clients, measured from outside, reported as ratios against a peer measured
//! in the same run.
//!
//! Until it exists, `ccbt demo` prints the loopback rate of ccbt against itself.
