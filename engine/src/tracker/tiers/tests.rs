use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn tiers(spec: &[&[&str]]) -> Vec<Vec<String>> {
    spec.iter().map(|t| t.iter().map(|u| u.to_string()).collect()).collect()
}

fn build(spec: &[&[&str]], now: Instant) -> TrackerTiers {
    TrackerTiers::new(
        &tiers(spec),
        AnnouncePolicy::default(),
        now,
        &mut SmallRng::seed_from_u64(7),
    )
}

fn ok(interval: u64) -> AnnounceResponse {
    AnnounceResponse {
        interval: Some(secs(interval)),
        peers: vec!["1.1.1.1:1".parse().unwrap(); 3],
        seeders: Some(5),
        leechers: Some(6),
        ..AnnounceResponse::default()
    }
}

fn urls(t: &TrackerTiers) -> Vec<String> {
    t.trackers().map(|(_, s)| s.url.clone()).collect()
}

#[test]
fn announce_list_wins_over_announce() {
    let list = tiers(&[&["http://a/announce"], &[]]);
    assert_eq!(tiers_from_metainfo(Some("http://x/announce"), &list), list);
    assert_eq!(
        tiers_from_metainfo(Some("http://x/announce"), &[]),
        tiers(&[&["http://x/announce"]])
    );
    assert_eq!(
        tiers_from_metainfo(Some("udp://x:1"), &[vec![]]),
        tiers(&[&["udp://x:1"]])
    );
    assert!(tiers_from_metainfo(None, &[]).is_empty());
}

#[test]
fn construction_filters_and_bounds() {
    let now = Instant::now();
    let long = format!("http://t/{}", "a".repeat(MAX_TRACKER_URL_LEN));
    let t = build(
        &[
            &["wss://x", "http://a/announce", "HTTP://b/announce", long.as_str()],
            &[],
            &["http://a/announce", " udp://c:1 "],
        ],
        now,
    );
    assert_eq!(t.trackers().count(), 3);
    let tiers_of: Vec<usize> = t.trackers().map(|(_, s)| s.tier).collect();
    assert_eq!(tiers_of, vec![0, 0, 1], "empty tiers dropped, duplicates dropped");
    assert!(urls(&t).contains(&"udp://c:1".to_string()));
    let many: Vec<String> = (0..200).map(|i| format!("udp://t{i}:1")).collect();
    let t = TrackerTiers::new(&[many], AnnouncePolicy::default(), now, &mut SmallRng::seed_from_u64(1));
    assert_eq!(t.trackers().count(), MAX_TRACKERS);
    assert!(build(&[], now).is_empty());
    assert_eq!(build(&[], now).poll_timeout(), None);
}

#[test]
fn shuffles_within_tiers_only() {
    let now = Instant::now();
    let spec: &[&[&str]] = &[&["udp://a:1", "udp://b:1", "udp://c:1", "udp://d:1"], &["udp://z:1"]];
    let mut orders = std::collections::HashSet::new();
    for seed in 0..20 {
        let t = TrackerTiers::new(
            &tiers(spec),
            AnnouncePolicy::default(),
            now,
            &mut SmallRng::seed_from_u64(seed),
        );
        let u = urls(&t);
        assert_eq!(u[4], "udp://z:1");
        orders.insert(u);
    }
    assert!(orders.len() > 1, "the first tier is shuffled");
}

#[test]
fn tries_tiers_in_order_and_restarts_from_the_first() {
    let t0 = Instant::now();
    let mut t = build(
        &[&["http://a/announce"], &["http://b/announce"], &["http://c/announce"]],
        t0,
    );
    assert_eq!(t.poll_timeout(), Some(t0));
    let due = t.next_due(t0).unwrap();
    assert_eq!(
        (due.url.as_str(), due.event),
        ("http://a/announce", AnnounceEvent::Started)
    );
    assert_eq!(t.next_due(t0), Some(due.clone()), "idempotent until recorded");
    t.record_failure(&due, t0, "refused".into());
    let due = t.next_due(t0).unwrap();
    assert_eq!(due.url, "http://b/announce", "the next tier right away");
    t.record_success(&due, t0, &ok(1800));
    assert_eq!(t.get(due.tracker).unwrap().peers_received, 3);
    assert_eq!(t.poll_timeout(), Some(t0 + secs(1800)));
    assert_eq!(t.next_due(t0 + secs(1799)), None);
    // The next round starts with tier 0 again (its back-off has long passed).
    let due = t.next_due(t0 + secs(1800)).unwrap();
    assert_eq!(
        (due.url.as_str(), due.event),
        ("http://a/announce", AnnounceEvent::Started)
    );
    t.record_failure(&due, t0 + secs(1800), "still down".into());
    let due = t.next_due(t0 + secs(1800)).unwrap();
    assert_eq!(
        (due.url.as_str(), due.event),
        ("http://b/announce", AnnounceEvent::None)
    );
}

