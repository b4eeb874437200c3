//! `torrents/info`: the filters, category and tag selection, hashes, sorting and
//! paging of qBittorrent's torrent list.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::QbtError;
use super::form::{split_list, QbtForm};
use super::torrent_view::{category_of, tags_of, torrent_object};
use crate::api_types::TorrentSummary;
use crate::core::change_log::Category;

/// The `filter` values qBittorrent 5 takes (4.x's `paused`/`resumed` too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFilter {
    All,
    Downloading,
    Seeding,
    Completed,
    Stopped,
    Running,
    Active,
    Inactive,
    Stalled,
    StalledUploading,
    StalledDownloading,
    Checking,
    Moving,
    Errored,
}

impl StateFilter {
    pub fn parse(s: &str) -> Result<StateFilter, QbtError> {
        Ok(match s {
            "" | "all" => StateFilter::All,
            "downloading" => StateFilter::Downloading,
            "seeding" => StateFilter::Seeding,
            "completed" => StateFilter::Completed,
            "stopped" | "paused" => StateFilter::Stopped,
            "running" | "resumed" => StateFilter::Running,
            "active" => StateFilter::Active,
            "inactive" => StateFilter::Inactive,
            "stalled" => StateFilter::Stalled,
            "stalled_uploading" => StateFilter::StalledUploading,
            "stalled_downloading" => StateFilter::StalledDownloading,
            "checking" => StateFilter::Checking,
            "moving" => StateFilter::Moving,
            "errored" => StateFilter::Errored,
            other => return Err(QbtError::bad_request(format!("filter: unknown filter {other:?}"))),
        })
    }

    /// Whether a torrent in qBittorrent state `state` (with these rates) passes.
    pub fn matches(self, state: &str, dlspeed: u64, upspeed: u64) -> bool {
        let active = dlspeed > 0 || upspeed > 0;
        match self {
            StateFilter::All => true,
            StateFilter::Downloading => matches!(
                state,
                "downloading"
                    | "metaDL"
                    | "forcedMetaDL"
                    | "stalledDL"
                    | "checkingDL"
                    | "stoppedDL"
                    | "queuedDL"
                    | "forcedDL"
            ),
            StateFilter::Seeding => matches!(
                state,
                "uploading" | "stalledUP" | "checkingUP" | "queuedUP" | "forcedUP"
            ),
            StateFilter::Completed => state.ends_with("UP") || state == "uploading",
            StateFilter::Stopped => matches!(state, "stoppedUP" | "stoppedDL"),
            StateFilter::Running => !matches!(state, "stoppedUP" | "stoppedDL"),
            StateFilter::Active => active,
            StateFilter::Inactive => !active,
            StateFilter::Stalled => matches!(state, "stalledUP" | "stalledDL"),
            StateFilter::StalledUploading => state == "stalledUP",
            StateFilter::StalledDownloading => state == "stalledDL",
            StateFilter::Checking => matches!(state, "checkingUP" | "checkingDL" | "checkingResumeData"),
            StateFilter::Moving => state == "moving",
            StateFilter::Errored => matches!(state, "error" | "missingFiles"),
        }
    }
}

