use std::time::{Duration, Instant};

use super::*;
use crate::alerts::figures::{Figures, TorrentFigures};
use crate::alerts::rules::{DISK_ERROR, DISK_FREE_LOW, HASH_FAILURES, TORRENT_STALLED};

const SEC: Duration = Duration::from_secs(1);

fn quiet_config() -> AlertsConfig {
    AlertsConfig {
        stall_after: Some(Duration::from_secs(10)),
        tracker_fail_after: None,
        disk_free_min: None,
        hash_failures_per_min: None,
        disk_errors: false,
        ..AlertsConfig::default()
    }
}

fn downloading(id: u32, rate: u64) -> TorrentFigures<'static> {
    TorrentFigures {
        id,
        name: "payload",
        download_rate: rate,
        left: 1000,
        downloading: true,
        ..TorrentFigures::default()
    }
}

fn run(engine: &mut AlertEngine, at: Instant, torrents: Vec<TorrentFigures<'static>>) -> Vec<AlertTransition> {
    let mut f = Figures::from_torrents(torrents, None);
    engine.evaluate(at, 1_700_000_000, &mut f)
}

#[test]
fn stall_fires_after_its_duration_and_resolves_when_data_flows() {
    let mut e = AlertEngine::new(&quiet_config(), Vec::new());
    let t0 = Instant::now();
    for s in 0..10 {
        assert!(
            run(&mut e, t0 + SEC * s, vec![downloading(7, 0)]).is_empty(),
            "second {s}"
        );
    }
    let fired = run(&mut e, t0 + SEC * 10, vec![downloading(7, 0)]);
    assert_eq!(fired.len(), 1);
    let AlertTransition::Fired(view) = &fired[0] else {
        panic!("{fired:?}")
    };
    assert_eq!(view.rule, TORRENT_STALLED);
    assert_eq!(view.torrent_id, Some(7));
    assert_eq!(view.torrent_name.as_deref(), Some("payload"));
    assert!(view.message.contains("for 10s"), "{}", view.message);
    assert!(view.message.contains("torrent.download_rate=0"), "{}", view.message);
    // Still stalled: no second alert.
    assert!(run(&mut e, t0 + SEC * 11, vec![downloading(7, 0)]).is_empty());
    assert_eq!(e.list().active.len(), 1);
    let resolved = run(&mut e, t0 + SEC * 12, vec![downloading(7, 5000)]);
    assert!(matches!(&resolved[..], [AlertTransition::Resolved(v)] if v.id == view.id && v.resolved_at.is_some()));
    let list = e.list();
    assert!(list.active.is_empty());
    assert_eq!(list.recent.len(), 1);
    // A new stall waits its full duration again.
    for s in 13..23 {
        assert!(
            run(&mut e, t0 + SEC * s, vec![downloading(7, 0)]).is_empty(),
            "second {s}"
        );
    }
    assert_eq!(run(&mut e, t0 + SEC * 23, vec![downloading(7, 0)]).len(), 1);
}

#[test]
fn a_torrent_that_goes_away_resolves_its_alerts() {
    let mut e = AlertEngine::new(&quiet_config(), Vec::new());
    let t0 = Instant::now();
    run(&mut e, t0, vec![downloading(1, 0), downloading(2, 0)]);
    assert_eq!(
        run(&mut e, t0 + SEC * 10, vec![downloading(1, 0), downloading(2, 0)]).len(),
        2
    );
    let out = run(&mut e, t0 + SEC * 11, vec![downloading(2, 0)]);
    assert!(matches!(&out[..], [AlertTransition::Resolved(v)] if v.torrent_id == Some(1)));
    assert_eq!(e.list().active.len(), 1);
}

#[test]
fn session_rules_and_disk_errors() {
    let config = AlertsConfig {
        disk_errors: true,
        disk_free_min: Some(1 << 30),
        ..quiet_config()
    };
    let mut e = AlertEngine::new(&config, Vec::new());
    assert!(e.needs_disk_free());
    let t0 = Instant::now();
    let broken = TorrentFigures {
        error: true,
        ..TorrentFigures::default()
    };
    let mut f = Figures::from_torrents(vec![broken], Some(1 << 20));
    let out = e.evaluate(t0, 1, &mut f);
    let rules: Vec<&str> = out.iter().map(|t| t.view().rule.as_str()).collect();
    assert_eq!(rules, vec![DISK_FREE_LOW, DISK_ERROR]);
    assert_eq!(out[0].view().severity, AlertSeverity::Critical);
    assert!(
        out[0].view().message.contains("disk.free=1048576"),
        "{}",
        out[0].view().message
    );
}

#[test]
fn hash_failures_are_counted_over_a_minute() {
    let config = AlertsConfig {
        hash_failures_per_min: Some(5),
        ..quiet_config()
    };
    let mut e = AlertEngine::new(&config, Vec::new());
    let t0 = Instant::now();
    let failing = |n| TorrentFigures {
        hash_failures: n,
        ..TorrentFigures::default()
    };
    assert!(
        run(&mut e, t0, vec![failing(100)]).is_empty(),
        "the first total is a baseline"
    );
    assert!(run(&mut e, t0 + SEC, vec![failing(103)]).is_empty());
    let out = run(&mut e, t0 + SEC * 2, vec![failing(106)]);
    assert!(matches!(&out[..], [AlertTransition::Fired(v)] if v.rule == HASH_FAILURES));
    // A restart lowers the counter: not a failure; a minute later the window is empty.
    assert!(run(&mut e, t0 + SEC * 3, vec![failing(0)]).is_empty());
    let out = run(&mut e, t0 + SEC * 62, vec![failing(0)]);
    assert!(matches!(&out[..], [AlertTransition::Resolved(_)]));
}

