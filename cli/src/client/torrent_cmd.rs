//! `btbt torrent …`: actions on torrents already in the daemon (pause, resume,
//! force-start, verify, reannounce, remove, set, trackers).

use std::path::Path;

use ccbt_daemon::api_types::{LimitSetting, TorrentPatch, TorrentSummary};

use super::api_client::{ApiClient, Method};
use super::table;
use super::torrent_id::TorrentId;
use crate::error::CliError;
pub use ccbt_daemon::control::TorrentAction;

/// The torrents a command acts on: those named, or every one (`--all`).
pub fn targets(client: &ApiClient, ids: Vec<TorrentId>, all: bool) -> Result<Vec<TorrentId>, CliError> {
    if !all {
        return Ok(ids);
    }
    let torrents: Vec<TorrentSummary> = client.get("/torrents")?;
    Ok(torrents.iter().map(|t| TorrentId::Number(t.id)).collect())
}

/// Runs `f` on each target. One target: its error as it is. Several: each error
/// is printed as it happens (after `label(target)`, when not empty) and the others
/// still run; an unreachable daemon stops at once.
pub fn for_each<T>(
    targets: &[T],
    label: impl Fn(&T) -> String,
    mut f: impl FnMut(&T) -> Result<(), CliError>,
) -> Result<(), CliError> {
    if let [only] = targets {
        return f(only);
    }
    let mut failed = 0;
    let mut exit_code = 0;
    for target in targets {
        match f(target) {
            Ok(()) => {}
            Err(e @ CliError::DaemonUnreachable { .. }) => return Err(e),
            Err(e) => {
                match label(target) {
                    l if l.is_empty() => eprintln!("btbt: error: {e}"),
                    l => eprintln!("btbt: error: {l}: {e}"),
                }
                failed += 1;
                exit_code = exit_code.max(e.exit_code());
            }
        }
    }
    if failed > 0 {
        return Err(CliError::PartlyFailed {
            failed,
            total: targets.len(),
            exit_code,
        });
    }
    Ok(())
}

/// `btbt torrent pause|resume|force-start|verify|reannounce <ID>...|--all`.
pub fn act(client: &ApiClient, ids: Vec<TorrentId>, all: bool, action: TorrentAction) -> Result<(), CliError> {
    let targets = targets(client, ids, all)?;
    if targets.is_empty() {
        println!("no torrents");
        return Ok(());
    }
    for_each(&targets, TorrentId::to_string, |id| {
        let summary: TorrentSummary =
            client.send::<(), _>(Method::Post, &id.route(&format!("/{}", action.segment())), None)?;
        println!("{}  {}: {}", summary.id, summary.name, summary.state.as_str());
        Ok(())
    })
}

/// `btbt torrent remove <ID>... [--delete-data]`.
pub fn remove(client: &ApiClient, ids: Vec<TorrentId>, all: bool, delete_data: bool) -> Result<(), CliError> {
    let targets = targets(client, ids, all)?;
    let query: Vec<(&str, String)> = if delete_data {
        vec![("delete_data", "true".to_string())]
    } else {
        Vec::new()
    };
    for_each(&targets, TorrentId::to_string, |id| {
        client.send_no_answer(Method::Delete, &id.route(""), &query)?;
        println!("removed {id}{}", if delete_data { " and its data" } else { "" });
        Ok(())
    })
}

/// What `btbt torrent set` was given; every field optional.
#[derive(Clone, Debug, Default)]
pub struct SetOptions {
    pub down: Option<LimitSetting<u64>>,
    pub up: Option<LimitSetting<u64>>,
    pub ratio_limit: Option<LimitSetting<f64>>,
    pub seed_time_limit: Option<LimitSetting<u64>>,
    pub idle_limit: Option<LimitSetting<u64>>,
    pub sequential: Option<bool>,
    pub move_to: Option<std::path::PathBuf>,
    pub labels: Option<Vec<String>>,
}

impl SetOptions {
    /// The PATCH body; `--move` relative to where `btbt` runs (the daemon's own
    /// working directory means nothing to the user).
    pub fn to_patch(&self, cwd: &Path) -> Option<TorrentPatch> {
        let patch = TorrentPatch {
            download_limit: self.down,
            upload_limit: self.up,
            ratio_limit: self.ratio_limit,
            seed_time_limit_secs: self.seed_time_limit,
            idle_limit_secs: self.idle_limit,
            sequential: self.sequential,
            labels: self.labels.clone(),
            move_to: self
                .move_to
                .as_ref()
                .map(|d| cwd.join(d).to_string_lossy().into_owned()),
            add_trackers: None,
            remove_trackers: None,
        };
        (patch != TorrentPatch::default()).then_some(patch)
    }
}

