//! The torrent actions: stop/start (and 4.x's pause/resume), recheck, reannounce,
//! delete, categories and tags on torrents, share and rate limits, queue moves,
//! force start, location, sequential order and file priorities.
//!
//! As qBittorrent, an action names torrents by `hashes=a|b` (or `all`) and skips
//! hashes it does not know.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;

use super::error::{text, QbtError};
use super::form::{split_list, HashSelection, QbtForm};
use super::torrent_view::category_of;
use super::QbtState;
use crate::api_types::{
    FilePriorityName, FilesPatch, LimitKeyword, LimitSetting, QueueMove, TorrentPatch, TorrentSummary,
};
use crate::control::{CategoryEdit, ControlRequest, TorrentAction};

pub(super) const SIMPLE_ACTIONS: [(&str, TorrentAction); 6] = [
    ("stop", TorrentAction::Pause),
    ("pause", TorrentAction::Pause),
    ("start", TorrentAction::Resume),
    ("resume", TorrentAction::Resume),
    ("recheck", TorrentAction::Verify),
    ("reannounce", TorrentAction::Reannounce),
];

pub(super) const QUEUE_MOVES: [(&str, QueueMove); 4] = [
    ("topPrio", QueueMove::Top),
    ("bottomPrio", QueueMove::Bottom),
    ("increasePrio", QueueMove::Up),
    ("decreasePrio", QueueMove::Down),
];

/// The torrents a request names, as the core's summaries (unknown hashes skipped).
async fn selected(state: &QbtState, form: &QbtForm) -> Result<Vec<TorrentSummary>, QbtError> {
    let selection = form.hashes()?;
    let all = state.handle.call(ControlRequest::ListTorrents).await?;
    Ok(match selection {
        HashSelection::All => all,
        HashSelection::Some(hashes) => {
            let mut by_hash: HashMap<String, TorrentSummary> =
                all.into_iter().map(|s| (s.info_hash.clone(), s)).collect();
            hashes.iter().filter_map(|h| by_hash.remove(h)).collect()
        }
    })
}

/// The core's "not found" (a torrent removed meanwhile) and "not running" (a
/// reannounce of a stopped torrent) are skipped, as qBittorrent skips them.
fn skippable(e: &crate::control::ApiError) -> bool {
    e.status == 404 || e.code == "conflict"
}

