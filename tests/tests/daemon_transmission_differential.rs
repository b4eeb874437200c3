//! The same Transmission RPC calls against a real `transmission-daemon` (Debian's
//! 3.00: own config dir, loopback, DHT/LPD/PEX/uTP off, stopped by pid) and against
//! a ccbt daemon, both seeding the same torrent: every field the *arr apps read has
//! the same JSON type, and the same value where the value is not an id, a time or a
//! path by nature.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ccbt_tests::clients::transmission::Transmission;
use ccbt_tests::clients::Opts;
use ccbt_tests::daemon_runs::{payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::transmission_rpc::RpcClient;
use serde_json::{json, Value};

const LEN: u64 = 2 << 20;
const PIECE: u64 = 32 * 1024;

/// What Sonarr/Radarr/Lidarr ask `torrent-get` for (their TransmissionProxy), plus
/// what transmission-remote's list and details need.
const ARR_FIELDS: &[&str] = &[
    "id",
    "hashString",
    "name",
    "downloadDir",
    "totalSize",
    "leftUntilDone",
    "isFinished",
    "eta",
    "status",
    "secondsDownloading",
    "secondsSeeding",
    "error",
    "errorString",
    "uploadedEver",
    "downloadedEver",
    "percentDone",
    "rateDownload",
    "rateUpload",
    "uploadRatio",
    "seedRatioLimit",
    "seedRatioMode",
    "seedIdleLimit",
    "seedIdleMode",
    "file-count",
    "labels",
    "files",
    "fileStats",
    "trackerStats",
    "peers",
    "peersConnected",
    "addedDate",
    "doneDate",
    "queuePosition",
    "sizeWhenDone",
    "haveValid",
];

/// Fields whose values must be equal (the rest are compared by type: ids, times,
/// paths, rates and counters differ by nature; `file-count` too, which Transmission
/// 3.00 answers as 0 whatever the torrent, where 4.x counts the files).
const SAME_VALUE: &[&str] = &[
    "hashString",
    "name",
    "totalSize",
    "leftUntilDone",
    "isFinished",
    "status",
    "error",
    "errorString",
    "percentDone",
    "sizeWhenDone",
    "haveValid",
    "labels",
    "peersConnected",
];

/// Doubles in Transmission, which it may print without a fraction.
const DOUBLES: &[&str] = &["percentDone", "uploadRatio", "seedRatioLimit", "progress"];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "double",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in type between Transmission's value and ours, recursively, with
/// the path of each.
fn type_differences(path: &str, theirs: &Value, ours: &Value, out: &mut Vec<String>) {
    let key = path.rsplit('.').next().unwrap_or(path);
    let (k_theirs, k_ours) = (kind(theirs), kind(ours));
    let numeric = |k: &str| k == "integer" || k == "double";
    let same = k_theirs == k_ours || (numeric(k_theirs) && numeric(k_ours) && DOUBLES.contains(&key));
    if !same {
        out.push(format!(
            "{path}: transmission {k_theirs} {theirs}, ccbt {k_ours} {ours}"
        ));
        return;
    }
    match (theirs, ours) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => type_differences(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k}: missing in ccbt's answer")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                type_differences(&format!("{path}[0]"), x, y, out);
            }
        }
        _ => {}
    }
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-6,
        _ => a == b,
    }
}