#[test]
fn a_tracker_that_answers_moves_to_the_front_of_its_tier() {
    let t0 = Instant::now();
    let mut t = build(&[&["udp://a:1", "udp://b:1", "udp://c:1"]], t0);
    let before = urls(&t);
    let first = t.next_due(t0).unwrap();
    t.record_failure(&first, t0, "x".into());
    let second = t.next_due(t0).unwrap();
    assert_eq!(second.url, before[1]);
    t.record_success(&second, t0, &ok(60));
    assert_eq!(urls(&t), vec![before[1].clone(), before[0].clone(), before[2].clone()]);
    assert_eq!(t.next_due(t0 + secs(60)).unwrap().url, before[1]);
}

#[test]
fn intervals_are_honoured_within_bounds() {
    let t0 = Instant::now();
    let mut t = build(&[&["udp://a:1"]], t0);
    let due = t.next_due(t0).unwrap();
    t.record_success(&due, t0, &ok(5));
    assert_eq!(t.poll_timeout(), Some(t0 + DEFAULT_MIN_ANNOUNCE_INTERVAL), "floor");
    let due = t.next_due(t0 + secs(60)).unwrap();
    let mut r = ok(100);
    r.min_interval = Some(secs(300));
    t.record_success(&due, t0 + secs(60), &r);
    assert_eq!(t.poll_timeout(), Some(t0 + secs(360)), "min interval beats interval");
    let due = t.next_due(t0 + secs(360)).unwrap();
    t.record_success(&due, t0 + secs(360), &ok(u64::MAX / 4));
    assert_eq!(
        t.poll_timeout(),
        Some(t0 + secs(360) + MAX_ANNOUNCE_INTERVAL),
        "ceiling"
    );
    let due = t.next_due(t0 + secs(360) + MAX_ANNOUNCE_INTERVAL).unwrap();
    t.record_success(&due, t0, &AnnounceResponse::default());
    assert_eq!(t.poll_timeout(), Some(t0 + DEFAULT_ANNOUNCE_INTERVAL), "default");
}

#[test]
fn failures_back_off_exponentially_up_to_the_cap() {
    let t0 = Instant::now();
    let mut t = build(&[&["udp://a:1"]], t0);
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..12 {
        let due = t.next_due(now).unwrap();
        t.record_failure(&due, now, "timeout".into());
        let next = t.poll_timeout().unwrap();
        assert_eq!(t.next_due(next - Duration::from_millis(1)), None);
        waits.push((next - now).as_secs());
        now = next;
    }
    assert_eq!(
        waits,
        vec![15, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]
    );
    let (_, s) = t.trackers().next().unwrap();
    assert_eq!((s.failures, s.last_error.as_deref()), (12, Some("timeout")));
    let due = t.next_due(now).unwrap();
    t.record_success(&due, now, &ok(1800));
    let (_, s) = t.trackers().next().unwrap();
    assert_eq!((s.failures, s.last_error.as_deref(), s.retry_at), (0, None, None));
}

#[test]
fn a_backing_off_tracker_is_skipped() {
    let t0 = Instant::now();
    let policy = AnnouncePolicy {
        min_interval: secs(1),
        ..AnnouncePolicy::default()
    };
    let mut t = TrackerTiers::new(
        &tiers(&[&["udp://a:1"], &["udp://b:1"]]),
        policy,
        t0,
        &mut SmallRng::seed_from_u64(1),
    );
    let a = t.next_due(t0).unwrap();
    t.record_failure(&a, t0, "down".into());
    assert_eq!(t.next_announce(a.tracker), Some(t0 + secs(15)));
    let b = t.next_due(t0).unwrap();
    t.record_success(&b, t0, &ok(5));
    // Rounds at 5 and 10 start from tier 0 but skip a, which backs off until 15.
    for at in [5, 10] {
        let due = t.next_due(t0 + secs(at)).unwrap();
        assert_eq!(due.url, "udp://b:1", "round at {at}");
        assert_eq!(t.next_announce(b.tracker), Some(t0 + secs(at)));
        t.record_success(&due, t0 + secs(at), &ok(5));
    }
    assert_eq!(t.next_due(t0 + secs(15)).unwrap().url, "udp://a:1");
    assert_eq!(t.next_announce(a.tracker), Some(t0 + secs(15)));
}

