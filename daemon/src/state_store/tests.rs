use super::*;
use crate::state_dir::StateDir;
use proptest::prelude::*;

const HASH_A: [u8; 20] = [0xab; 20];
const HASH_B: [u8; 20] = [0x01; 20];

fn torrent(id: u32, info_hash: [u8; 20]) -> TorrentRecord {
    TorrentRecord {
        id,
        info_hash,
        name: format!("torrent {id} ✓"),
        download_dir: "/srv/data".into(),
        labels: vec!["linux".into(), "iso".into()],
        added_at: 1_700_000_000,
        completed_at: Some(1_700_000_100),
        stopped: StopReason::Paused,
        force_started: true,
        queue_position: id,
        sequential: true,
        download_limit: Some(1 << 20),
        upload_limit: None,
        ratio_limit: LimitRecord::Value(2.5),
        seed_time_limit_secs: LimitRecord::Global,
        idle_limit_secs: LimitRecord::Value(1800),
        file_priorities: vec![0, 1, 2, 3],
        trackers: Some(vec![vec!["http://127.0.0.1:6969/announce".into()], vec![]]),
        peers: vec!["127.0.0.1:51413".into()],
        downloaded: 123,
        uploaded: 456,
        seconds_downloading: 7,
        seconds_seeding: 8,
    }
}

fn session() -> SessionRecord {
    let mut second = torrent(2, HASH_B);
    second.stopped = StopReason::Finished;
    second.trackers = None;
    second.ratio_limit = LimitRecord::None;
    SessionRecord {
        next_id: 3,
        torrents: vec![torrent(1, HASH_A), second],
        settings: SettingsRecord {
            download_limit: Some(10_000_000),
            upload_limit: None,
            alt_download_limit: Some(100_000),
            alt_upload_limit: Some(50_000),
            alt_speed_enabled: false,
            alt_speed_schedule: Some(ScheduleRecord {
                begin_minute: 60,
                end_minute: 420,
                days: 0x1f,
            }),
            max_active_downloads: 5,
            max_active_seeds: 10_000,
            max_active_checks: 1,
            ratio_limit: Some(2.0),
            seed_time_limit_secs: None,
            idle_limit_secs: None,
            download_dir: Some("/srv/data".into()),
        },
        total_downloaded: u64::MAX,
        total_uploaded: 1,
    }
}

fn resume() -> ResumeFile {
    ResumeFile {
        have: vec![0b1010_0000],
        files: vec![
            FileStamp {
                length: 3 * 16384,
                mtime_secs: 1_700_000_000,
                mtime_nanos: 999_999_999,
            },
            FileStamp {
                length: 0,
                mtime_secs: -1,
                mtime_nanos: 0,
            },
        ],
    }
}

fn open() -> (tempfile::TempDir, StateDir, StateStore) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StateDir::open(tmp.path()).unwrap();
    let store = dir.store();
    (tmp, dir, store)
}

#[test]
fn fresh_dir_has_nothing_saved() {
    let (_tmp, _dir, store) = open();
    assert_eq!(store.load_session().unwrap(), None);
    assert_eq!(store.load_resume(&HASH_A).unwrap(), None);
    assert_eq!(store.load_metainfo(&HASH_A).unwrap(), None);
    assert!(store.list_saved_metainfo().unwrap().is_empty());
}

#[test]
fn session_round_trips_and_is_replaced_by_the_next_save() {
    let (_tmp, _dir, store) = open();
    let mut saved = session();
    store.save_session(&saved).unwrap();
    assert_eq!(store.load_session().unwrap(), Some(saved.clone()));
    saved.torrents.pop();
    saved.next_id = 9;
    store.save_session(&saved).unwrap();
    assert_eq!(store.load_session().unwrap(), Some(saved));
}

#[test]
fn resume_and_metainfo_round_trip_per_torrent_and_are_removed() {
    let (_tmp, _dir, store) = open();
    store.save_resume(&HASH_A, &resume()).unwrap();
    store.save_metainfo(&HASH_A, b"d4:infod4:name1:aee").unwrap();
    store.save_metainfo(&HASH_B, b"d4:infod4:name1:bee").unwrap();
    assert_eq!(store.load_resume(&HASH_A).unwrap(), Some(resume()));
    assert_eq!(store.load_resume(&HASH_B).unwrap(), None);
    assert_eq!(
        store.load_metainfo(&HASH_A).unwrap().as_deref(),
        Some(&b"d4:infod4:name1:aee"[..])
    );
    assert_eq!(store.list_saved_metainfo().unwrap(), vec![HASH_B, HASH_A]);

    store.remove_torrent_files(&HASH_A).unwrap();
    assert_eq!(store.load_resume(&HASH_A).unwrap(), None);
    assert_eq!(store.load_metainfo(&HASH_A).unwrap(), None);
    assert_eq!(store.list_saved_metainfo().unwrap(), vec![HASH_B]);
    store.remove_torrent_files(&HASH_A).unwrap();
}

