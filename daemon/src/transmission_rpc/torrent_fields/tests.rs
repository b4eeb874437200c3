use super::*;
use crate::api_types::{FileEntry, PeerEntry, PeersBySource, TrackerEntry};

fn summary() -> TorrentSummary {
    TorrentSummary {
        id: 4,
        info_hash: "ab".repeat(20),
        name: "album".into(),
        state: TorrentStateName::Downloading,
        progress: 0.25,
        verified_bytes: 1000,
        total_bytes: 4000,
        wanted_bytes: 4000,
        download_rate: 5000,
        upload_rate: 0,
        downloaded: 1000,
        uploaded: 500,
        ratio: 0.5,
        peers: 1,
        eta_secs: Some(60),
        labels: vec!["tv".into()],
        download_dir: "/data".into(),
        error: None,
        queue_position: Some(2),
        shard: Some(0),
        added_at: 1_700_000_000,
        completed_at: None,
        seconds_downloading: 30,
        seconds_seeding: 0,
        sequential: false,
        force_started: false,
        download_limit: Some(250_000),
        upload_limit: None,
        ratio_limit: Some(1.5),
        seed_time_limit_secs: None,
        idle_limit_secs: Some(600),
        private: false,
        metadata: None,
    }
}

fn detail(s: &TorrentSummary) -> TorrentDetail {
    TorrentDetail {
        summary: s.clone(),
        piece_length: 16384,
        num_pieces: 1,
        pieces_have: 0,
        files: vec![
            FileEntry {
                index: 0,
                path: "a.flac".into(),
                length: 3000,
                verified_bytes: 1000,
                progress: 0.3,
                priority: FilePriorityName::High,
                padding: false,
            },
            FileEntry {
                index: 1,
                path: "cover.jpg".into(),
                length: 1000,
                verified_bytes: 0,
                progress: 0.0,
                priority: FilePriorityName::Skip,
                padding: false,
            },
        ],
        peers_list: vec![PeerEntry {
            addr: "127.0.0.1:6881".into(),
            client: "qB 4.6.5.0".into(),
            flags: "DI".into(),
            download_rate: 5000,
            upload_rate: 0,
            downloaded: 1000,
            uploaded: 0,
            progress: 1.0,
            source: "pex".into(),
        }],
        trackers: vec![
            TrackerEntry {
                url: "http://tracker.example.org:6969/announce".into(),
                tier: 0,
                status: "working".into(),
                next_announce_secs: Some(100),
                seeders: Some(3),
                leechers: None,
                last_error: None,
            },
            TrackerEntry {
                url: "udp://backup.example.net:80".into(),
                tier: 1,
                status: "not_contacted".into(),
                next_announce_secs: None,
                seeders: None,
                leechers: None,
                last_error: None,
            },
        ],
        last_check: None,
        peers_by_source: PeersBySource {
            pex: 1,
            ..PeersBySource::default()
        },
    }
}

fn view<'a>(s: &'a TorrentSummary, d: Option<&'a TorrentDetail>) -> TorrentView<'a> {
    TorrentView {
        summary: s,
        detail: d,
        session: SessionDefaults {
            ratio_limit: Some(2.0),
            idle_limit_secs: None,
        },
        now_unix: 1_800_000_000,
    }
}

#[test]
fn every_state_has_its_transmission_status() {
    use TorrentStateName::*;
    assert_eq!(status(Paused, false), 0);
    assert_eq!(status(Finished, true), 0, "a torrent stopped by its ratio is stopped");
    assert_eq!(status(Error, false), 0);
    assert_eq!(status(Checking, false), 2);
    assert_eq!(status(Queued, false), 3);
    assert_eq!(status(Downloading, false), 4);
    assert_eq!(status(Queued, true), 5);
    assert_eq!(status(Seeding, true), 6);
    assert_eq!(status(Metadata, false), 4, "a magnet fetching metadata is downloading");
}

#[test]
fn limit_mode_tells_own_from_session_and_none() {
    assert_eq!(limit_mode(None, None), 0);
    assert_eq!(limit_mode(Some(2.0), Some(2.0)), 0);
    assert_eq!(limit_mode(Some(1.5), Some(2.0)), 1);
    assert_eq!(limit_mode(Some(1.5), None), 1);
    assert_eq!(limit_mode(None, Some(2.0)), 2);
}

#[test]
fn requested_fields_match_in_either_spelling_and_unknown_ones_are_dropped() {
    let names: Vec<String> = ["hashString", "file_count", "rate-download", "noSuchField"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let keys: Vec<&str> = requested(&names).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec!["file-count", "hashString", "rateDownload"]);
}

