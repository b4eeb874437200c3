//! A process that prints JSON lines on stdout (ccbt `--json`, the libtorrent
//! many-torrents script): lines are timestamped when they arrive, so a `complete`
//! line gives the moment of completion to within the pipe's latency.
//!
//! Dropping it kills the process by its pid (SIGKILL) and reaps it.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

const TAIL: usize = 4000;

/// One stdout line, parsed, with its arrival time.
#[derive(Clone, Debug)]
pub struct Line {
    pub at: Instant,
    pub value: Value,
}

pub struct JsonProc {
    child: Child,
    name: String,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<String>>,
    stdout_tail: Arc<Mutex<String>>,
    stdin: Option<ChildStdin>,
    reaped: bool,
}

fn push_tail(buf: &Arc<Mutex<String>>, text: &str) {
    let mut s = buf.lock().unwrap_or_else(|e| e.into_inner());
    s.push_str(text);
    if s.len() > 2 * TAIL {
        let mut cut = s.len() - TAIL;
        while !s.is_char_boundary(cut) {
            cut += 1;
        }
        s.drain(..cut);
    }
}

impl JsonProc {
    /// Starts `cmd` with stdin from /dev/null (or piped and kept open when
    /// `keep_stdin`), stdout parsed as JSON lines. Lines whose text contains
    /// `"type":"status"` are parsed only when `parse_status` (a seeder of 10,000
    /// torrents prints 10,000 of them a second).
    pub fn spawn(name: &str, cmd: &mut Command, parse_status: bool, keep_stdin: bool) -> Result<JsonProc, String> {
        cmd.stdin(if keep_stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("start {name} ({cmd:?}): {e}"))?;
        let stdout = child.stdout.take().ok_or_else(|| format!("{name}: no stdout pipe"))?;
        let stderr = child.stderr.take().ok_or_else(|| format!("{name}: no stderr pipe"))?;
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        let out_tail = Arc::new(Mutex::new(String::new()));
        let sink = out_tail.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::with_capacity(1 << 16, stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let at = Instant::now();
                let is_status = line.contains("\"type\":\"status\"") || line.contains("\"type\": \"status\"");
                if is_status && !parse_status {
                    continue;
                }
                if !is_status {
                    push_tail(&sink, &line);
                }
                if let Ok(value) = serde_json::from_str::<Value>(line.trim()) {
                    if tx.send(Line { at, value }).is_err() {
                        break;
                    }
                }
            }
        });
        let err_tail = Arc::new(Mutex::new(String::new()));
        let sink = err_tail.clone();
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                push_tail(&sink, &String::from_utf8_lossy(&buf[..n]));
            }
        });
        Ok(JsonProc {
            child,
            name: name.to_string(),
            lines: rx,
            stderr: err_tail,
            stdout_tail: out_tail,
            stdin,
            reaped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes one line to the process's stdin (when it was kept open).
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{}: stdin is not open", self.name))?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("{}: write to stdin: {e}", self.name))
    }

    /// Every line that arrived since the last call.
    pub fn drain(&self) -> Vec<Line> {
        self.lines.try_iter().collect()
    }

    /// Whether the process still runs (a zombie does not; it is not reaped here, so
    /// its final CPU times stay readable).
    pub fn is_running(&self) -> bool {
        if self.reaped {
            return false;
        }
        match crate::procstat::sample(self.pid()) {
            Ok(s) => s.state != 'Z' && s.state != 'X',
            Err(_) => false,
        }
    }

    /// How the process ended (reaps it), or `None` while it runs.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        if status.is_some() {
            self.reaped = true;
        }
        status
    }

    /// The tails of stdout (status lines left out) and stderr.
    pub fn logs(&self) -> String {
        let out = self.stdout_tail.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let err = self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
        format!(
            "--- {} (pid {}) stdout:\n{}\n--- stderr:\n{}",
            self.name,
            self.pid(),
            out.trim_end(),
            err.trim_end()
        )
    }

    /// Kills the process (SIGKILL, by its pid) and reaps it.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        // Not reaped yet, so the pid still names our child.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for JsonProc {
    fn drop(&mut self) {
        self.kill();
    }
}