#[test]
fn files_are_named_by_lowercase_hex_info_hash() {
    let (tmp, _dir, store) = open();
    store.save_resume(&HASH_A, &resume()).unwrap();
    store.save_metainfo(&HASH_A, b"x").unwrap();
    let hex = "ab".repeat(20);
    assert!(tmp.path().join("resume").join(format!("{hex}.resume")).is_file());
    assert!(tmp.path().join("torrents").join(format!("{hex}.torrent")).is_file());
}

#[test]
fn list_saved_metainfo_ignores_foreign_files() {
    let (tmp, _dir, store) = open();
    store.save_metainfo(&HASH_A, b"x").unwrap();
    let torrents = tmp.path().join("torrents");
    fs::write(torrents.join("README"), b"x").unwrap();
    fs::write(torrents.join("abcd.torrent"), b"x").unwrap();
    fs::write(torrents.join(format!("{}.torrent.bak", "ab".repeat(20))), b"x").unwrap();
    fs::write(torrents.join(format!("{}.torrent", "CD".repeat(20))), b"x").unwrap();
    assert_eq!(store.list_saved_metainfo().unwrap(), vec![HASH_A]);
}

#[test]
fn truncated_resume_is_corrupt_and_names_the_file() {
    let (_tmp, _dir, store) = open();
    store.save_resume(&HASH_A, &resume()).unwrap();
    let path = store.resume_path(&HASH_A);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let err = store.load_resume(&HASH_A).unwrap_err();
    assert!(err.is_corrupt(), "{err:?}");
    assert!(matches!(
        err,
        StoreError::Corrupt {
            source: RecordError::LengthMismatch { .. },
            ..
        }
    ));
    assert!(err.to_string().contains(&"ab".repeat(20)), "{err}");
    // Only that torrent is affected: its next save replaces the damaged record.
    store.save_resume(&HASH_A, &resume()).unwrap();
    assert_eq!(store.load_resume(&HASH_A).unwrap(), Some(resume()));
}