async fn patch(state: &QbtState, hash: &str, patch: TorrentPatch) -> Result<(), QbtError> {
    let id = hash.to_string();
    match state
        .handle
        .call(|reply| ControlRequest::PatchTorrent { id, patch, reply })
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.status == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sends one request per torrent, named by its hash, skipping what [`skippable`] skips.
async fn request_each<T>(
    state: &QbtState,
    torrents: impl IntoIterator<Item = TorrentSummary>,
    request: impl Fn(String, crate::control::Reply<T>) -> ControlRequest,
) -> Result<(), QbtError> {
    for t in torrents {
        match state.handle.call(|reply| request(t.info_hash, reply)).await {
            Ok(_) => {}
            Err(e) if skippable(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Patches each torrent with what `change` makes of it (None: leave it as it is).
async fn patch_each(
    state: &QbtState,
    torrents: Vec<TorrentSummary>,
    change: impl Fn(&TorrentSummary) -> Option<TorrentPatch>,
) -> Result<(), QbtError> {
    for t in &torrents {
        if let Some(p) = change(t) {
            patch(state, &t.info_hash, p).await?;
        }
    }
    Ok(())
}

pub(super) async fn simple(
    State(state): State<QbtState>,
    form: QbtForm,
    action: TorrentAction,
) -> Result<Response, QbtError> {
    let torrents = selected(&state, &form).await?;
    request_each(&state, torrents, |id, reply| ControlRequest::Action {
        id,
        action,
        reply,
    })
    .await?;
    Ok(text(""))
}

pub(super) async fn queue_move(
    State(state): State<QbtState>,
    form: QbtForm,
    to: QueueMove,
) -> Result<Response, QbtError> {
    let mut torrents = selected(&state, &form).await?;
    // Moving several to the top keeps their order: the last moved ends first.
    if matches!(to, QueueMove::Top | QueueMove::Up) {
        torrents.sort_by_key(|t| std::cmp::Reverse(t.queue_position));
    } else {
        torrents.sort_by_key(|t| t.queue_position);
    }
    request_each(&state, torrents, |id, reply| ControlRequest::MoveInQueue {
        id,
        to,
        reply,
    })
    .await?;
    Ok(text(""))
}

pub(super) async fn delete(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    // qBittorrent keeps the files when `deleteFiles` is missing.
    let delete_data = form.bool("deleteFiles")?.unwrap_or(false);
    let torrents = selected(&state, &form).await?;
    request_each(&state, torrents, |id, reply| ControlRequest::RemoveTorrent {
        id,
        delete_data,
        reply,
    })
    .await?;
    Ok(text(""))
}

pub(super) async fn set_category(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let category = form.required("category")?.trim().to_string();
    let book = state.handle.call(ControlRequest::Categories).await?;
    if !category.is_empty() && !book.categories.contains_key(&category) {
        return Err(QbtError::conflict("Incorrect category name"));
    }
    let torrents = selected(&state, &form).await?;
    patch_each(&state, torrents, |t| {
        let current = category_of(t, &book.categories);
        let mut labels: Vec<String> = t.labels.iter().filter(|l| *l != current).cloned().collect();
        if !category.is_empty() {
            labels.insert(0, category.clone());
        }
        Some(labels_patch(labels))
    })
    .await?;
    Ok(text(""))
}

pub(super) async fn add_tags(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let tags: Vec<String> = split_list(form.required("tags")?, ',').collect();
    if tags.is_empty() {
        return Ok(text(""));
    }
    state
        .handle
        .call(|reply| ControlRequest::EditCategories {
            edit: CategoryEdit::CreateTags(tags.clone()),
            reply,
        })
        .await?;
    let torrents = selected(&state, &form).await?;
    patch_each(&state, torrents, |t| {
        let mut labels = t.labels.clone();
        for tag in &tags {
            if !labels.contains(tag) {
                labels.push(tag.clone());
            }
        }
        (labels != t.labels).then(|| labels_patch(labels))
    })
    .await?;
    Ok(text(""))
}

pub(super) async fn remove_tags(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let tags: Vec<String> = split_list(form.get("tags").unwrap_or(""), ',').collect();
    let book = state.handle.call(ControlRequest::Categories).await?;
    let torrents = selected(&state, &form).await?;
    patch_each(&state, torrents, |t| {
        let category = category_of(t, &book.categories);
        // No tags named: every tag goes (the category stays).
        let labels: Vec<String> = t
            .labels
            .iter()
            .filter(|l| *l == category || (!tags.is_empty() && !tags.contains(l)))
            .cloned()
            .collect();
        (labels != t.labels).then(|| labels_patch(labels))
    })
    .await?;
    Ok(text(""))
}

fn labels_patch(labels: Vec<String>) -> TorrentPatch {
    TorrentPatch {
        labels: Some(labels),
        ..TorrentPatch::default()
    }
}

/// qBittorrent's share-limit values: -2 the global default, -1 none, else the value.
fn share_limit<T>(v: f64, value: impl FnOnce(f64) -> T) -> LimitSetting<T> {
    if v <= -2.0 {
        LimitSetting::Keyword(LimitKeyword::Global)
    } else if v < 0.0 {
        LimitSetting::Keyword(LimitKeyword::None)
    } else {
        LimitSetting::Value(value(v))
    }
}

/// The patch of `setShareLimits` (and of `torrents/add`'s limits): the ratio, and
/// the seeding time in minutes.
pub(super) fn share_limits_patch(
    ratio: Option<f64>,
    seeding_minutes: Option<f64>,
    inactive_minutes: Option<f64>,
) -> Result<TorrentPatch, QbtError> {
    for (name, v) in [
        ("ratioLimit", ratio),
        ("seedingTimeLimit", seeding_minutes),
        ("inactiveSeedingTimeLimit", inactive_minutes),
    ] {
        if v.is_some_and(|v| !v.is_finite()) {
            return Err(QbtError::bad_request(format!("{name}: not a number")));
        }
    }
    Ok(TorrentPatch {
        ratio_limit: ratio.map(|r| share_limit(r, |r| r)),
        seed_time_limit_secs: seeding_minutes.map(|m| share_limit(m, |m| (m as u64).saturating_mul(60))),
        idle_limit_secs: inactive_minutes.map(|m| share_limit(m, |m| (m as u64).saturating_mul(60))),
        ..TorrentPatch::default()
    })
}

pub(super) async fn set_share_limits(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let ratio: f64 = form
        .number("ratioLimit")?
        .ok_or_else(|| QbtError::bad_request("missing parameter: ratioLimit"))?;
    let minutes: f64 = form
        .number("seedingTimeLimit")?
        .ok_or_else(|| QbtError::bad_request("missing parameter: seedingTimeLimit"))?;
    let inactive: Option<f64> = form.number("inactiveSeedingTimeLimit")?;
    let p = share_limits_patch(Some(ratio), Some(minutes), inactive)?;
    let torrents = selected(&state, &form).await?;
    patch_each(&state, torrents, |_| Some(p.clone())).await?;
    Ok(text(""))
}

pub(super) async fn set_force_start(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let on = form.bool("value")?.unwrap_or(false);
    let action = if on {
        TorrentAction::ForceStart
    } else {
        TorrentAction::Resume
    };
    // Turning force off leaves a stopped torrent stopped.
    let torrents = selected(&state, &form)
        .await?
        .into_iter()
        .filter(|t| on || t.force_started);
    request_each(&state, torrents, |id, reply| ControlRequest::Action {
        id,
        action,
        reply,
    })
    .await?;
    Ok(text(""))
}

pub(super) async fn set_location(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let location = form.required("location")?.trim().to_string();
    if location.is_empty() {
        return Err(QbtError::bad_request("Save path cannot be empty"));
    }
    let torrents = selected(&state, &form).await?;
    patch_each(&state, torrents, |t| {
        (t.download_dir != location).then(|| TorrentPatch {
            move_to: Some(location.clone()),
            ..TorrentPatch::default()
        })
    })
    .await
    .map_err(|e| {
        if e.status == 400 {
            e
        } else {
            QbtError::conflict(format!("Cannot move to {location}: {}", e.body))
        }
    })?;
    Ok(text(""))
}

fn rate_patch(form: &QbtForm) -> Result<LimitSetting<u64>, QbtError> {
    let limit: i64 = form
        .number("limit")?
        .ok_or_else(|| QbtError::bad_request("missing parameter: limit"))?;
    Ok(if limit <= 0 {
        LimitSetting::Keyword(LimitKeyword::None)
    } else {
        LimitSetting::Value(limit as u64)
    })
}

pub(super) async fn set_download_limit(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let limit = rate_patch(&form)?;
    let torrents = selected(&state, &form).await?;
    let p = TorrentPatch {
        download_limit: Some(limit),
        ..TorrentPatch::default()
    };
    patch_each(&state, torrents, |_| Some(p.clone())).await?;
    Ok(text(""))
}

pub(super) async fn set_upload_limit(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let limit = rate_patch(&form)?;
    let torrents = selected(&state, &form).await?;
    let p = TorrentPatch {
        upload_limit: Some(limit),
        ..TorrentPatch::default()
    };
    patch_each(&state, torrents, |_| Some(p.clone())).await?;
    Ok(text(""))
}

pub(super) async fn toggle_sequential(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let torrents = selected(&state, &form).await?;
    patch_each(&state, torrents, |t| {
        Some(TorrentPatch {
            sequential: Some(!t.sequential),
            ..TorrentPatch::default()
        })
    })
    .await?;
    Ok(text(""))
}

pub(super) async fn file_prio(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let hash = super::checked_hash(form.required("hash")?)?;
    let priority = match form.required("priority")?.trim() {
        "0" => FilePriorityName::Skip,
        "1" => FilePriorityName::Normal,
        "6" | "7" => FilePriorityName::High,
        other => {
            return Err(QbtError::bad_request(format!(
                "priority: {other:?} is not 0, 1, 6 or 7"
            )))
        }
    };
    let files = split_list(form.required("id")?, '|')
        .map(|i| {
            i.parse::<usize>()
                .map_err(|_| QbtError::bad_request(format!("id: {i:?} is not a file index")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let patch = FilesPatch { files, priority };
    state
        .handle
        .call(|reply| ControlRequest::PatchFiles { id: hash, patch, reply })
        .await
        .map_err(|e| match e.status {
            404 => QbtError::not_found("Torrent hash was not found"),
            400 => QbtError::conflict(e.message),
            _ => e.into(),
        })?;
    Ok(text(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_limits_map_minus_two_to_global_and_minus_one_to_none() {
        let p = share_limits_patch(Some(-2.0), Some(-1.0), None).unwrap();
        assert_eq!(p.ratio_limit, Some(LimitSetting::Keyword(LimitKeyword::Global)));
        assert_eq!(p.seed_time_limit_secs, Some(LimitSetting::Keyword(LimitKeyword::None)));
        assert_eq!(p.idle_limit_secs, None);
        let p = share_limits_patch(Some(1.5), Some(90.0), Some(10.0)).unwrap();
        assert_eq!(p.ratio_limit, Some(LimitSetting::Value(1.5)));
        assert_eq!(p.seed_time_limit_secs, Some(LimitSetting::Value(5400)));
        assert_eq!(p.idle_limit_secs, Some(LimitSetting::Value(600)));
        assert!(share_limits_patch(Some(f64::NAN), None, None)
            .unwrap_err()
            .body
            .starts_with("ratioLimit"));
    }
}
