//! `torrent-set`: limits, the seeding ratio, labels, wanted files and their
//! priorities, the queue position, sequential order and trackers of the torrents
//! `ids` selects. Every argument is read (and refused if unreadable) before anything
//! changes; keys we do not handle are ignored, as Transmission ignores unknown ones.

use serde_json::{Map, Value};

use super::rpc_args::Args;
use super::rpc_error::{RpcCode, RpcError};
use super::torrent_fields::SPEED_UNIT;
use super::torrent_get::selected;
use super::RpcService;
use crate::api_types::{FilePriorityName, FilesPatch, LimitKeyword, LimitSetting, QueueMove, TorrentPatch};
use crate::control::ControlRequest;

/// A per-torrent speed limit from its kB/s value and `…Limited` switch.
fn speed(
    args: &Args,
    value_key: &str,
    enabled_key: &str,
    current: Option<u64>,
) -> Result<Option<LimitSetting<u64>>, RpcError> {
    let value = args.u64(value_key)?;
    let enabled = args.bool(enabled_key)?;
    Ok(match (enabled, value) {
        (Some(false), _) => Some(LimitSetting::Keyword(LimitKeyword::None)),
        (Some(true), Some(kb)) => Some(LimitSetting::Value(kb.max(1) * SPEED_UNIT)),
        (Some(true), None) => Some(LimitSetting::Value(current.unwrap_or(100 * SPEED_UNIT))),
        (None, Some(kb)) if current.is_some() => Some(LimitSetting::Value(kb.max(1) * SPEED_UNIT)),
        _ => None,
    })
}

/// `seedRatioMode` (0 session, 1 own, 2 none) with `seedRatioLimit`.
fn ratio(args: &Args, current: Option<f64>) -> Result<Option<LimitSetting<f64>>, RpcError> {
    let limit = args.f64("seed_ratio_limit")?;
    if let Some(r) = limit {
        if r < 0.0 {
            return Err(RpcError::invalid_params(format!(
                "argument `seedRatioLimit`: {r} is not a ratio >= 0"
            )));
        }
    }
    let mode = args.i64("seed_ratio_mode")?;
    Ok(match (mode, limit) {
        (Some(0), _) => Some(LimitSetting::Keyword(LimitKeyword::Global)),
        (Some(1), Some(r)) => Some(LimitSetting::Value(r)),
        (Some(1), None) => Some(LimitSetting::Value(current.unwrap_or(2.0))),
        (Some(2), _) => Some(LimitSetting::Keyword(LimitKeyword::None)),
        (Some(other), _) => {
            return Err(RpcError::invalid_params(format!(
                "argument `seedRatioMode`: {other} is not 0 (session), 1 (own) or 2 (none)"
            )))
        }
        // A limit alone: Transmission keeps it for when the mode is "own"; we apply it.
        (None, Some(r)) => Some(LimitSetting::Value(r)),
        (None, None) => None,
    })
}

/// `seedIdleMode` (0 session, 1 own, 2 none) with `seedIdleLimit` in minutes.
fn idle(args: &Args, current_secs: Option<u64>) -> Result<Option<LimitSetting<u64>>, RpcError> {
    let minutes = args.u64("seed_idle_limit")?;
    Ok(match (args.i64("seed_idle_mode")?, minutes) {
        (Some(0), _) => Some(LimitSetting::Keyword(LimitKeyword::Global)),
        (Some(1), Some(m)) => Some(LimitSetting::Value(m.max(1) * 60)),
        (Some(1), None) => Some(LimitSetting::Value(current_secs.unwrap_or(30 * 60))),
        (Some(2), _) => Some(LimitSetting::Keyword(LimitKeyword::None)),
        (Some(other), _) => {
            return Err(RpcError::invalid_params(format!(
                "argument `seedIdleMode`: {other} is not 0 (session), 1 (own) or 2 (none)"
            )))
        }
        (None, Some(m)) => Some(LimitSetting::Value(m.max(1) * 60)),
        (None, None) => None,
    })
}

/// One change to a torrent's files: which (empty = every file), the priority, and
/// whether it is only a priority (which leaves skipped files skipped).
#[derive(Clone, Debug, PartialEq)]
struct FileChange {
    files: Vec<usize>,
    priority: FilePriorityName,
    priority_only: bool,
}

/// The file changes, in the order Transmission applies them: wanted, unwanted,
/// then priorities.
fn file_changes(args: &Args) -> Result<Vec<FileChange>, RpcError> {
    let mut changes = Vec::new();
    for (key, priority, priority_only) in [
        ("files_wanted", FilePriorityName::Normal, false),
        ("files_unwanted", FilePriorityName::Skip, false),
        ("priority_high", FilePriorityName::High, true),
        ("priority_low", FilePriorityName::Low, true),
        ("priority_normal", FilePriorityName::Normal, true),
    ] {
        if let Some(files) = args.indexes(key)? {
            changes.push(FileChange {
                files,
                priority,
                priority_only,
            });
        }
    }
    Ok(changes)
}

