//! The daemon's configuration end to end: sources and their precedence on a real
//! daemon, a bad file refused at start with one line naming file, line and key,
//! hot reload of a download limit while a transfer runs (and an invalid edit
//! refused while the old limit keeps working), alert rules and the log level
//! following an edit, and `btbt config` with and without a daemon.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use ccbt_tests::daemon_runs::{
    num, payload_torrent, run_to_end, wait_until, DaemonOpts, DaemonUnderTest, BTBT_TIMEOUT,
};
use ccbt_tests::start_seeder;
use serde_json::Value;

/// One key of `GET /api/v1/config`: (value, source).
fn config_entry(daemon: &DaemonUnderTest, key: &str) -> (Value, String) {
    let view = daemon.get("/api/v1/config").ok();
    let entry = view["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("{key} not in {view}"))
        .clone();
    (entry["value"].clone(), entry["source"].as_str().unwrap().to_string())
}

fn btbt_here(dir: &Path, args: &[&str]) -> ccbt_tests::daemon_runs::BtbtRun {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let env = vec![
        ("HOME".to_string(), home.display().to_string()),
        ("XDG_CONFIG_HOME".to_string(), home.join("config").display().to_string()),
        ("XDG_DATA_HOME".to_string(), home.join("data").display().to_string()),
    ];
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run_to_end(&ccbt_tests::bin("btbt"), &args, &env, dir, BTBT_TIMEOUT)
}

#[test]
fn file_env_and_flag_layer_in_order_on_a_real_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "d")
        .config("[session]\nshards = 3\n\n[queue]\nmax_active_checks = 3\n\n[limits]\nupload = \"3M\"\n")
        .env("CCBT_SESSION_SHARDS", "2")
        .env("CCBT_QUEUE_MAX_ACTIVE_CHECKS", "4")
        .env("CCBT_LIMITS_DOWNLAOD", "1M");
    // The helper passes --shards 1: the flag beats the variable, which beats the file.
    let mut daemon = DaemonUnderTest::start(opts);
    let file = tmp.path().join("d-config.toml").display().to_string();
    assert_eq!(
        config_entry(&daemon, "session.shards"),
        (1.into(), "flag:--shards".into())
    );
    let stats = daemon.get("/api/v1/stats").ok();
    assert_eq!(stats["shards"].as_array().unwrap().len(), 1, "{stats}");
    assert_eq!(
        config_entry(&daemon, "queue.max_active_checks"),
        (4.into(), "env:CCBT_QUEUE_MAX_ACTIVE_CHECKS".into())
    );
    assert_eq!(
        config_entry(&daemon, "limits.upload"),
        ("3M".into(), format!("file:{file}:8"))
    );
    assert_eq!(
        config_entry(&daemon, "limits.download"),
        ("unlimited".into(), "default".into())
    );
    let session = daemon.get("/api/v1/session").ok();
    assert_eq!(num(&session, "max_active_checks"), 4, "{session}");
    assert_eq!(num(&session, "upload_limit"), 3 << 20, "{session}");
    // A misspelt variable sets nothing, and the daemon's log says what was meant.
    assert!(
        daemon
            .process
            .stderr()
            .contains("CCBT_LIMITS_DOWNLAOD sets no config key; did you mean CCBT_LIMITS_DOWNLOAD?"),
        "{}",
        daemon.process.stderr()
    );
    daemon.terminate();
}