#[test]
fn flipped_byte_in_resume_is_corrupt() {
    let (_tmp, _dir, store) = open();
    store.save_resume(&HASH_A, &resume()).unwrap();
    let path = store.resume_path(&HASH_A);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    fs::write(&path, &bytes).unwrap();
    let err = store.load_resume(&HASH_A).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                source: RecordError::ChecksumMismatch,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn session_file_in_the_resume_slot_is_refused_by_magic() {
    let (_tmp, _dir, store) = open();
    store.save_session(&session()).unwrap();
    fs::copy(store.session_path(), store.resume_path(&HASH_A)).unwrap();
    let err = store.load_resume(&HASH_A).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                source: RecordError::BadMagic { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn newer_format_version_is_refused() {
    let (_tmp, _dir, store) = open();
    store.save_resume(&HASH_A, &resume()).unwrap();
    let path = store.resume_path(&HASH_A);
    let mut bytes = fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let err = store.load_resume(&HASH_A).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("format version {}", FORMAT_VERSION + 1)),
        "{err}"
    );
}

#[test]
fn version_1_session_is_read_with_every_torrent_and_setting() {
    use super::records_v1::{SessionRecordV1, SettingsRecordV1, TorrentRecordV1};
    let (_tmp, _dir, store) = open();
    let now = session();
    let v1 = SessionRecordV1 {
        next_id: now.next_id,
        torrents: now
            .torrents
            .iter()
            .map(|t| TorrentRecordV1 {
                id: t.id,
                info_hash: t.info_hash,
                name: t.name.clone(),
                download_dir: t.download_dir.clone(),
                labels: t.labels.clone(),
                added_at: t.added_at,
                completed_at: t.completed_at,
                stopped: t.stopped,
                force_started: t.force_started,
                queue_position: t.queue_position,
                sequential: t.sequential,
                download_limit: t.download_limit,
                upload_limit: t.upload_limit,
                ratio_limit: t.ratio_limit,
                seed_time_limit_secs: t.seed_time_limit_secs,
                file_priorities: t.file_priorities.clone(),
                trackers: t.trackers.clone(),
                peers: t.peers.clone(),
                downloaded: t.downloaded,
                uploaded: t.uploaded,
                seconds_downloading: t.seconds_downloading,
                seconds_seeding: t.seconds_seeding,
            })
            .collect(),
        settings: SettingsRecordV1 {
            download_limit: now.settings.download_limit,
            upload_limit: now.settings.upload_limit,
            alt_download_limit: now.settings.alt_download_limit,
            alt_upload_limit: now.settings.alt_upload_limit,
            alt_speed_enabled: now.settings.alt_speed_enabled,
            alt_speed_schedule: now.settings.alt_speed_schedule,
            max_active_downloads: now.settings.max_active_downloads,
            max_active_seeds: now.settings.max_active_seeds,
            max_active_checks: now.settings.max_active_checks,
            ratio_limit: now.settings.ratio_limit,
            seed_time_limit_secs: now.settings.seed_time_limit_secs,
            download_dir: now.settings.download_dir.clone(),
        },
        total_downloaded: now.total_downloaded,
        total_uploaded: now.total_uploaded,
    };
    // A file as the version-1 build wrote it: same header, version 1.
    let mut bytes = record_file::encode(RecordKind::Session, &v1).unwrap();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    fs::write(store.session_path(), &bytes).unwrap();

    let mut expected = now;
    for t in &mut expected.torrents {
        t.idle_limit_secs = LimitRecord::Global;
    }
    expected.settings.idle_limit_secs = None;
    assert_eq!(store.load_session().unwrap(), Some(expected));
}

#[test]
fn oversized_resume_is_corrupt_without_reading_it_whole() {
    let (_tmp, _dir, store) = open();
    let file = File::create(store.resume_path(&HASH_A)).unwrap();
    file.set_len(MAX_RESUME_BYTES + 1).unwrap();
    let err = store.load_resume(&HASH_A).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                source: RecordError::TooLarge { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn corrupt_session_is_kept_aside_and_reported() {
    let (tmp, _dir, store) = open();
    store.save_session(&session()).unwrap();
    let path = store.session_path();
    let mut bytes = fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    let err = store.load_session().unwrap_err();
    let StoreError::CorruptSession { kept_as, source, .. } = &err else {
        panic!("expected CorruptSession, got {err:?}");
    };
    assert_eq!(*source, RecordError::ChecksumMismatch);
    assert_eq!(kept_as.parent(), Some(tmp.path()));
    let kept_name = kept_as.file_name().unwrap().to_str().unwrap();
    assert!(kept_name.starts_with("session.rkyv.corrupt-"), "{kept_name}");
    assert_eq!(fs::read(kept_as).unwrap(), bytes);
    let message = err.to_string();
    assert!(
        message.contains("session.rkyv") && message.contains(kept_name),
        "{message}"
    );
    // The damaged file stays, so a restart before the rebuild is saved is not a fresh start.
    assert!(store.load_session().unwrap_err().is_corrupt());
}

#[test]
fn unreadable_session_is_an_io_error_not_corruption() {
    let (_tmp, _dir, store) = open();
    fs::create_dir(store.session_path()).unwrap();
    let err = store.load_session().unwrap_err();
    assert!(matches!(err, StoreError::Io { action: "read", .. }), "{err:?}");
    assert!(!err.is_corrupt());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_files_never_panic_the_loaders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (_tmp, _dir, store) = open();
        fs::write(store.resume_path(&HASH_A), &bytes).unwrap();
        fs::write(store.session_path(), &bytes).unwrap();
        let _ = store.load_resume(&HASH_A);
        let _ = store.load_session();
    }

    #[test]
    fn random_byte_damage_to_a_session_is_an_error(index in 0usize..4096, mask in 1u8..=255) {
        let (_tmp, _dir, store) = open();
        store.save_session(&session()).unwrap();
        let path = store.session_path();
        let mut bytes = fs::read(&path).unwrap();
        let at = index % bytes.len();
        bytes[at] ^= mask;
        fs::write(&path, &bytes).unwrap();
        prop_assert!(store.load_session().unwrap_err().is_corrupt());
    }
}
