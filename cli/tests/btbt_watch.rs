//! `btbt watch` against the fake API: in a pipe, and on a pseudo-terminal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_api;

use std::process::Command;

use fake_api::{btbt, fake_api, summary_json, text};

#[test]
fn watch_without_a_terminal_prints_the_list_each_second_until_the_daemon_goes() {
    let canned = serde_json::json!([summary_json(1, "alpha", "downloading")]).to_string();
    let (addr, server) = fake_api(2, move |_| (200, canned.clone()));
    let out = btbt(&["--api", &addr.to_string(), "watch"], &[]);
    let got = server.join().unwrap();
    assert_eq!(got.len(), 2);
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("ID  NAME").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("alpha").count(), 2, "{stdout}");
    // The fake closed its port after two answers: the third refresh finds nobody.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

/// Runs `btbt --api URL watch` on a pseudo-terminal (python3's `pty`, as the
/// project's other tests already use python3), lets it draw, types `q`, and
/// reports what the terminal saw as JSON.
const PTY_DRIVER: &str = r#"
import json, os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--api", sys.argv[2], "watch"])
out = b""
def read_for(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            out += data
read_for(2.5)
os.write(fd, b"q")
read_for(3.0)
_, status = os.waitpid(pid, 0)
print(json.dumps({
    "exit": os.waitstatus_to_exitcode(status),
    "entered_alt_screen": b"\x1b[?1049h" in out,
    "left_alt_screen": out.rfind(b"\x1b[?1049l") > out.rfind(b"\x1b[?1049h"),
    "cursor_shown": b"\x1b[?25h" in out,
    "frames": out.count(b"alpha"),
}))
"#;

#[test]
fn watch_on_a_terminal_redraws_and_q_gives_the_terminal_back() {
    if Command::new("python3").arg("-c").arg("import pty").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let canned = serde_json::json!([summary_json(1, "alpha", "downloading")]).to_string();
    // More answers than ~2.5 s of refreshes need; the thread ends at its deadline.
    let (addr, _server) = fake_api(10, move |_| (200, canned.clone()));
    let out = Command::new("python3")
        .arg("-c")
        .arg(PTY_DRIVER)
        .arg(env!("CARGO_BIN_EXE_btbt"))
        .arg(addr.to_string())
        .env_remove("CCBT_API_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success(), "driver: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["exit"], 0, "{report}");
    assert_eq!(report["entered_alt_screen"], true, "{report}");
    assert_eq!(report["left_alt_screen"], true, "{report}");
    assert_eq!(report["cursor_shown"], true, "{report}");
    assert!(report["frames"].as_u64().unwrap() >= 2, "redrawn each second: {report}");
}