#[test]
fn all_failing_waits_for_the_earliest_retry() {
    let t0 = Instant::now();
    let mut t = build(&[&["udp://a:1"], &["udp://b:1"]], t0);
    let a = t.next_due(t0).unwrap();
    t.record_failure(&a, t0, "x".into());
    let b = t.next_due(t0 + secs(5)).unwrap();
    t.record_failure(&b, t0 + secs(5), "x".into());
    assert_eq!(t.poll_timeout(), Some(t0 + secs(15)));
    assert_eq!(t.next_due(t0 + secs(14)), None);
    assert_eq!(t.next_due(t0 + secs(15)).unwrap().url, "udp://a:1");
    assert_eq!(t.next_due(t0 + secs(20)).unwrap().url, "udp://a:1");
}

#[test]
fn started_completed_stopped_events() {
    let t0 = Instant::now();
    let mut t = build(&[&["udp://a:1"]], t0);
    t.set_completed(t0);
    let due = t.next_due(t0).unwrap();
    assert_eq!(due.event, AnnounceEvent::Started);
    t.record_success(&due, t0, &ok(1800));
    // Completed before started was sent: no separate completed event.
    assert_eq!(t.poll_timeout(), Some(t0 + secs(1800)));
    assert_eq!(t.next_due(t0 + secs(1800)).unwrap().event, AnnounceEvent::None);

    let mut t = build(&[&["udp://a:1"]], t0);
    let due = t.next_due(t0).unwrap();
    t.record_success(&due, t0, &ok(1800));
    t.set_completed(t0 + secs(10));
    let due = t.next_due(t0 + secs(10)).unwrap();
    assert_eq!(due.event, AnnounceEvent::Completed, "sent soon, not after the interval");
    t.record_failure(&due, t0 + secs(10), "x".into());
    let due = t.next_due(t0 + secs(25)).unwrap();
    assert_eq!(due.event, AnnounceEvent::Completed, "retried after a failure");
    t.record_success(&due, t0 + secs(25), &ok(1800));
    t.set_completed(t0 + secs(30));
    assert_eq!(t.next_due(t0 + secs(30)), None, "only once");
    assert_eq!(t.next_due(t0 + secs(1825)).unwrap().event, AnnounceEvent::None);

    let stops = t.shutdown();
    assert_eq!(stops.len(), 1);
    assert_eq!(
        (stops[0].url.as_str(), stops[0].event),
        ("udp://a:1", AnnounceEvent::Stopped)
    );
    assert!(t.is_stopped());
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(t.next_due(t0 + secs(100_000)), None);
    assert!(t.shutdown().is_empty());
}

#[test]
fn stopped_only_to_trackers_that_were_started() {
    let t0 = Instant::now();
    let mut t = build(&[&["udp://a:1"], &["udp://b:1"]], t0);
    let a = t.next_due(t0).unwrap();
    t.record_failure(&a, t0, "x".into());
    let b = t.next_due(t0).unwrap();
    let mut r = ok(60);
    r.tracker_id = Some(b"tid".to_vec());
    t.record_success(&b, t0, &r);
    let stops = t.shutdown();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].url, "udp://b:1");
    assert_eq!(stops[0].tracker_id.as_deref(), Some(&b"tid"[..]));
}

#[test]
fn announce_now_respects_min_interval() {
    let t0 = Instant::now();
    let mut t = build(&[&["http://a/announce"]], t0);
    let due = t.next_due(t0).unwrap();
    let mut r = ok(1800);
    r.min_interval = Some(secs(120));
    t.record_success(&due, t0, &r);
    t.announce_now(t0 + secs(10));
    assert_eq!(t.poll_timeout(), Some(t0 + secs(120)));
    t.announce_now(t0 + secs(500));
    assert_eq!(t.poll_timeout(), Some(t0 + secs(120)), "never later than already due");
    let due = t.next_due(t0 + secs(500)).unwrap();
    t.record_success(&due, t0 + secs(500), &ok(1800));
    t.announce_now(t0 + secs(1000));
    assert_eq!(t.poll_timeout(), Some(t0 + secs(1000)));
}