/// Orders two JSON values: numbers by value, strings as text, booleans false first.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// The `torrents/info` answer for `form`.
pub fn list(
    summaries: &[TorrentSummary],
    categories: &BTreeMap<String, Category>,
    form: &QbtForm,
) -> Result<Vec<Map<String, Value>>, QbtError> {
    let filter = StateFilter::parse(form.get("filter").unwrap_or(""))?;
    let category = form.get("category");
    let tag = form.get("tag");
    let hashes: Option<Vec<String>> = form
        .get("hashes")
        .filter(|h| !h.trim().eq_ignore_ascii_case("all"))
        .map(|h| split_list(h, '|').map(|h| h.to_ascii_lowercase()).collect());
    let mut rows: Vec<Map<String, Value>> = summaries
        .iter()
        .filter(|s| hashes.as_ref().is_none_or(|h| h.contains(&s.info_hash)))
        // An empty category (or tag) means "without one"; absent means any.
        .filter(|s| category.is_none_or(|c| category_of(s, categories) == c))
        .filter(|s| {
            tag.is_none_or(|t| {
                let tags = tags_of(s, categories);
                if t.is_empty() {
                    tags.is_empty()
                } else {
                    tags.iter().any(|x| x == t)
                }
            })
        })
        .map(|s| torrent_object(s, categories))
        .filter(|o| {
            let state = o.get("state").and_then(Value::as_str).unwrap_or("");
            let dl = o.get("dlspeed").and_then(Value::as_u64).unwrap_or(0);
            let up = o.get("upspeed").and_then(Value::as_u64).unwrap_or(0);
            filter.matches(state, dl, up)
        })
        .collect();
    if let Some(key) = form.get("sort").filter(|k| !k.is_empty()) {
        rows.sort_by(|a, b| compare(a.get(key), b.get(key)));
    }
    if form.bool("reverse")?.unwrap_or(false) {
        rows.reverse();
    }
    let offset: i64 = form.number("offset")?.unwrap_or(0);
    let limit: i64 = form.number("limit")?.unwrap_or(0);
    let len = rows.len() as i64;
    // A negative offset counts from the end, as qBittorrent does.
    let start = if offset < 0 {
        (len + offset).max(0)
    } else {
        offset.min(len)
    } as usize;
    let mut rows = rows.split_off(start);
    if limit > 0 {
        rows.truncate(limit as usize);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_types::TorrentStateName;

    fn summary(id: u32, name: &str, state: TorrentStateName, progress: f64, labels: &[&str]) -> TorrentSummary {
        TorrentSummary {
            state,
            progress,
            verified_bytes: 0,
            total_bytes: u64::from(id) * 100,
            wanted_bytes: u64::from(id) * 100,
            download_rate: 0,
            downloaded: 0,
            uploaded: 0,
            ratio: 0.0,
            peers: 0,
            eta_secs: None,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            download_dir: "/d".into(),
            queue_position: None,
            shard: None,
            added_at: u64::from(id),
            seconds_downloading: 0,
            ..TorrentSummary::sample(id, name)
        }
    }

    fn form(pairs: &[(&str, &str)]) -> QbtForm {
        QbtForm {
            fields: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            files: vec![],
        }
    }

    fn names(rows: &[Map<String, Value>]) -> Vec<String> {
        rows.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
    }

    fn fixture() -> (Vec<TorrentSummary>, BTreeMap<String, Category>) {
        let all = vec![
            summary(1, "b-seed", TorrentStateName::Seeding, 1.0, &["tv", "hd"]),
            summary(2, "a-down", TorrentStateName::Downloading, 0.2, &["movies"]),
            summary(3, "c-paused", TorrentStateName::Paused, 1.0, &[]),
            summary(4, "d-err", TorrentStateName::Error, 0.1, &["tv"]),
        ];
        let mut cats = BTreeMap::new();
        for c in ["tv", "movies"] {
            cats.insert(
                c.to_string(),
                Category {
                    name: c.into(),
                    save_path: String::new(),
                },
            );
        }
        (all, cats)
    }

    #[test]
    fn filters_select_by_state() {
        let (all, cats) = fixture();
        let by = |f: &str| names(&list(&all, &cats, &form(&[("filter", f)])).unwrap());
        assert_eq!(by("all").len(), 4);
        assert_eq!(by("seeding"), vec!["b-seed"]);
        assert_eq!(by("downloading"), vec!["a-down"]);
        assert_eq!(by("completed"), vec!["b-seed", "c-paused"]);
        assert_eq!(by("stopped"), vec!["c-paused"]);
        assert_eq!(by("paused"), vec!["c-paused"]);
        assert_eq!(by("running").len(), 3);
        assert_eq!(by("errored"), vec!["d-err"]);
        assert_eq!(by("stalled"), vec!["b-seed", "a-down"]);
        assert_eq!(by("active").len(), 0);
        let e = list(&all, &cats, &form(&[("filter", "bogus")])).unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn category_tag_and_hashes_select() {
        let (all, cats) = fixture();
        let rows = |p: &[(&str, &str)]| names(&list(&all, &cats, &form(p)).unwrap());
        assert_eq!(rows(&[("category", "tv")]), vec!["b-seed", "d-err"]);
        assert_eq!(rows(&[("category", "")]), vec!["c-paused"]);
        assert_eq!(rows(&[("tag", "hd")]), vec!["b-seed"]);
        let h = format!("{:040x}|{:040X}", 2, 3);
        assert_eq!(rows(&[("hashes", h.as_str())]), vec!["a-down", "c-paused"]);
    }

    #[test]
    fn sort_reverse_limit_and_offset() {
        let (all, cats) = fixture();
        let rows = |p: &[(&str, &str)]| names(&list(&all, &cats, &form(p)).unwrap());
        assert_eq!(rows(&[("sort", "name")]), vec!["a-down", "b-seed", "c-paused", "d-err"]);
        assert_eq!(
            rows(&[("sort", "size"), ("reverse", "true")]),
            vec!["d-err", "c-paused", "a-down", "b-seed"]
        );
        assert_eq!(
            rows(&[("sort", "name"), ("limit", "2"), ("offset", "1")]),
            vec!["b-seed", "c-paused"]
        );
        assert_eq!(rows(&[("sort", "name"), ("offset", "-1")]), vec!["d-err"]);
        assert!(rows(&[("offset", "99")]).is_empty());
        assert_eq!(list(&all, &cats, &form(&[("limit", "x")])).unwrap_err().status, 400);
    }
}
