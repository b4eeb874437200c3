//! User commands run when a torrent is added, completes or fails, with the
//! torrent in the environment (the names of Transmission's script-torrent-done,
//! plus `CCBT_*`).
//!
//! Hooks run on worker threads of their own, never on the caller's: at most
//! `max_concurrent` at once, at most [`HOOK_QUEUE_DEPTH`] waiting (beyond that a
//! hook is dropped, logged and counted). Each runs `sh -c COMMAND` in a process
//! group of its own; one still running at its timeout is killed with its whole
//! group. A hook that fails or hangs is logged and changes nothing else.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::daemon_config::HooksConfig;

/// Hooks waiting for a free worker, at most.
pub const HOOK_QUEUE_DEPTH: usize = 256;
/// How often a worker looks whether its hook has ended.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// What happened to a torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookEvent {
    Added,
    Completed,
    Error,
}

impl HookEvent {
    /// The value of `CCBT_EVENT`.
    pub fn as_str(&self) -> &'static str {
        match self {
            HookEvent::Added => "added",
            HookEvent::Completed => "completed",
            HookEvent::Error => "error",
        }
    }
}

/// The torrent a hook is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookTorrent {
    pub id: u32,
    /// 40 hex digits.
    pub info_hash: String,
    pub name: String,
    pub download_dir: PathBuf,
    pub labels: Vec<String>,
    /// For [`HookEvent::Error`]: what went wrong.
    pub error: Option<String>,
}

impl HookTorrent {
    /// The environment a hook gets, besides the daemon's own.
    pub fn environment(&self, event: HookEvent) -> Vec<(&'static str, String)> {
        let dir = self.download_dir.to_string_lossy().into_owned();
        vec![
            ("TR_APP_VERSION", env!("CARGO_PKG_VERSION").to_string()),
            ("TR_TORRENT_ID", self.id.to_string()),
            ("TR_TORRENT_HASH", self.info_hash.clone()),
            ("TR_TORRENT_NAME", self.name.clone()),
            ("TR_TORRENT_DIR", dir.clone()),
            ("TR_TORRENT_LABELS", self.labels.join(",")),
            ("CCBT_EVENT", event.as_str().to_string()),
            ("CCBT_ID", self.id.to_string()),
            ("CCBT_INFO_HASH", self.info_hash.clone()),
            ("CCBT_NAME", self.name.clone()),
            ("CCBT_DOWNLOAD_DIR", dir),
            ("CCBT_ERROR", self.error.clone().unwrap_or_default()),
        ]
    }
}

/// What [`HookRunner::fire`] did with a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookSubmission {
    /// It runs when a worker is free.
    Queued,
    /// No command is configured for this event.
    NotConfigured,
    /// The queue was full (or the runner is stopping): it will not run.
    Dropped,
}

/// Counts since the runner started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookStats {
    pub started: u64,
    pub succeeded: u64,
    /// Exited non-zero, died of a signal, or could not be started.
    pub failed: u64,
    /// Killed at the timeout.
    pub timed_out: u64,
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    started: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
    dropped: AtomicU64,
}

struct Shared {
    stopping: AtomicBool,
    counters: Counters,
    timeout: Duration,
}

struct Job {
    /// `CCBT_EVENT`, for logs.
    event: &'static str,
    command: String,
    /// The torrent's (or alert's) name and info-hash, for logs.
    name: String,
    info_hash: String,
    env: Vec<(&'static str, String)>,
}

/// Runs the configured hooks; dropping it stops taking hooks and lets the running
/// ones end (each within its timeout) without waiting for them.
pub struct HookRunner {
    commands: [Option<String>; 3],
    /// Workers start with the first hook to run (at once when a hook is configured).
    max_concurrent: usize,
    queue_depth: usize,
    sender: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl HookRunner {
    /// Starts the workers (none when no hook is configured).
    pub fn start(config: &HooksConfig) -> HookRunner {
        HookRunner::with_queue_depth(config, HOOK_QUEUE_DEPTH)
    }

    /// As [`HookRunner::start`], with at most `queue_depth` hooks waiting.
    pub fn with_queue_depth(config: &HooksConfig, queue_depth: usize) -> HookRunner {
        let commands = [
            config.on_added.clone(),
            config.on_completed.clone(),
            config.on_error.clone(),
        ];
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            counters: Counters::default(),
            timeout: config.timeout,
        });
        let mut runner = HookRunner {
            commands,
            max_concurrent: config.max_concurrent.max(1),
            queue_depth,
            sender: None,
            workers: Vec::new(),
            shared,
        };
        if runner.commands.iter().any(Option::is_some) {
            runner.start_workers();
        }
        runner
    }

    fn start_workers(&mut self) {
        let (sender, receiver) = crossbeam_channel::bounded(self.queue_depth);
        for n in 0..self.max_concurrent {
            let receiver: Receiver<Job> = receiver.clone();
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name(format!("ccbt-hook-{n}"))
                .spawn(move || work(&receiver, &shared));
            match spawned {
                Ok(handle) => self.workers.push(handle),
                Err(e) => tracing::error!(error = %e, "hooks: cannot start a worker thread"),
            }
        }
        if !self.workers.is_empty() {
            self.sender = Some(sender);
        }
    }

