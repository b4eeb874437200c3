//! Client version strings, asked once per test process.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Runs `cmd args` and returns the first line of its stdout, or of its stderr when
/// stdout is empty (some clients print their version there).
pub fn first_line_of(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    let text = if out.stdout.iter().any(|b| !b.is_ascii_whitespace()) {
        out.stdout
    } else {
        out.stderr
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Caches a version string per client for the process's lifetime.
pub(crate) fn cached(cell: &'static OnceLock<String>, f: impl FnOnce() -> String) -> String {
    cell.get_or_init(f).clone()
}
