use std::collections::HashMap;
use std::path::Path;

use super::*;

/// Upper bound on any wait in these tests.
const PATIENCE: Duration = Duration::from_secs(20);

fn config(on_completed: &str, timeout: Duration, max_concurrent: usize) -> HooksConfig {
    HooksConfig {
        on_added: None,
        on_completed: Some(on_completed.to_string()),
        on_error: None,
        timeout,
        max_concurrent,
    }
}

fn torrent(id: u32) -> HookTorrent {
    HookTorrent {
        id,
        info_hash: "0123456789abcdef0123456789abcdef01234567".into(),
        name: "it's a \"name\" with $HOME in it".into(),
        download_dir: PathBuf::from("/srv/down loads"),
        labels: vec!["linux".into(), "iso".into()],
        error: None,
    }
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

/// Polls `done` every 20 ms until it holds or PATIENCE runs out.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_env(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Whether the process is gone (or a zombie waiting for its parent).
fn process_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_hook_gets_the_torrent_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let tmp = dir.path().join("env.tmp");
    let command = format!("env > {} && mv {} {}", quoted(&tmp), quoted(&tmp), quoted(&out));
    let runner = HookRunner::start(&config(&command, Duration::from_secs(10), 2));
    assert_eq!(runner.fire(HookEvent::Completed, &torrent(7)), HookSubmission::Queued);
    wait_until("the hook's env file", || out.exists());
    let env = read_env(&out);
    let t = torrent(7);
    for (key, want) in [
        ("TR_TORRENT_ID", "7"),
        ("TR_TORRENT_HASH", t.info_hash.as_str()),
        ("TR_TORRENT_NAME", t.name.as_str()),
        ("TR_TORRENT_DIR", "/srv/down loads"),
        ("TR_TORRENT_LABELS", "linux,iso"),
        ("CCBT_EVENT", "completed"),
        ("CCBT_ID", "7"),
        ("CCBT_INFO_HASH", t.info_hash.as_str()),
        ("CCBT_NAME", t.name.as_str()),
        ("CCBT_DOWNLOAD_DIR", "/srv/down loads"),
        ("CCBT_ERROR", ""),
    ] {
        assert_eq!(env.get(key).map(String::as_str), Some(want), "{key}");
    }
    wait_until("the hook to be counted", || runner.stats().succeeded == 1);
    runner.shutdown();
}

#[test]
fn an_error_hook_gets_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("err.txt");
    let hooks = HooksConfig {
        on_error: Some(format!(
            "printf '%s|%s' \"$CCBT_EVENT\" \"$CCBT_ERROR\" > {}",
            quoted(&out)
        )),
        ..HooksConfig::default()
    };
    let runner = HookRunner::start(&hooks);
    let mut t = torrent(1);
    t.error = Some("disk full writing piece 3 to a.iso".into());
    assert_eq!(runner.fire(HookEvent::Added, &t), HookSubmission::NotConfigured);
    assert_eq!(runner.fire(HookEvent::Error, &t), HookSubmission::Queued);
    wait_until("the error hook", || runner.stats().succeeded == 1);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "error|disk full writing piece 3 to a.iso"
    );
}

#[test]
fn no_configured_hook_starts_no_worker() {
    let runner = HookRunner::start(&HooksConfig::default());
    assert!(runner.workers.is_empty());
    assert_eq!(
        runner.fire(HookEvent::Completed, &torrent(1)),
        HookSubmission::NotConfigured
    );
    assert_eq!(runner.stats(), HookStats::default());
}

#[test]
fn a_hanging_hook_is_killed_with_its_children_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (shell_pid, child_pid) = (dir.path().join("sh.pid"), dir.path().join("child.pid"));
    let command = format!(
        "echo $$ > {}; sleep 60 & echo $! > {}; wait",
        quoted(&shell_pid),
        quoted(&child_pid)
    );
    let runner = HookRunner::start(&config(&command, Duration::from_millis(500), 1));
    let fired = Instant::now();
    runner.fire(HookEvent::Completed, &torrent(1));
    wait_until("the hook to time out", || runner.stats().timed_out == 1);
    assert!(fired.elapsed() >= Duration::from_millis(500));
    for pid_file in [&shell_pid, &child_pid] {
        let pid = std::fs::read_to_string(pid_file).unwrap().trim().to_string();
        assert!(!pid.is_empty());
        wait_until("the killed process to go", || process_gone(&pid));
    }
    assert_eq!(runner.stats().succeeded, 0);
    runner.shutdown();
}

#[test]
fn a_failing_hook_is_counted_and_the_next_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let command = format!("test \"$CCBT_ID\" = 2 || exit 3; echo ok > {}", quoted(&out));
    let runner = HookRunner::start(&config(&command, Duration::from_secs(10), 1));
    runner.fire(HookEvent::Completed, &torrent(1));
    wait_until("the failing hook", || runner.stats().failed == 1);
    assert!(!out.exists());
    runner.fire(HookEvent::Completed, &torrent(2));
    wait_until("the next hook", || runner.stats().succeeded == 1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ok\n");
}

#[test]
fn hooks_beyond_the_queue_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, log) = (dir.path().join("gate"), dir.path().join("log"));
    // Each hook says it started, then waits for the gate (bounded by its timeout).
    let command = format!(
        "echo start $CCBT_ID >> {log}; while [ ! -e {gate} ]; do sleep 0.02; done",
        log = quoted(&log),
        gate = quoted(&gate)
    );
    let runner = HookRunner::with_queue_depth(&config(&command, Duration::from_secs(15), 1), 1);
    assert_eq!(runner.fire(HookEvent::Completed, &torrent(1)), HookSubmission::Queued);
    wait_until("the first hook to start", || runner.stats().started == 1);
    assert_eq!(runner.fire(HookEvent::Completed, &torrent(2)), HookSubmission::Queued);
    assert_eq!(runner.fire(HookEvent::Completed, &torrent(3)), HookSubmission::Dropped);
    std::fs::write(&gate, b"").unwrap();
    wait_until("both queued hooks", || runner.stats().succeeded == 2);
    assert_eq!(runner.stats().dropped, 1);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "start 1\nstart 2\n");
}

#[test]
fn no_more_hooks_run_at_once_than_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let command = format!("echo + >> {log}; sleep 0.3; echo - >> {log}", log = quoted(&log));
    let runner = HookRunner::start(&config(&command, Duration::from_secs(10), 2));
    for id in 0..5 {
        assert_eq!(runner.fire(HookEvent::Completed, &torrent(id)), HookSubmission::Queued);
    }
    wait_until("all five hooks", || runner.stats().succeeded == 5);
    let (mut running, mut most) = (0i32, 0i32);
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        running += if line == "+" { 1 } else { -1 };
        most = most.max(running);
    }
    assert_eq!(running, 0);
    assert_eq!(most, 2);
}

#[test]
fn shutdown_drops_the_waiting_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let command = format!("echo $CCBT_ID >> {}; sleep 0.5", quoted(&log));
    let runner = HookRunner::start(&config(&command, Duration::from_secs(10), 1));
    for id in 0..4 {
        runner.fire(HookEvent::Completed, &torrent(id));
    }
    wait_until("the first hook", || runner.stats().started == 1);
    let shared = Arc::clone(&runner.shared);
    runner.shutdown();
    assert_eq!(shared.counters.started.load(Ordering::Relaxed), 1);
    assert_eq!(shared.counters.dropped.load(Ordering::Relaxed), 3);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "0\n");
}