/// `btbt torrent set ID …`: one PATCH, then the settings it now has.
pub fn set(client: &ApiClient, id: &TorrentId, options: &SetOptions) -> Result<(), CliError> {
    let cwd = std::env::current_dir().map_err(|source| CliError::ReadFile {
        path: ".".into(),
        source,
    })?;
    let patch = options.to_patch(&cwd).ok_or_else(|| CliError::BadFlag {
        flag: "torrent set",
        value: id.to_string(),
        reason: "nothing to set: give --down, --up, --ratio-limit, --seed-time-limit, --idle-limit, --sequential, --label or --move"
            .into(),
    })?;
    let s: TorrentSummary = client.send(Method::Patch, &id.route(""), Some(&patch))?;
    println!("{}", describe_settings(&s));
    Ok(())
}

/// `btbt torrent add-tracker|remove-tracker ID URL`.
pub fn trackers(client: &ApiClient, id: &TorrentId, url: String, add: bool) -> Result<(), CliError> {
    let patch = if add {
        TorrentPatch {
            add_trackers: Some(vec![url.clone()]),
            ..TorrentPatch::default()
        }
    } else {
        TorrentPatch {
            remove_trackers: Some(vec![url.clone()]),
            ..TorrentPatch::default()
        }
    };
    let s: TorrentSummary = client.send(Method::Patch, &id.route(""), Some(&patch))?;
    println!("{}  {}: {} {url}", s.id, s.name, if add { "added" } else { "removed" });
    Ok(())
}

/// One line with a torrent's own settings.
pub fn describe_settings(s: &TorrentSummary) -> String {
    format!(
        "{}  {}: down {}, up {}, ratio limit {}, seed time limit {}, idle limit {}, sequential {}, in {}",
        s.id,
        s.name,
        table::limit(s.download_limit),
        table::limit(s.upload_limit),
        s.ratio_limit.map_or("none".to_string(), table::ratio),
        s.seed_time_limit_secs
            .map_or("none".to_string(), |t| table::duration(Some(t))),
        s.idle_limit_secs
            .map_or("none".to_string(), |t| table::duration(Some(t))),
        if s.sequential { "on" } else { "off" },
        s.download_dir
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::LimitKeyword;

    #[test]
    fn set_builds_only_the_fields_given() {
        assert_eq!(SetOptions::default().to_patch(Path::new("/w")), None);
        let options = SetOptions {
            down: Some(LimitSetting::Value(1 << 20)),
            ratio_limit: Some(LimitSetting::Keyword(LimitKeyword::Global)),
            move_to: Some("data/new".into()),
            ..SetOptions::default()
        };
        let patch = options.to_patch(Path::new("/w")).unwrap();
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            serde_json::json!({
                "download_limit": 1048576,
                "upload_limit": null,
                "ratio_limit": "global",
                "seed_time_limit_secs": null,
                "idle_limit_secs": null,
                "sequential": null,
                "labels": null,
                "move_to": "/w/data/new",
                "add_trackers": null,
                "remove_trackers": null,
            })
        );
        let absolute = SetOptions {
            move_to: Some("/srv/x".into()),
            ..SetOptions::default()
        };
        assert_eq!(
            absolute.to_patch(Path::new("/w")).unwrap().move_to.as_deref(),
            Some("/srv/x")
        );
    }

    #[test]
    fn one_target_keeps_its_error_several_count_failures() {
        let one = [TorrentId::Number(1)];
        let err = for_each(&one, TorrentId::to_string, |_| {
            Err(CliError::Api {
                status: 404,
                code: "not_found".into(),
                message: "no torrent 1".into(),
            })
        })
        .unwrap_err();
        assert_eq!((err.to_string().as_str(), err.exit_code()), ("no torrent 1", 2));

        let three = [TorrentId::Number(1), TorrentId::Number(2), TorrentId::Number(3)];
        let mut seen = Vec::new();
        let err = for_each(&three, TorrentId::to_string, |id| {
            seen.push(id.clone());
            if *id == TorrentId::Number(2) {
                Err(CliError::BadTorrentId { arg: "x".into() })
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(seen.len(), 3, "a failure does not stop the others");
        assert_eq!((err.to_string().as_str(), err.exit_code()), ("1 of 3 failed", 2));
    }
}