#[test]
fn transmission_and_ccbt_answer_the_arr_calls_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "ccbt");
    let data = opts.download_dir.clone();
    std::fs::create_dir_all(&data).unwrap();
    let (torrent, hash) = payload_torrent(&data, "movie.mkv", LEN, 9, PIECE, &[]);
    let tr_data = tmp.path().join("transmission-data");
    std::fs::create_dir_all(&tr_data).unwrap();
    std::fs::copy(data.join("movie.mkv"), tr_data.join("movie.mkv")).unwrap();

    let transmission = Transmission::start_seeder(
        &torrent,
        &tr_data,
        &Opts::default().with_listen_ip(Ipv4Addr::new(127, 0, 0, 8)),
    );
    let mut daemon = DaemonUnderTest::start(opts);
    let ccbt = RpcClient::new(SocketAddr::from((Ipv4Addr::LOCALHOST, daemon.opts.api_port)));
    let added = ccbt.call("torrent-add", json!({"filename": torrent, "download-dir": data}));
    let id = added["torrent-added"]["id"].as_u64().unwrap();
    daemon.wait_state(&id.to_string(), "seeding", Duration::from_secs(60));

    let mut differences = Vec::new();

    // session-get: the keys the *arr apps and transmission-remote read.
    let theirs = transmission.rpc("session-get", json!({}));
    let ours = ccbt.call("session-get", json!({}));
    for key in [
        "version",
        "rpc-version",
        "rpc-version-minimum",
        "download-dir",
        "seedRatioLimit",
        "seedRatioLimited",
        "idle-seeding-limit",
        "idle-seeding-limit-enabled",
        "speed-limit-down",
        "speed-limit-down-enabled",
        "speed-limit-up",
        "speed-limit-up-enabled",
        "alt-speed-down",
        "alt-speed-up",
        "alt-speed-enabled",
        "download-queue-size",
        "download-queue-enabled",
        "seed-queue-size",
        "seed-queue-enabled",
        "peer-port",
        "units",
    ] {
        match (theirs.get(key), ours.get(key)) {
            (Some(a), Some(b)) => type_differences(&format!("session-get.{key}"), a, b, &mut differences),
            (Some(_), None) => differences.push(format!("session-get.{key}: missing in ccbt's answer")),
            (None, _) => {}
        }
    }
    // Transmission 3.00 says rpc-version 16; we say 17 (4.0.x); both at least the 14
    // the *arr apps need, and `version` starts with a number.
    assert!(ours["rpc-version"].as_u64().unwrap() >= 14);
    assert!(ours["version"]
        .as_str()
        .unwrap()
        .starts_with(|c: char| c.is_ascii_digit()));

    // session-stats: every key and its type.
    let theirs = transmission.rpc("session-stats", json!({}));
    let ours = ccbt.call("session-stats", json!({}));
    type_differences("session-stats", &theirs, &ours, &mut differences);

    // torrent-get with the *arr fields, by hash (the ids differ by nature).
    let get = json!({"ids": [hash], "fields": ARR_FIELDS});
    let theirs = transmission.rpc("torrent-get", get.clone())["torrents"][0].clone();
    let ours = ccbt.call("torrent-get", get)["torrents"][0].clone();
    assert!(
        theirs.is_object() && ours.is_object(),
        "transmission {theirs}, ccbt {ours}"
    );
    for field in ARR_FIELDS {
        let (Some(a), Some(b)) = (theirs.get(*field), ours.get(*field)) else {
            if theirs.get(*field).is_some() {
                differences.push(format!("torrent-get.{field}: missing in ccbt's answer"));
            }
            continue;
        };
        type_differences(&format!("torrent-get.{field}"), a, b, &mut differences);
        if SAME_VALUE.contains(field) && !same_number(a, b) {
            differences.push(format!("torrent-get.{field}: transmission {a}, ccbt {b}"));
        }
    }
    // Same files with the same names, lengths and wanted flags.
    let names = |t: &Value| -> Vec<(Value, Value)> {
        t["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].clone(), f["length"].clone()))
            .collect()
    };
    assert_eq!(names(&theirs), names(&ours), "files");
    assert_eq!(
        theirs["fileStats"][0]["wanted"], ours["fileStats"][0]["wanted"],
        "fileStats.wanted"
    );
    // A complete torrent: no ETA in either (a negative number).
    assert!(
        theirs["eta"].as_i64().unwrap() < 0 && ours["eta"].as_i64().unwrap() < 0,
        "eta: {theirs} / {ours}"
    );

    // Labels set through torrent-set read back the same.
    for (name, set) in [
        (
            "transmission",
            transmission.try_rpc("torrent-set", json!({"ids": [hash], "labels": ["radarr", "4k"]})),
        ),
        (
            "ccbt",
            ccbt.try_call("torrent-set", json!({"ids": [hash], "labels": ["radarr", "4k"]})),
        ),
    ] {
        set.unwrap_or_else(|e| panic!("{name} torrent-set labels: {e}"));
    }
    let labels = json!({"ids": [hash], "fields": ["labels"]});
    assert_eq!(
        transmission.rpc("torrent-get", labels.clone())["torrents"][0]["labels"],
        ccbt.call("torrent-get", labels)["torrents"][0]["labels"]
    );

    // Adding it again is a duplicate in both, with the same shape.
    let theirs = transmission.rpc("torrent-add", json!({"filename": torrent}));
    let ours = ccbt.call("torrent-add", json!({"filename": torrent}));
    type_differences("torrent-add", &theirs, &ours, &mut differences);
    assert_eq!(ours["torrent-duplicate"]["hashString"], hash.as_str());

    // An unknown method is an error text in `result` in both.
    let theirs = transmission.try_rpc("torrent-explode", json!({})).unwrap_err();
    let ours = ccbt.try_call("torrent-explode", json!({})).unwrap_err();
    assert!(theirs.contains("method name not recognized"), "{theirs}");
    assert!(ours.contains("method name not recognized"), "{ours}");

    assert!(
        differences.is_empty(),
        "ccbt answers differently:\n{}",
        differences.join("\n")
    );
    daemon.terminate();
    drop(transmission);
}