#[test]
fn a_bad_config_stops_the_start_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[session]\nshards = \"two\"\n",
            "{f}:2: `session.shards` must be an integer, not string",
        ),
        (
            "[session]\nshards = 0\n",
            "{f}:2: `session.shards` = 0 is out of range: 1 to 256",
        ),
        (
            "[queue]\nmax_active_downlods = 3\n",
            "{f}:2: unknown key `queue.max_active_downlods`; did you mean `queue.max_active_downloads`?",
        ),
        (
            "\n[limits]\ndownload = \"10Q\"\n",
            "{f}:3: `limits.download`: '10Q' is not a rate (examples: 65536, 512K, 10M, 1.5G)",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let file = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let f = file.display().to_string();
        let run = btbt_here(
            tmp.path(),
            &[
                "daemon",
                "start",
                "--foreground",
                "--config",
                &f,
                "--state-dir",
                &tmp.path().join("s").display().to_string(),
            ],
        );
        let stderr = run.expect_code(2);
        assert_eq!(
            stderr.trim(),
            format!("btbt: error: {}", want.replace("{f}", &f)),
            "{text}"
        );
        // `check` says the same without a daemon.
        let check = btbt_here(tmp.path(), &["config", "check", &f]);
        assert_eq!(
            check.expect_code(2).trim(),
            format!("btbt: error: {}", want.replace("{f}", &f))
        );
    }
    // A bad variable is named, not a file.
    let good = tmp.path().join("good.toml");
    std::fs::write(&good, "[queue]\nmax_active_checks = 1\n").unwrap();
    let home = tmp.path().join("home");
    let run = run_to_end(
        &ccbt_tests::bin("btbt"),
        &[
            "daemon",
            "start",
            "--foreground",
            "--config",
            &good.display().to_string(),
        ]
        .map(String::from),
        &[
            ("HOME".into(), home.display().to_string()),
            ("XDG_DATA_HOME".into(), home.join("data").display().to_string()),
            ("CCBT_LIMITS_DOWNLOAD".into(), "fast".into()),
        ],
        tmp.path(),
        BTBT_TIMEOUT,
    );
    assert_eq!(
        run.expect_code(2).trim(),
        "btbt: error: environment variable CCBT_LIMITS_DOWNLOAD (`limits.download`): \
         `limits.download`: 'fast' is not a rate (examples: 65536, 512K, 10M, 1.5G)"
    );
    let check = btbt_here(tmp.path(), &["config", "check", &good.display().to_string()]);
    assert_eq!(check.ok().trim(), format!("{}: ok", good.display()));
}

/// Payload bytes the daemon downloaded over `window`, per second.
fn average_rate(daemon: &DaemonUnderTest, window: Duration) -> f64 {
    let before = num(&daemon.get("/api/v1/stats").ok(), "session_downloaded");
    let started = Instant::now();
    std::thread::sleep(window);
    let after = num(&daemon.get("/api/v1/stats").ok(), "session_downloaded");
    (after - before) as f64 / started.elapsed().as_secs_f64()
}

