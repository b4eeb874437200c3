//! The daemon's process as a test holds it: stdout lines and stderr collected for
//! assertions and failure messages, waits bounded, killed by its pid on drop.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keeps at most this much of stderr (the tail) for failure messages.
const STDERR_KEEP: usize = 64 * 1024;

/// A started process whose output is read by two threads into memory.
pub struct DaemonProcess {
    child: Child,
    exited: Option<ExitStatus>,
    stdout_lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl DaemonProcess {
    /// Starts `cmd` with stdin closed and stdout/stderr collected.
    pub fn spawn(cmd: &mut Command) -> DaemonProcess {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let sink = stdout_lines.clone();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("stdout lines").push(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().expect("stderr text");
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
                if s.len() > STDERR_KEEP {
                    let mut cut = s.len() - STDERR_KEEP / 2;
                    while !s.is_char_boundary(cut) {
                        cut += 1;
                    }
                    s.drain(..cut);
                }
            }
        });
        DaemonProcess {
            child,
            exited: None,
            stdout_lines,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines printed on stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout_lines.lock().expect("stdout lines").clone()
    }

    /// The tail of stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr text").clone()
    }

    /// Its exit status if it has exited (reaps it).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// Waits at most `timeout` for it to exit; `None` if it still runs then.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                // Let the reader threads take the last output.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` (a number, as `kill -N`) to this process by its pid. A no-op
    /// once it has been reaped (its pid may belong to another process by then).
    pub fn signal(&mut self, signal: i32) {
        if !self.is_running() {
            return;
        }
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// SIGKILL by its pid, then reaps it.
    pub fn kill9(&mut self) -> ExitStatus {
        if let Some(status) = self.exit_status() {
            return status;
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("reap the killed daemon");
        self.exited = Some(status);
        status
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Whether process `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

/// A process the test did not spawn itself (a daemon that detached), known by its
/// pid and by a marker its command line must contain (its state dir): SIGKILLed on
/// drop if it still runs with that marker, so a reused pid is never hit.
pub struct DetachedPid {
    pub pid: u32,
    marker: String,
}

impl DetachedPid {
    pub fn new(pid: u32, marker: &str) -> DetachedPid {
        DetachedPid {
            pid,
            marker: marker.to_string(),
        }
    }

    /// Whether it still runs (and is still the process we mean).
    pub fn is_running(&self) -> bool {
        pid_alive(self.pid) && self.is_ours()
    }

    fn is_ours(&self) -> bool {
        std::fs::read(format!("/proc/{}/cmdline", self.pid))
            .map(|c| String::from_utf8_lossy(&c).contains(&self.marker))
            .unwrap_or(false)
    }

    /// Waits at most `timeout` until it has gone.
    pub fn wait_gone(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.is_running() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }
}

impl Drop for DetachedPid {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = Command::new("kill").arg("-9").arg(self.pid.to_string()).status();
        }
    }
}
