//! Small process helpers: every wait is bounded.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished command printed.
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion, killing it (by its pid) after `timeout`.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("run {cmd:?}: {e}"))?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("wait for {cmd:?}: {e}")),
        }
    };
    Ok(Output {
        success: status.success(),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}

/// Checks the data in `dir` against every piece hash of `torrent` with
/// `btbt verify`; retries a few times (a client may still be flushing right after
/// it reports completion).
pub fn verify(btbt: &Path, torrent: &Path, dir: &Path, timeout: Duration) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        let mut cmd = Command::new(btbt);
        cmd.arg("verify").arg(torrent).arg("--data").arg(dir);
        let o = run_bounded(&mut cmd, timeout)?;
        if o.success {
            return Ok(());
        }
        last = format!("{} {}", o.stdout.trim(), o.stderr.trim());
    }
    Err(format!("verification failed: {}", first_lines(&last, 3)))
}

/// The first `n` lines of `s`, joined with " | ".
pub fn first_lines(s: &str, n: usize) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Removes a folder tree if it exists.
pub fn remove_tree(p: &Path) {
    if p.exists() {
        let _ = std::fs::remove_dir_all(p);
    }
}