pub async fn torrent_set(svc: &RpcService, args: &Args) -> Result<Map<String, Value>, RpcError> {
    let labels = args.strings("labels")?;
    if let Some(labels) = &labels {
        if let Some(bad) = labels.iter().find(|l| l.trim().is_empty() || l.contains(',')) {
            return Err(RpcError::invalid_params(format!(
                "argument `labels`: {bad:?} is empty or contains a comma"
            )));
        }
    }
    let queue_position = args.u64("queue_position")?;
    let sequential = args.bool("sequential_download")?;
    let tracker_add = args.strings("tracker_add")?;
    let tracker_list = args.str("tracker_list")?.map(str::to_string);
    let location = args.str("location")?.map(str::to_string);
    if let Some(dir) = &location {
        if !std::path::Path::new(dir).is_absolute() {
            return Err(RpcError::new(
                RpcCode::PathNotAbsolute,
                format!("argument `location`: {dir:?} is not an absolute path"),
            ));
        }
    }
    let files = file_changes(args)?;
    let (torrents, _) = selected(svc, args).await?;
    for t in torrents {
        let mut patch = TorrentPatch {
            download_limit: speed(args, "download_limit", "download_limited", t.download_limit)?,
            upload_limit: speed(args, "upload_limit", "upload_limited", t.upload_limit)?,
            ratio_limit: ratio(args, t.ratio_limit)?,
            idle_limit_secs: idle(args, t.idle_limit_secs)?,
            labels: labels.clone(),
            sequential,
            move_to: location.clone().filter(|dir| *dir != t.download_dir),
            ..TorrentPatch::default()
        };
        if tracker_add.is_some() || tracker_list.is_some() {
            let id = t.id.to_string();
            let current: Vec<String> = svc
                .handle
                .call(|reply| ControlRequest::Trackers { id, reply })
                .await?
                .into_iter()
                .map(|e| e.url)
                .collect();
            let mut wanted: Vec<String> = tracker_add.clone().unwrap_or_default();
            if let Some(list) = &tracker_list {
                wanted.extend(
                    list.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_string),
                );
                patch.remove_trackers = Some(current.iter().filter(|u| !wanted.contains(u)).cloned().collect());
            }
            patch.add_trackers = Some(wanted.into_iter().filter(|u| !current.contains(u)).collect());
        }
        let id = t.id.to_string();
        if patch != TorrentPatch::default() {
            svc.handle
                .call(|reply| ControlRequest::PatchTorrent {
                    id: id.clone(),
                    patch,
                    reply,
                })
                .await?;
        }
        if !files.is_empty() {
            let entries = svc
                .handle
                .call(|reply| ControlRequest::Files { id: id.clone(), reply })
                .await?;
            for change in &files {
                let mut chosen: Vec<usize> = if change.files.is_empty() {
                    (0..entries.len()).collect()
                } else {
                    change.files.clone()
                };
                if let Some(bad) = chosen.iter().find(|&&i| i >= entries.len()) {
                    return Err(RpcError::new(
                        RpcCode::FileIndexOutOfRange,
                        format!("torrent {}: there is no file {bad} (it has {})", t.id, entries.len()),
                    ));
                }
                // A priority does not make a skipped file wanted; `files-wanted` does.
                if change.priority_only {
                    chosen.retain(|&i| entries[i].priority != FilePriorityName::Skip);
                }
                if chosen.is_empty() {
                    continue;
                }
                let patch = FilesPatch {
                    files: chosen,
                    priority: change.priority,
                };
                svc.handle
                    .call(|reply| ControlRequest::PatchFiles {
                        id: id.clone(),
                        patch,
                        reply,
                    })
                    .await?;
            }
        }
        if let Some(pos) = queue_position {
            let to = QueueMove::Position(pos.min(u64::from(u32::MAX)) as u32);
            match svc
                .handle
                .call(|reply| ControlRequest::MoveInQueue {
                    id: id.clone(),
                    to,
                    reply,
                })
                .await
            {
                Ok(_) => {}
                Err(e) if e.code == "conflict" => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => Args::new(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn ratio_modes() {
        assert_eq!(
            ratio(&args(json!({"seedRatioMode": 1, "seedRatioLimit": 1.5})), None).unwrap(),
            Some(LimitSetting::Value(1.5))
        );
        assert_eq!(
            ratio(&args(json!({"seedRatioMode": 0})), Some(3.0)).unwrap(),
            Some(LimitSetting::Keyword(LimitKeyword::Global))
        );
        assert_eq!(
            ratio(&args(json!({"seedRatioMode": 2})), Some(3.0)).unwrap(),
            Some(LimitSetting::Keyword(LimitKeyword::None))
        );
        assert!(ratio(&args(json!({"seedRatioMode": 7})), None).is_err());
        assert!(ratio(&args(json!({"seedRatioLimit": -1})), None).is_err());
        assert_eq!(ratio(&args(json!({})), None).unwrap(), None);
    }

    #[test]
    fn idle_limits_are_minutes() {
        assert_eq!(
            idle(&args(json!({"seedIdleMode": 1, "seedIdleLimit": 5})), None).unwrap(),
            Some(LimitSetting::Value(300))
        );
        assert_eq!(
            idle(&args(json!({"seedIdleMode": 2})), Some(60)).unwrap(),
            Some(LimitSetting::Keyword(LimitKeyword::None))
        );
        assert!(idle(&args(json!({"seedIdleMode": 3})), None).is_err());
    }

    #[test]
    fn files_wanted_and_priorities_in_order() {
        let changes = file_changes(&args(
            json!({"files-unwanted": [1], "priority-high": [], "files-wanted": [0]}),
        ))
        .unwrap();
        let got: Vec<(Vec<usize>, FilePriorityName, bool)> = changes
            .into_iter()
            .map(|c| (c.files, c.priority, c.priority_only))
            .collect();
        assert_eq!(
            got,
            vec![
                (vec![0], FilePriorityName::Normal, false),
                (vec![1], FilePriorityName::Skip, false),
                (vec![], FilePriorityName::High, true),
            ]
        );
    }
}