#[test]
fn scrape_bookkeeping() {
    let t0 = Instant::now();
    let mut t = build(&[&["http://a/announce", "http://b/x", "udp://c:1"]], t0);
    let refs: Vec<(TrackerRef, String)> = t.trackers().map(|(r, s)| (r, s.url.clone())).collect();
    for (r, url) in &refs {
        assert_eq!(t.wants_scrape(*r, t0), url != "http://b/x", "{url}");
    }
    let (a, _) = refs.iter().find(|(_, u)| u == "http://a/announce").unwrap();
    t.record_scrape(
        *a,
        t0,
        Some(ScrapeStats {
            seeders: 1,
            completed: 2,
            leechers: 3,
        }),
    );
    let s = t.get(*a).unwrap();
    assert_eq!((s.seeders, s.downloaded, s.leechers), (Some(1), Some(2), Some(3)));
    assert!(!t.wants_scrape(*a, t0 + secs(60)));
    assert!(t.wants_scrape(*a, t0 + DEFAULT_SCRAPE_INTERVAL));
    for k in 0..MAX_SCRAPE_FAILURES {
        let at = t0 + DEFAULT_SCRAPE_INTERVAL * (k + 1);
        assert!(t.wants_scrape(*a, at));
        t.record_scrape(*a, at, None);
    }
    assert!(
        !t.wants_scrape(*a, t0 + secs(1_000_000)),
        "gives up on a tracker that cannot scrape"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u16),
    Succeed(u16, Option<u16>),
    Fail,
    Complete,
    Now,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u16>().prop_map(Op::Advance),
        (any::<u16>(), proptest::option::of(any::<u16>())).prop_map(|(i, m)| Op::Succeed(i, m)),
        Just(Op::Fail),
        Just(Op::Complete),
        Just(Op::Now),
    ]
}

proptest! {
    #[test]
    fn poll_timeout_agrees_with_next_due(ops in proptest::collection::vec(op(), 0..60), seed in any::<u64>()) {
        let t0 = Instant::now();
        let spec = tiers(&[&["udp://a:1", "udp://b:1"], &["http://c/announce"], &["udp://d:1"]]);
        let mut t = TrackerTiers::new(&spec, AnnouncePolicy::default(), t0, &mut SmallRng::seed_from_u64(seed));
        let mut now = t0;
        for op in ops {
            match op {
                Op::Advance(s) => now += secs(u64::from(s)),
                Op::Succeed(i, m) => if let Some(d) = t.next_due(now) {
                    let mut r = ok(u64::from(i));
                    r.min_interval = m.map(|m| secs(u64::from(m)));
                    t.record_success(&d, now, &r);
                },
                Op::Fail => if let Some(d) = t.next_due(now) { t.record_failure(&d, now, "x".into()) },
                Op::Complete => t.set_completed(now),
                Op::Now => t.announce_now(now),
            }
            let at = t.poll_timeout().unwrap();
            prop_assert!(t.next_due(at).is_some());
            if at > now {
                prop_assert!(t.next_due(at - Duration::from_millis(1)).is_none());
                prop_assert!(at - now <= MAX_ANNOUNCE_INTERVAL);
            }
        }
        let stops = t.shutdown();
        prop_assert!(stops.iter().all(|d| d.event == AnnounceEvent::Stopped));
        prop_assert_eq!(t.poll_timeout(), None);
    }
}

fn empty(interval: u64, min_interval: Option<u64>) -> AnnounceResponse {
    AnnounceResponse {
        interval: Some(secs(interval)),
        min_interval: min_interval.map(secs),
        ..AnnounceResponse::default()
    }
}

#[test]
fn a_starved_torrent_reannounces_on_a_short_back_off_instead_of_the_interval() {
    let t0 = Instant::now();
    let mut t = build(&[&["http://a/announce"]], t0);
    t.set_starved(true);
    let mut now = t0;
    for wait in [15, 30, 60, 120, 240, 300, 300] {
        let due = t.next_due(now).expect("a round is due");
        t.record_success(&due, now, &empty(1800, None));
        assert!(t.next_due(now + secs(wait) - secs(1)).is_none(), "not before {wait} s");
        now += secs(wait);
        assert!(t.next_due(now).is_some(), "due after {wait} s, not the 1800 s interval");
    }
}

#[test]
fn a_starved_torrent_never_asks_sooner_than_the_trackers_min_interval() {
    let t0 = Instant::now();
    let mut t = build(&[&["http://a/announce"]], t0);
    t.set_starved(true);
    let due = t.next_due(t0).unwrap();
    t.record_success(&due, t0, &empty(1800, Some(900)));
    assert!(t.next_due(t0 + secs(899)).is_none());
    assert!(t.next_due(t0 + secs(900)).is_some());
}

#[test]
fn starving_mid_download_brings_the_next_round_forward_and_recovering_restores_it() {
    let t0 = Instant::now();
    let mut t = build(&[&["http://a/announce"]], t0);
    let due = t.next_due(t0).unwrap();
    t.record_success(&due, t0, &ok(1800));
    assert_eq!(t.poll_timeout(), Some(t0 + secs(1800)));
    // The only peer leaves 100 s later: the next round is due at once (15 s after the last).
    let left = t0 + secs(100);
    t.set_starved(true);
    assert!(t.is_starved());
    assert!(t.next_due(left).is_some());
    // Peers are back before it ran: the usual interval applies again.
    t.set_starved(false);
    assert_eq!(t.poll_timeout(), Some(t0 + secs(1800)));
    assert!(t.next_due(left).is_none());
}
