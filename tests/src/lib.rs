//! Helpers for ccbt's end-to-end tests: run the real binaries, read their JSON
//! lines, make payloads, compare trees. Every wait is bounded; every process a test
//! starts is killed (by its pid) when its handle drops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use serde_json::Value;

pub mod bad_peer_listener;
pub mod ccbt_runs;
pub mod clients;
pub mod daemon_runs;
pub mod evil_peer;
pub mod garbage_answers;
pub mod garbage_peer;
pub mod hostile_peer;
pub mod idle_flood;
pub mod metadata_liar;
pub mod pyenv;
pub mod stop_on_drop;

pub use ccbt_runs::{spawn_seeder, start_seeder, start_seeder_on, Downloader};

/// Path of a workspace binary (`ccbt`, `btbt`), built by `cargo build --workspace --bins`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// A started process, killed on drop, with its stdout JSON lines on a channel and
/// its stderr collected.
pub struct Proc {
    pub child: Child,
    lines: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
    pub seen: Vec<Value>,
    name: String,
}

impl Proc {
    /// Starts `bin(name)` with `args`.
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        Self::spawn_program_with_env(name, &bin(name), args, &[])
    }

    /// Starts `bin(name)` with `args` and extra environment variables.
    pub fn spawn_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        Self::spawn_program_with_env(name, &bin(name), args, env)
    }

    /// Starts `program` with `args` (e.g. a workspace binary under `prlimit`),
    /// naming it `name` in failure messages.
    pub fn spawn_program(name: &str, program: &Path, args: &[&str]) -> Proc {
        Self::spawn_program_with_env(name, program, args, &[])
    }

    /// Starts `program` with `args` and extra environment variables.
    pub fn spawn_program_with_env(name: &str, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Proc {
            child,
            lines,
            stderr,
            seen: Vec::new(),
            name: name.to_string(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs: not exited, not a zombie (does not reap it).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for a JSON line matching `pred`; panics with the process's output on timeout.
    pub fn wait_json(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: timed out waiting for {what}; stderr:\n{}",
                        self.name,
                        self.stderr()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait().ok().flatten();
                    panic!(
                        "{}: exited ({status:?}) before {what}; stderr:\n{}",
                        self.name,
                        self.stderr()
                    )
                }
            }
        }
    }

    /// Collects every remaining line until the process closes stdout (bounded).
    pub fn drain(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while let Ok(v) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(v);
        }
    }

    /// Waits for exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.drain(Duration::from_secs(5));
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{}: did not exit within {timeout:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (at most `timeout`) for exit and asserts it exited 0; `what` names it
    /// in the failure message, with its stderr.
    pub fn wait_success(&mut self, what: &str, timeout: Duration) -> std::process::ExitStatus {
        let status = self.wait_exit(timeout);
        assert!(status.success(), "{what} failed ({status}): {}", self.stderr());
        status
    }

    /// Sends a signal to this process (by its pid).
    pub fn signal(&self, sig: i32) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The `addr` of the `listening` line.
    pub fn listen_addr(&mut self) -> String {
        let v = self.wait_json("listening", Duration::from_secs(20), |v| v["type"] == "listening");
        v["addr"].as_str().unwrap().to_string()
    }

    /// The last line of a given type seen so far.
    pub fn last_of(&self, ty: &str) -> Option<&Value> {
        self.seen.iter().rev().find(|v| v["type"] == ty)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Writes `len` pseudo-random bytes (seeded) to `path`, creating parent folders.
pub fn write_random_file(path: &Path, len: u64, seed: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut data = vec![0u8; len as usize];
    rng.fill_bytes(&mut data);
    std::fs::write(path, data).unwrap();
}

/// Asserts two directory trees hold the same files with the same bytes.
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let mut stack = vec![PathBuf::new()];
    let mut files = 0;
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(expected.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let rel_child = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                stack.push(rel_child);
            } else {
                let want = std::fs::read(expected.join(&rel_child)).unwrap();
                let got = std::fs::read(actual.join(&rel_child))
                    .unwrap_or_else(|e| panic!("{}: {e}", actual.join(&rel_child).display()));
                assert!(want == got, "{} differs", rel_child.display());
                files += 1;
            }
        }
    }
    assert!(files > 0, "no files compared under {}", expected.display());
}

/// Asserts two files hold the same bytes.
pub fn assert_same_file(expected: &Path, actual: &Path) {
    let want = std::fs::read(expected).unwrap_or_else(|e| panic!("{}: {e}", expected.display()));
    let got = std::fs::read(actual).unwrap_or_else(|e| panic!("{}: {e}", actual.display()));
    assert!(
        want == got,
        "{} differs from {} ({} vs {} bytes)",
        actual.display(),
        expected.display(),
        got.len(),
        want.len()
    );
}

/// Runs `btbt create` and returns the info-hash it prints.
pub fn btbt_create(path: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "create".to_string(),
        path.display().to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let output = Command::new(bin("btbt")).args(&args).output().unwrap();
    assert!(
        output.status.success(),
        "btbt create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Lines of a given type from a finished process.
pub fn lines_of<'a>(p: &'a Proc, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    p.seen.iter().filter(move |v| v["type"] == ty)
}