#[test]
fn summary_fields_have_transmission_types_and_units() {
    let s = summary();
    let v = view(&s, None);
    let get = |k: &str| value(k, &v).unwrap_or_else(|| panic!("{k} answered"));
    assert_eq!(get("status"), json!(4));
    assert_eq!(get("leftUntilDone"), json!(3000));
    assert_eq!(get("sizeWhenDone"), json!(4000));
    assert_eq!(get("percentDone"), json!(0.25));
    assert!(get("uploadRatio").is_f64());
    assert!(get("seedRatioLimit").is_f64());
    assert_eq!(get("seedRatioMode"), json!(1));
    assert_eq!(get("seedIdleLimit"), json!(10), "minutes");
    assert_eq!(get("seedIdleMode"), json!(1));
    assert_eq!(get("downloadLimit"), json!(250), "kB/s of 1000 bytes");
    assert_eq!(get("downloadLimited"), json!(true));
    assert_eq!(get("uploadLimited"), json!(false));
    assert_eq!(get("eta"), json!(60));
    assert_eq!(get("error"), json!(0));
    assert_eq!(get("errorString"), json!(""));
    assert_eq!(get("isFinished"), json!(false));
    assert_eq!(get("labels"), json!(["tv"]));
    assert_eq!(get("doneDate"), json!(0));
    assert!(value("files", &v).is_none(), "files need the detail");
    let mut failed = summary();
    failed.state = TorrentStateName::Error;
    failed.error = Some("disk full writing album/a.flac".into());
    failed.eta_secs = None;
    let v = view(&failed, None);
    assert_eq!(value("error", &v), Some(json!(3)));
    assert_eq!(value("errorString", &v), Some(json!("disk full writing album/a.flac")));
    assert_eq!(value("eta", &v), Some(json!(-1)));
    assert_eq!(value("status", &v), Some(json!(0)));
}

#[test]
fn detail_fields_list_files_peers_and_trackers() {
    let s = summary();
    let d = detail(&s);
    let v = view(&s, Some(&d));
    let get = |k: &str| value(k, &v).unwrap_or_else(|| panic!("{k} answered"));
    assert_eq!(get("file-count"), json!(2));
    assert_eq!(
        get("files")[1],
        json!({"bytesCompleted": 0, "length": 1000, "name": "album/cover.jpg"})
    );
    assert_eq!(
        get("fileStats")[0],
        json!({"bytesCompleted": 1000, "wanted": true, "priority": 1})
    );
    assert_eq!(get("wanted"), json!([1, 0]));
    assert_eq!(get("priorities"), json!([1, 0]));
    let peer = &get("peers")[0];
    assert_eq!(peer["address"], "127.0.0.1");
    assert_eq!(peer["port"], 6881);
    assert_eq!(peer["flagStr"], "DIX");
    assert_eq!(peer["isDownloadingFrom"], true);
    assert_eq!(peer["rateToClient"], 5000);
    assert_eq!(get("peersSendingToUs"), json!(1));
    assert_eq!(get("peersFrom")["fromPex"], 1);
    let stats = get("trackerStats");
    assert_eq!(stats[0]["host"], "http://tracker.example.org:6969");
    assert_eq!(stats[0]["sitename"], "example");
    assert_eq!(stats[0]["seederCount"], 3);
    assert_eq!(stats[0]["leecherCount"], -1);
    assert_eq!(stats[0]["nextAnnounceTime"], 1_800_000_100u64);
    assert_eq!(stats[1]["tier"], 1);
    assert_eq!(
        get("trackerList"),
        json!("http://tracker.example.org:6969/announce\n\nudp://backup.example.net:80\n")
    );
    let magnet = get("magnetLink");
    assert!(magnet.as_str().unwrap().starts_with(&format!(
        "magnet:?xt=urn:btih:{}&dn=album&tr=http%3A%2F%2F",
        "ab".repeat(20)
    )));
}

#[test]
fn a_single_file_torrent_names_its_file_alone() {
    let mut s = summary();
    s.name = "a.flac".into();
    let mut d = detail(&s);
    d.files.truncate(1);
    let v = view(&s, Some(&d));
    assert_eq!(value("files", &v).unwrap()[0]["name"], "a.flac");
}

#[test]
fn table_rows_follow_the_field_order() {
    let s = summary();
    let fields = requested(&["name".to_string(), "id".to_string()]);
    assert_eq!(row(&fields, &view(&s, None)), vec![json!(4), json!("album")]);
}