#[test]
fn a_download_limit_edited_in_the_file_applies_while_a_transfer_runs() {
    const LEN: u64 = 32 << 20;
    const SLOW: u64 = 256 * 1024;
    const FAST: u64 = 1 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let (torrent, _) = payload_torrent(&seed, "big.bin", LEN, 71, 65536, &[]);
    let (_seeder, peer) = start_seeder(&[&torrent], &seed, &[]);
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").config("[limits]\ndownload = \"256K\"\n"));
    let file = tmp.path().join("d-config.toml");
    let id = daemon.add_torrent(&torrent, &[("peer", peer.as_str())])["id"].to_string();
    daemon.wait_torrent(&id, "downloading", Duration::from_secs(30), |t| {
        num(t, "downloaded") > 0
    });
    let slow = average_rate(&daemon, Duration::from_secs(4));

    // The edit (and a restart-only key beside it) is picked up without a restart.
    std::fs::write(&file, "[limits]\ndownload = \"1M\"\n\n[pex]\nenabled = false\n").unwrap();
    let edited = Instant::now();
    wait_until("the new limit in the session", Duration::from_secs(10), || {
        (num(&daemon.get("/api/v1/session").ok(), "download_limit") == FAST).then_some(())
    });
    let applied_after = edited.elapsed();
    let fast = average_rate(&daemon, Duration::from_secs(4));
    assert!(
        slow < 1.5 * SLOW as f64,
        "{:.0} KiB/s under a 256 KiB/s limit",
        slow / 1024.0
    );
    assert!(
        fast > 2.0 * slow,
        "after raising the limit to 1 MiB/s: {:.0} KiB/s, before {:.0} KiB/s",
        fast / 1024.0,
        slow / 1024.0
    );
    let t = daemon.torrent(&id);
    assert_ne!(
        t["state"], "seeding",
        "the transfer ran through the whole measurement: {t}"
    );
    let view = daemon.get("/api/v1/config").ok();
    assert_eq!(view["needs_restart"], serde_json::json!(["pex.enabled"]), "{view}");

    // An edit that does not read is refused; the running limit stays.
    std::fs::write(&file, "[limits]\ndownload = \"fast\"\n").unwrap();
    wait_until("the refusal in the log", Duration::from_secs(10), || {
        daemon.process.stderr().contains("edit refused").then_some(())
    });
    let stderr = daemon.process.stderr();
    assert!(
        stderr.contains(&format!(
            "{}:2: `limits.download`: 'fast' is not a rate",
            file.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("needs a restart: pex.enabled"), "{stderr}");
    assert_eq!(num(&daemon.get("/api/v1/session").ok(), "download_limit"), FAST);
    assert_eq!(config_entry(&daemon, "limits.download").0, "1M");
    let still = average_rate(&daemon, Duration::from_secs(3));
    assert!(
        still > 2.0 * slow && still < 1.6 * FAST as f64,
        "after the refused edit: {:.0} KiB/s (limit 1 MiB/s)",
        still / 1024.0
    );
    eprintln!(
        "reload applied {applied_after:?} after the edit; {:.0} → {:.0} → {:.0} KiB/s",
        slow / 1024.0,
        fast / 1024.0,
        still / 1024.0
    );
    daemon.terminate();
}

#[test]
fn btbt_config_against_a_daemon_and_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    let user_file = "[queue]\nmax_active_downloads = 5\n";
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").config(user_file));
    assert_eq!(
        daemon
            .btbt(&["config", "get", "queue.max_active_downloads"])
            .ok()
            .trim(),
        "5"
    );
    let run = daemon.btbt(&["config", "get", "limits.download"]);
    assert_eq!(run.ok().trim(), "unlimited");
    assert!(run.stderr.contains("the running daemon's config"), "{}", run.stderr);

    // A live key changes at once, is kept in the state dir, not in the user's file.
    let set = daemon.btbt(&["config", "set", "limits.download", "2M"]);
    assert_eq!(set.ok().trim(), "limits.download = 2M (runtime)");
    assert_eq!(num(&daemon.get("/api/v1/session").ok(), "download_limit"), 2 << 20);
    assert_eq!(daemon.btbt(&["config", "get", "limits.download"]).ok().trim(), "2M");
    let kept = std::fs::read_to_string(daemon.opts.state_dir.join("config-overrides.toml")).unwrap();
    assert!(kept.contains("limits.download = \"2M\""), "{kept}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("d-config.toml")).unwrap(),
        user_file
    );
    let shown = daemon.btbt(&["config", "show", "--sources"]);
    assert!(
        shown
            .ok()
            .lines()
            .any(|l| l.starts_with("limits.download") && l.ends_with("# runtime")),
        "{}",
        shown.stdout
    );

    // A restart key, a typo and a bad value are refused with their reasons.
    let e = daemon.btbt(&["config", "set", "network.listen", "127.0.0.1:1"]);
    assert!(
        e.expect_code(2).contains("`network.listen` needs a restart"),
        "{}",
        e.stderr
    );
    let e = daemon.btbt(&["config", "set", "limits.downlaod", "1M"]);
    assert!(
        e.expect_code(2).contains("did you mean `limits.download`?"),
        "{}",
        e.stderr
    );
    let e = daemon.btbt(&["config", "set", "queue.max_active_seeds", "-3"]);
    assert!(e.expect_code(2).contains("out of range"), "{}", e.stderr);
    assert_eq!(daemon.btbt(&["config", "get", "limits.download"]).ok().trim(), "2M");

    // The override survives a restart, and `unset` drops it.
    daemon.terminate();
    daemon.restart();
    assert_eq!(num(&daemon.get("/api/v1/session").ok(), "download_limit"), 2 << 20);
    daemon.btbt(&["config", "unset", "limits.download"]).ok();
    assert!(daemon.get("/api/v1/session").ok()["download_limit"].is_null());
    let diff = daemon.btbt(&[
        "config",
        "diff",
        &tmp.path().join("d-config.toml").display().to_string(),
    ]);
    // The file and the effective config differ only where flags set things.
    assert_eq!(diff.code, 1, "{}", diff.stdout);
    assert!(!diff.stdout.contains("max_active_downloads"), "{}", diff.stdout);
    daemon.terminate();

    // Without a daemon: the files, said so.
    std::fs::write(tmp.path().join("ccbt.toml"), "[limits]\nupload = \"1M\"\n").unwrap();
    let run = btbt_here(tmp.path(), &["--api", "127.0.0.1:9", "config", "get", "limits.upload"]);
    assert_eq!(run.ok().trim(), "1M");
    assert!(run.stderr.contains("no daemon at"), "{}", run.stderr);
    let schema: Value = serde_json::from_str(btbt_here(tmp.path(), &["config", "schema"]).ok()).unwrap();
    assert_eq!(
        schema["properties"]["limits"]["properties"]["download"]["x-env"],
        "CCBT_LIMITS_DOWNLOAD"
    );
    let described = btbt_here(tmp.path(), &["config", "describe"]);
    assert!(described.ok().contains("CCBT_QUEUE_MAX_ACTIVE_SEEDS"));
    let other = tmp.path().join("other.toml");
    std::fs::write(&other, "[limits]\nupload = \"2M\"\n").unwrap();
    let diff = btbt_here(
        tmp.path(),
        &[
            "config",
            "diff",
            &tmp.path().join("ccbt.toml").display().to_string(),
            &other.display().to_string(),
        ],
    );
    assert_eq!(diff.code, 1);
    assert!(
        diff.stdout.contains("-limits.upload = 1M\n+limits.upload = 2M"),
        "{}",
        diff.stdout
    );
}

