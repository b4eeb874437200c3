use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use super::*;
use crate::api_types::{TorrentStateName, TorrentSummary};

fn summary(id: u32) -> TorrentSummary {
    TorrentSummary {
        state: TorrentStateName::Seeding,
        progress: 1.0,
        verified_bytes: 100,
        total_bytes: 100,
        wanted_bytes: 100,
        download_rate: 0,
        downloaded: 0,
        uploaded: 0,
        ratio: 0.0,
        peers: 0,
        eta_secs: None,
        labels: vec![],
        download_dir: "/data".into(),
        queue_position: Some(id),
        shard: Some(0),
        added_at: 1,
        completed_at: Some(2),
        seconds_downloading: 0,
        ..TorrentSummary::sample(id, &format!("t{id}"))
    }
}

fn delta(log: &mut ChangeLog, rid: u64) -> SyncDelta {
    log.delta_since(rid, Instant::now(), &BTreeMap::new(), &[])
}

fn ids(d: &SyncDelta) -> Vec<u32> {
    d.torrents.iter().map(|(s, _)| s.id).collect()
}

#[test]
fn rid_zero_or_foreign_gets_everything_and_a_known_rid_only_changes() {
    let mut log = ChangeLog::new(7);
    for id in 1..=3 {
        log.record(summary(id));
    }
    let full = delta(&mut log, 0);
    assert!(full.full_update);
    assert_eq!(ids(&full), vec![1, 2, 3]);
    let rid = full.revision;

    // Nothing changed: an empty answer.
    for id in 1..=3 {
        assert!(!log.record(summary(id)));
    }
    let none = delta(&mut log, rid);
    assert!(!none.full_update);
    assert!(none.torrents.is_empty() && none.torrents_removed.is_empty());
    assert!(none.categories.is_none() && none.tags.is_none());
    assert_eq!(none.revision, rid);

    // One field of one torrent.
    let mut paused = summary(2);
    paused.state = TorrentStateName::Paused;
    assert!(log.record(paused));
    let one = delta(&mut log, rid);
    assert_eq!(ids(&one), vec![2]);
    let mask = one.torrents[0].1;
    assert!(mask.contains(SummaryField::State));
    assert!(!mask.contains(SummaryField::Name) && !mask.contains(SummaryField::Progress));

    // A rid from another run, or from the future, is not trusted.
    let mut other_run = ChangeLog::new(8);
    other_run.record(summary(1));
    assert!(delta(&mut other_run, rid).full_update);
    assert!(delta(&mut log, one.revision + 5).full_update);
}

#[test]
fn removals_are_reported_once_per_client_revision() {
    let mut log = ChangeLog::new(1);
    log.record(summary(1));
    log.record(summary(2));
    let rid = delta(&mut log, 0).revision;
    log.touch(2);
    let present: HashSet<u32> = [1].into();
    log.finish_full_refresh(&present);
    let d = delta(&mut log, rid);
    assert_eq!(d.torrents_removed, vec![summary(2).info_hash]);
    assert!(d.torrents.is_empty());
    let after = delta(&mut log, d.revision);
    assert!(after.torrents_removed.is_empty());
}

#[test]
fn a_client_behind_the_removal_ring_gets_a_full_update() {
    let mut log = ChangeLog::new(1);
    log.record(summary(0));
    let rid = delta(&mut log, 0).revision;
    for id in 1..=(MAX_REMEMBERED_REMOVALS as u32 + 1) {
        log.record(summary(id));
        log.removed_torrent(id);
    }
    assert!(delta(&mut log, rid).full_update);
}

#[test]
fn the_clock_alone_changes_a_torrent_once_a_minute() {
    let mut log = ChangeLog::new(1);
    log.record(summary(1));
    let rid = delta(&mut log, 0).revision;
    let mut s = summary(1);
    for secs in 1..CLOCK_FIELD_STEP_SECS {
        s.seconds_seeding = secs;
        assert!(!log.record(s.clone()), "second {secs}");
    }
    assert!(delta(&mut log, rid).torrents.is_empty());
    s.seconds_seeding = CLOCK_FIELD_STEP_SECS;
    assert!(log.record(s));
    let d = delta(&mut log, rid);
    assert!(d.torrents[0].1.contains(SummaryField::SecondsSeeding));
    // A full answer carries the latest value even between steps.
    let mut s = summary(1);
    s.seconds_seeding = CLOCK_FIELD_STEP_SECS + 5;
    log.record(s);
    assert_eq!(
        delta(&mut log, 0).torrents[0].0.seconds_seeding,
        CLOCK_FIELD_STEP_SECS + 5
    );
}

#[test]
fn categories_and_tags_show_when_they_change() {
    let mut log = ChangeLog::new(1);
    let rid = delta(&mut log, 0).revision;
    log.categories_changed(&["old".to_string()]);
    let mut cats = BTreeMap::new();
    cats.insert(
        "tv".to_string(),
        Category {
            name: "tv".into(),
            save_path: "/tv".into(),
        },
    );
    let d = log.delta_since(rid, Instant::now(), &cats, &["hd".to_string()]);
    assert_eq!(d.categories.as_ref().map(|c| c.len()), Some(1));
    assert_eq!(d.categories_removed, vec!["old".to_string()]);
    assert!(d.tags.is_none());
    log.tags_changed(&[]);
    let d2 = log.delta_since(d.revision, Instant::now(), &cats, &["hd".to_string()]);
    assert!(d2.categories.is_none());
    assert_eq!(d2.tags, Some(vec!["hd".to_string()]));
}

#[test]
fn the_log_is_followed_only_for_a_while_after_a_request() {
    let mut log = ChangeLog::new(1);
    let now = Instant::now();
    assert!(!log.followed(now));
    log.delta_since(0, now, &BTreeMap::new(), &[]);
    assert!(log.followed(now + Duration::from_secs(1)));
    assert!(!log.followed(now + FOLLOW_WINDOW + Duration::from_secs(1)));
}

#[test]
fn revisions_fit_in_a_javascript_number() {
    let log = ChangeLog::new(u64::MAX);
    assert!(log.current() < (1u64 << 53));
}