    fn command(&self, event: HookEvent) -> Option<&String> {
        let i = match event {
            HookEvent::Added => 0,
            HookEvent::Completed => 1,
            HookEvent::Error => 2,
        };
        self.commands[i].as_ref()
    }

    /// Queues the hook for `event`, if one is configured; never blocks.
    pub fn fire(&self, event: HookEvent, torrent: &HookTorrent) -> HookSubmission {
        let Some(command) = self.command(event) else {
            return HookSubmission::NotConfigured;
        };
        let job = Job {
            event: event.as_str(),
            command: command.clone(),
            name: torrent.name.clone(),
            info_hash: torrent.info_hash.clone(),
            env: torrent.environment(event),
        };
        self.submit(job)
    }

    /// Runs `command` as a hook (same workers, timeout and bounds) with `env` added,
    /// for what is not a torrent event (alerts); never blocks.
    pub fn fire_command(
        &mut self,
        event: &'static str,
        command: &str,
        name: &str,
        env: Vec<(&'static str, String)>,
    ) -> HookSubmission {
        if self.workers.is_empty() && !self.shared.stopping.load(Ordering::Relaxed) {
            self.start_workers();
        }
        self.submit(Job {
            event,
            command: command.to_string(),
            name: name.to_string(),
            info_hash: String::new(),
            env,
        })
    }

    fn submit(&self, job: Job) -> HookSubmission {
        let sent = match &self.sender {
            Some(sender) if !self.shared.stopping.load(Ordering::Relaxed) => sender.try_send(job),
            _ => Err(TrySendError::Disconnected(job)),
        };
        match sent {
            Ok(()) => HookSubmission::Queued,
            Err(e) => {
                let job = e.into_inner();
                self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    event = job.event,
                    torrent = %job.name,
                    info_hash = %job.info_hash,
                    "hook dropped: too many hooks waiting"
                );
                HookSubmission::Dropped
            }
        }
    }

    pub fn stats(&self) -> HookStats {
        let c = &self.shared.counters;
        HookStats {
            started: c.started.load(Ordering::Relaxed),
            succeeded: c.succeeded.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }

    /// Stops taking hooks, drops the waiting ones (counted) and waits for the
    /// running ones, each of which ends by its timeout.
    pub fn shutdown(mut self) {
        self.stop();
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                tracing::error!("hooks: a worker thread panicked");
            }
        }
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        self.sender = None;
    }
}

impl Drop for HookRunner {
    fn drop(&mut self) {
        self.stop();
    }
}

fn work(receiver: &Receiver<Job>, shared: &Shared) {
    // Ends when the runner is gone and the queue is empty.
    for job in receiver {
        if shared.stopping.load(Ordering::Relaxed) {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(event = job.event, torrent = %job.name, "hook dropped: shutting down");
            continue;
        }
        shared.counters.started.fetch_add(1, Ordering::Relaxed);
        let outcome = run(&job, shared.timeout);
        let counter = match &outcome {
            Outcome::Exited(status) if status.success() => &shared.counters.succeeded,
            Outcome::TimedOut => &shared.counters.timed_out,
            Outcome::Exited(_) | Outcome::NotStarted(_) => &shared.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let (event, name, hash) = (job.event, &job.name, &job.info_hash);
        match outcome {
            Outcome::Exited(status) if status.success() => {
                tracing::debug!(event, torrent = %name, info_hash = %hash, "hook done");
            }
            Outcome::Exited(status) => {
                tracing::warn!(event, torrent = %name, info_hash = %hash, command = %job.command, %status, "hook failed");
            }
            Outcome::TimedOut => tracing::warn!(
                event, torrent = %name, info_hash = %hash, command = %job.command,
                timeout_secs = shared.timeout.as_secs_f64(), "hook killed at its timeout"
            ),
            Outcome::NotStarted(e) => {
                tracing::warn!(event, torrent = %name, command = %job.command, error = %e, "hook could not start");
            }
        }
    }
}

enum Outcome {
    Exited(ExitStatus),
    TimedOut,
    NotStarted(std::io::Error),
}

fn run(job: &Job, timeout: Duration) -> Outcome {
    let mut child = match Command::new("sh")
        .arg("-c")
        .arg(&job.command)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Its own process group, so the timeout kills what it started too.
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return Outcome::NotStarted(e),
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Outcome::Exited(status),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "hook: cannot poll its process"),
        }
        if Instant::now() >= deadline {
            let group = rustix::process::Pid::from_child(&child);
            if let Err(e) = rustix::process::kill_process_group(group, rustix::process::Signal::KILL) {
                tracing::warn!(error = %e, "hook: cannot kill its process group");
            }
            // Reap it; SIGKILL cannot be ignored, so this returns at once.
            if let Err(e) = child.wait() {
                tracing::warn!(error = %e, "hook: cannot reap its process");
            }
            return Outcome::TimedOut;
        }
        std::thread::sleep(EXIT_POLL);
    }
}

#[cfg(test)]
mod tests;