/// The rules of `GET /api/v1/alerts/rules`, by name.
fn alert_rule(daemon: &DaemonUnderTest, name: &str) -> Option<Value> {
    let rules = daemon.get("/api/v1/alerts/rules").ok();
    rules.as_array().unwrap().iter().find(|r| r["name"] == name).cloned()
}

/// Whether the daemon logged "config: applied" for `key`.
fn logged_applied(daemon: &DaemonUnderTest, key: &str) -> bool {
    daemon
        .process
        .stderr()
        .lines()
        .any(|l| l.contains("config: applied") && l.contains(key))
}

#[test]
fn alerts_and_the_log_level_follow_a_config_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("d-config.toml");
    let daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").config("[alerts]\nstall_after = \"10m\"\n"));
    let stalled = alert_rule(&daemon, "torrent_stalled").expect("the built-in stall rule");
    assert_eq!(stalled["for_secs"], 600, "{stalled}");

    // An edited threshold and a new [[alerts.rules]] table are in force within 2 s.
    std::fs::write(
        &file,
        "[alerts]\nstall_after = \"2m\"\n\n[[alerts.rules]]\nname = \"slow\"\n\
         condition = \"session.download_rate < 1K\"\nfor = \"30s\"\nseverity = \"info\"\n",
    )
    .unwrap();
    let slow = wait_until("the edited alert rules", Duration::from_secs(5), || {
        let stalled = alert_rule(&daemon, "torrent_stalled")?;
        (stalled["for_secs"] == 120).then_some(())?;
        alert_rule(&daemon, "slow")
    });
    assert_eq!(slow["source"], "config", "{slow}");
    assert_eq!(slow["for_secs"], 30, "{slow}");
    // `stall_after = "off"` turns the built-in rule off.
    daemon.btbt(&["config", "set", "alerts.stall_after", "off"]).ok();
    assert_eq!(daemon.btbt(&["config", "get", "alerts.stall_after"]).ok().trim(), "off");
    // A rule's key is one per table: not a single value to set.
    let e = daemon.btbt(&["config", "set", "alerts.rules.name", "x"]);
    assert!(e.expect_code(2).contains("[[alerts.rules]]"), "{}", e.stderr);
    assert!(alert_rule(&daemon, "torrent_stalled").is_none());

    // The log level: info lines stop at `error` and come back when it is unset.
    let rust_log = std::env::var("RUST_LOG").ok().filter(|s| !s.trim().is_empty());
    daemon.btbt(&["config", "set", "logging.level", "error"]).ok();
    daemon.btbt(&["config", "set", "limits.upload", "1M"]).ok();
    if let Some(env) = rust_log {
        // RUST_LOG wins over the config, and the daemon says so.
        assert!(
            daemon.process.stderr().contains("RUST_LOG is set and wins"),
            "RUST_LOG={env}; {}",
            daemon.process.stderr()
        );
        return;
    }
    daemon.btbt(&["config", "set", "limits.download", "1M"]).ok();
    assert!(
        !logged_applied(&daemon, "limits.download"),
        "{}",
        daemon.process.stderr()
    );
    daemon.btbt(&["config", "unset", "logging.level"]).ok();
    daemon.btbt(&["config", "set", "limits.download", "2M"]).ok();
    wait_until("the info line back", Duration::from_secs(5), || {
        logged_applied(&daemon, "limits.download").then_some(())
    });
}
