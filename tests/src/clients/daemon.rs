//! A client's process and its profile folder: output collected for failure
//! messages, killed by its pid when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Opts;

/// A fresh folder for one client's profile, removed when dropped.
pub fn work_dir(prefix: &str, opts: &Opts) -> tempfile::TempDir {
    let root = opts.work_root.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&root).unwrap();
    tempfile::Builder::new()
        .prefix(&format!("ccbt-{prefix}-"))
        .tempdir_in(&root)
        .unwrap_or_else(|e| panic!("temp dir in {}: {e}", root.display()))
}

const LOG_TAIL: usize = 8000;

/// A client process, with stdout and stderr collected (stdout lines also on a
/// channel). Dropping it kills it by its pid (SIGKILL) and reaps it.
///
/// It stays in the test's process group on purpose: nextest runs each test in a
/// group of its own and signals that whole group on timeout or Ctrl-C, so a client
/// is not left running when a test is cut short. (The clients here do not fork, so
/// killing the pid ends everything they started.)
pub struct Daemon {
    child: Child,
    name: String,
    reaped: bool,
    stdin: Option<ChildStdin>,
    lines: Mutex<Receiver<String>>,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    log_files: Vec<PathBuf>,
}

impl Daemon {
    /// Starts `cmd`, stdin piped when `with_stdin` (else /dev/null), stdout and
    /// stderr collected.
    pub fn spawn(name: &str, cmd: &mut Command, with_stdin: bool) -> Daemon {
        cmd.stdin(if with_stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {name} ({cmd:?}): {e}"));
        let (tx, rx) = mpsc::channel();
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Periodic status lines (libtorrent's driver) go to the channel only,
                // so the log tail keeps the events.
                if !line.starts_with(r#"{"type": "status""#) {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                    trim_front(&mut s, 4 * LOG_TAIL);
                }
                let _ = tx.send(line);
            }
        });
        let err = Arc::new(Mutex::new(String::new()));
        let sink = err.clone();
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
                trim_front(&mut s, 4 * LOG_TAIL);
            }
        });
        let stdin = child.stdin.take();
        Daemon {
            child,
            name: name.to_string(),
            reaped: false,
            stdin,
            lines: Mutex::new(rx),
            out,
            err,
            log_files: Vec::new(),
        }
    }

    /// Adds a log file whose tail [`Daemon::logs`] shows.
    pub fn add_log_file(&mut self, path: PathBuf) {
        self.log_files.push(path);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs (does not reap it).
    pub fn is_running(&self) -> bool {
        if self.reaped {
            return false;
        }
        // /proc/PID/stat: "pid (comm) S ..."; a zombie is "Z".
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid())) {
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z') && !state.starts_with('X')
            }
            Err(_) => false,
        }
    }

    /// The next stdout line, waiting at most `timeout`.
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.lock().unwrap().recv_timeout(timeout).ok()
    }

    /// Writes one line to the process's stdin.
    pub fn send_line(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("stdin not piped"))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// The tails of stdout, stderr and the log files.
    pub fn logs(&self) -> String {
        let mut s = format!("--- {} (pid {}) stdout:\n", self.name, self.pid());
        s.push_str(tail(&self.out.lock().unwrap(), LOG_TAIL));
        s.push_str("\n--- stderr:\n");
        s.push_str(tail(&self.err.lock().unwrap(), LOG_TAIL));
        for f in &self.log_files {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            s.push_str(&format!("\n--- {}:\n", f.display()));
            s.push_str(tail(&text, LOG_TAIL));
        }
        s
    }

    /// Kills the process now (SIGKILL, by its pid) and reaps it.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        // Not reaped yet, so the pid cannot have been reused by another process.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn trim_front(s: &mut String, max: usize) {
    if s.len() > max {
        let cut = s.len() - max / 2;
        let mut at = cut;
        while !s.is_char_boundary(at) {
            at += 1;
        }
        s.drain(..at);
    }
}