#[test]
fn runtime_rules_are_added_listed_and_removed() {
    let mut e = AlertEngine::new(&quiet_config(), Vec::new());
    let rule = AlertRule::new(
        "no_peers",
        "session.peers == 0",
        Duration::ZERO,
        AlertSeverity::Info,
        RuleSource::Runtime,
    )
    .unwrap();
    e.add_runtime_rule(rule.clone()).unwrap();
    assert_eq!(
        e.add_runtime_rule(rule),
        Err(RuleChangeError::Duplicate("no_peers".into()))
    );
    let t0 = Instant::now();
    assert_eq!(run(&mut e, t0, Vec::new()).len(), 1);
    assert!(matches!(
        e.remove_runtime_rule(TORRENT_STALLED, 1),
        Err(RuleChangeError::NotRuntime { .. })
    ));
    assert_eq!(
        e.remove_runtime_rule("nope", 1),
        Err(RuleChangeError::NotFound("nope".into()))
    );
    let out = e.remove_runtime_rule("no_peers", 2).unwrap();
    assert!(matches!(&out[..], [AlertTransition::Resolved(v)] if v.rule == "no_peers"));
    assert_eq!(e.runtime_rules().count(), 0);
}

#[test]
fn a_config_reload_keeps_firing_alerts_of_kept_rules_and_resolves_the_rest() {
    let mut e = AlertEngine::new(&quiet_config(), Vec::new());
    let t0 = Instant::now();
    run(&mut e, t0, vec![downloading(1, 0)]);
    assert_eq!(run(&mut e, t0 + SEC * 10, vec![downloading(1, 0)]).len(), 1);
    // Same rule, another threshold: the alert stays.
    let longer = AlertsConfig {
        stall_after: Some(Duration::from_secs(60)),
        ..quiet_config()
    };
    assert!(e.set_config_rules(&longer, 5).is_empty());
    assert_eq!(e.list().active.len(), 1);
    assert!(run(&mut e, t0 + SEC * 11, vec![downloading(1, 0)]).is_empty());
    // Turned off: it resolves.
    let off = AlertsConfig {
        stall_after: None,
        ..quiet_config()
    };
    let out = e.set_config_rules(&off, 6);
    assert!(matches!(&out[..], [AlertTransition::Resolved(v)] if v.rule == TORRENT_STALLED));
    assert!(e.rules().is_empty());
}

#[test]
fn firing_alerts_are_capped() {
    let mut e = AlertEngine::new(&quiet_config(), Vec::new());
    let t0 = Instant::now();
    let many: Vec<TorrentFigures<'static>> = (0..MAX_ACTIVE_ALERTS as u32 + 5).map(|i| downloading(i, 0)).collect();
    run(&mut e, t0, many.clone());
    let out = run(&mut e, t0 + SEC * 10, many);
    assert_eq!(out.len(), MAX_ACTIVE_ALERTS);
    assert_eq!(e.suppressed(), 5);
}

#[test]
fn the_test_alert_fires_and_resolves_at_once() {
    let mut e = AlertEngine::new(&quiet_config(), Vec::new());
    let [fired, resolved] = e.fire_test(42);
    assert_eq!(fired.kind(), "alert_fired");
    assert_eq!(resolved.kind(), "alert_resolved");
    assert_eq!(fired.view().rule, TEST_RULE);
    assert_eq!(resolved.view().resolved_at, Some(42));
    assert!(e.list().active.is_empty());
    assert_eq!(e.list().recent.len(), 1);
}

proptest::proptest! {
    /// Whatever the condition does second by second: an alert fires exactly when
    /// the condition has held for the rule's duration, at most one is active, and
    /// it resolves on the first second the condition no longer holds.
    #[test]
    fn fires_and_resolves_exactly_on_time(stalled in proptest::collection::vec(proptest::bool::ANY, 1..120), hold in 0u64..8) {
        let config = AlertsConfig { stall_after: Some(Duration::from_secs(hold)), ..quiet_config() };
        let mut e = AlertEngine::new(&config, Vec::new());
        let t0 = Instant::now();
        let mut held_for: Option<u64> = None;
        let mut active = false;
        for (s, &stall) in stalled.iter().enumerate() {
            let s = s as u64;
            let out = run(&mut e, t0 + SEC * s as u32, vec![downloading(1, if stall { 0 } else { 1 })]);
            held_for = if stall { Some(held_for.map_or(0, |h| h + 1)) } else { None };
            let should_fire = !active && held_for.is_some_and(|h| h >= hold);
            let should_resolve = active && !stall;
            match &out[..] {
                [] => proptest::prop_assert!(!should_fire && !should_resolve, "second {}", s),
                [AlertTransition::Fired(_)] => { proptest::prop_assert!(should_fire); active = true; }
                [AlertTransition::Resolved(_)] => { proptest::prop_assert!(should_resolve); active = false; }
                other => proptest::prop_assert!(false, "{:?}", other),
            }
            proptest::prop_assert_eq!(e.list().active.len(), usize::from(active));
        }
    }
}
