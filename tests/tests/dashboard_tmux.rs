//! bitonic in a real terminal: tmux runs it against a real daemon, `send-keys`
//! types, `capture-pane` reads the screen. Each test has its own tmux server (its
//! own socket), killed with the test; every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ccbt_tests::bin;
use ccbt_tests::daemon_runs::{payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::start_seeder;

/// Longest wait for something to show on the screen.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(30);

/// A tmux server of this test's own, with one session running one command.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a detached session of `width` x `height`.
    fn start(command: &str, width: u16, height: u16) -> Tmux {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "ccbt-bitonic-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux { socket };
        let (w, h) = (width.to_string(), height.to_string());
        let out = tmux.run(&["new-session", "-d", "-s", "t", "-x", &w, "-y", &h, command]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Keep the pane after its process exits, to read its exit status.
        tmux.run(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux (scripts/install-test-deps.sh installs it)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Keys as tmux names them (`p`, `Tab`, `Enter`, `Right`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn resize(&self, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        self.run(&["resize-window", "-t", "t", "-x", &w, "-y", &h]);
    }

    /// Waits (bounded) until `pred` holds for the screen; returns that screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The pane's process: none while it runs, else its exit status.
    fn exit_status(&self) -> Option<i32> {
        let out = self.run(&[
            "display-message",
            "-p",
            "-t",
            "t",
            "#{pane_dead} #{pane_dead_status} #{pane_pid}",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let fields: Vec<&str> = text.split(' ').collect();
        match fields.as_slice() {
            ["1", status, ..] => Some(status.parse().unwrap_or(-1)),
            // Under load the tmux server may take seconds to reap its pane's process
            // (seen: a zombie for over 10 s); the kernel already has its status.
            [_, _, pid] => zombie_exit_status(pid),
            _ => None,
        }
    }

    /// The pane process's threads, each with the kernel function it waits in (for
    /// a failure message).
    fn pane_threads(&self) -> String {
        let out = self.run(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return format!("(no /proc/{pid}/task)");
        };
        tasks
            .flatten()
            .map(|t| {
                let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default();
                format!(
                    "{} {} {}",
                    read("comm").trim(),
                    read("wchan").trim(),
                    read("stat").trim()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `q`, then waits (bounded) for bitonic to exit 0 with the terminal given back.
    fn quit(&self) {
        self.keys(&["q"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.exit_status() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "bitonic still runs after q:\n{}\nits threads:\n{}",
                self.screen(),
                self.pane_threads()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let screen = self.screen();
        assert_eq!(status, 0, "bitonic's exit status; the screen:\n{screen}");
        assert!(!screen.contains("panicked"), "{screen}");
        // The alternate screen is gone: the terminal shows what it showed before.
        assert!(
            !screen.contains("? help  q quit"),
            "the terminal was not restored:\n{screen}"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only this test's server (its own socket), with the bitonic it runs.
        let _ = self.run(&["kill-server"]);
    }
}

/// The exit status of a process that has exited but is not yet reaped, from
/// `/proc/PID/stat` (state `Z`; the last field is the wait status, Linux 3.5+).
fn zombie_exit_status(pid: &str) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields after it start past the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if fields.first() != Some(&"Z") {
        return None;
    }
    let wait_status: i32 = fields.last()?.parse().ok()?;
    Some(if wait_status & 0x7f == 0 {
        (wait_status >> 8) & 0xff
    } else {
        128 + (wait_status & 0x7f)
    })
}

fn bitonic_command(daemon: &DaemonUnderTest) -> String {
    format!(
        "{} --api {} --state-dir {}",
        bin("bitonic").display(),
        daemon.api_url(),
        daemon.opts.state_dir.display()
    )
}

/// The percentage on the screen line that names `name`.
fn percent_on_row(screen: &str, name: &str) -> Option<u32> {
    let line = screen.lines().find(|l| l.contains(name))?;
    line.split_whitespace()
        .filter_map(|w| w.strip_suffix('%'))
        .find_map(|n| n.parse().ok())
}

fn tmux_missing() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .map_or(true, |o| !o.status.success())
}

#[test]
fn bitonic_follows_a_download_pauses_it_and_lists_each_shard() {
    assert!(!tmux_missing(), "tmux is not installed (scripts/install-test-deps.sh)");
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let (torrent, hash) = payload_torrent(&seed, "movie.bin", 12 << 20, 7, 65536, &[]);
    let (_seeder, peer) = start_seeder(&[&torrent], &seed, &[]);
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").shards(2));
    // Slow enough that progress is seen moving: 12 MiB at 512 KiB/s is 24 s.
    daemon.btbt(&["limits", "--down", "512K"]).ok();
    let id = daemon.add_torrent(&torrent, &[("peer", peer.as_str())])["id"].to_string();

    let tmux = Tmux::start(&bitonic_command(&daemon), 120, 30);
    let first = tmux.wait_for("the torrent's row with some progress", |s| {
        percent_on_row(s, "movie.bin").is_some_and(|p| p > 0 && p < 100)
    });
    let before = percent_on_row(&first, "movie.bin").unwrap();
    tmux.wait_for("the progress to move", |s| {
        percent_on_row(s, "movie.bin").is_some_and(|p| p > before)
    });
    assert!(first.contains("downloading"), "{first}");

    tmux.keys(&["p"]);
    daemon.wait_torrent(&id, "paused by bitonic's p", Duration::from_secs(15), |t| {
        t["state"] == "paused"
    });
    tmux.wait_for("the row to say paused", |s| {
        s.lines().any(|l| l.contains("movie.bin") && l.contains("paused"))
    });

    tmux.keys(&["Tab"]);
    let session = tmux.wait_for("a row per shard", |s| s.contains("shard 0") && s.contains("shard 1"));
    assert!(session.contains("Core busy"), "{session}");

    tmux.keys(&["BTab", "r"]);
    daemon.wait_torrent(&id, "resumed by bitonic's r", Duration::from_secs(15), |t| {
        t["state"] != "paused"
    });
    assert_eq!(daemon.torrent(&id)["info_hash"], hash.as_str());
    tmux.quit();
    daemon.terminate();
}

#[test]
fn bitonic_at_80x24_opens_a_torrent_and_redraws_on_resize() {
    assert!(!tmux_missing(), "tmux is not installed (scripts/install-test-deps.sh)");
    let tmp = tempfile::tempdir().unwrap();
    let daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d"));
    // Its data already in the download dir: it checks, then seeds.
    let data = &daemon.opts.download_dir;
    std::fs::create_dir_all(data).unwrap();
    let (torrent, _) = payload_torrent(data, "album.bin", 1 << 20, 11, 16384, &[]);
    daemon.add_torrent(&torrent, &[]);

    let tmux = Tmux::start(&bitonic_command(&daemon), 80, 24);
    let screen = tmux.wait_for("the seeding torrent", |s| {
        s.lines()
            .any(|l| l.contains("album.bin") && l.contains("seeding") && l.contains("100%"))
    });
    assert!(screen.lines().count() <= 24, "{screen}");
    assert!(screen.lines().all(|l| l.chars().count() <= 80), "{screen}");
    assert!(screen.contains("? help  q quit"), "the help line:\n{screen}");

    tmux.keys(&["Enter"]);
    tmux.wait_for("the files pane", |s| {
        s.contains("Files") && s.contains("album.bin") && s.contains("normal")
    });
    tmux.keys(&["Right", "Right", "Right"]);
    tmux.wait_for("the piece map", |s| s.contains("64 of 64 pieces verified"));

    tmux.resize(120, 30);
    tmux.wait_for("a redraw at 120 columns", |s| {
        s.lines().any(|l| l.trim_end().chars().count() > 80)
    });
    tmux.keys(&["Escape"]);
    tmux.keys(&["?"]);
    tmux.wait_for("the help", |s| s.contains("sort by the next column"));
    tmux.keys(&["Escape"]);
    tmux.quit();
}

#[test]
fn bitonic_shows_the_url_while_the_daemon_is_down_and_reconnects() {
    assert!(!tmux_missing(), "tmux is not installed (scripts/install-test-deps.sh)");
    let tmp = tempfile::tempdir().unwrap();
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d"));
    let data = &daemon.opts.download_dir;
    std::fs::create_dir_all(data).unwrap();
    let (torrent, _) = payload_torrent(data, "iso.bin", 256 << 10, 3, 16384, &[]);
    daemon.add_torrent(&torrent, &[]);
    let url = daemon.api_url();

    let tmux = Tmux::start(&bitonic_command(&daemon), 100, 30);
    tmux.wait_for("the torrent", |s| s.contains("iso.bin"));
    daemon.terminate();
    let screen = tmux.wait_for("the daemon-down screen", |s| s.contains("No daemon answers"));
    assert!(screen.contains(&format!("at {url}")), "the URL:\n{screen}");
    assert!(screen.contains("retrying"), "{screen}");
    assert_eq!(tmux.exit_status(), None, "bitonic keeps running:\n{screen}");

    daemon.restart();
    tmux.wait_for("the torrent again after the restart", |s| {
        s.contains("iso.bin") && !s.contains("No daemon answers")
    });
    tmux.quit();
    daemon.terminate();
}

/// bitonic on a pipe says it needs a terminal and exits non-zero.
#[test]
fn bitonic_without_a_terminal_says_so() {
    let out = Command::new(bin("bitonic"))
        .args(["--api", "127.0.0.1:9"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
}

/// The Alerts view against a real daemon: an alert of a runtime rule fires and is
/// listed as active; the test alert (fired and resolved at once) is listed among
/// the recent ones.
#[test]
fn bitonic_lists_the_daemons_alerts() {
    assert!(!tmux_missing(), "tmux is not installed (scripts/install-test-deps.sh)");
    let tmp = tempfile::tempdir().unwrap();
    let daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d"));
    daemon
        .btbt(&[
            "alerts",
            "add",
            "--name",
            "empty_session",
            "--condition",
            "session.torrents == 0",
            "--severity",
            "critical",
        ])
        .ok();
    daemon.btbt(&["alerts", "test"]).ok();

    let tmux = Tmux::start(&bitonic_command(&daemon), 120, 30);
    tmux.wait_for("the torrents view", |s| s.contains("0 of 0 torrents"));
    tmux.keys(&["Tab"]);
    tmux.wait_for("the session view", |s| s.contains("shard 0"));
    tmux.keys(&["Tab"]);
    let screen = tmux.wait_for("the fired alert in the alerts view", |s| {
        s.lines()
            .any(|l| l.contains("FIRING") && l.contains("critical") && l.contains("empty_session"))
    });
    assert!(
        screen
            .lines()
            .any(|l| l.contains("resolved") && l.contains("a test alert (btbt alerts test)")),
        "the test alert among the recent ones:\n{screen}"
    );
    tmux.quit();
}
