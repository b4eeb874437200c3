//! The read-only torrent calls: `torrents/info`, `properties`, `files`, `trackers`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::error::QbtError;
use super::form::QbtForm;
use super::{checked_hash, torrent_list, QbtState};
use crate::api_types::{FileEntry, FilePriorityName, TorrentDetail, TrackerEntry};
use crate::control::ControlRequest;

pub(super) async fn info(State(state): State<QbtState>, form: QbtForm) -> Result<Json<Value>, QbtError> {
    let summaries = state.handle.call(ControlRequest::ListTorrents).await?;
    let book = state.handle.call(ControlRequest::Categories).await?;
    let rows = torrent_list::list(&summaries, &book.categories, &form)?;
    Ok(Json(Value::Array(rows.into_iter().map(Value::Object).collect())))
}

/// The torrent `hash` names, or 404.
async fn detail(state: &QbtState, form: &QbtForm) -> Result<TorrentDetail, QbtError> {
    let hash = checked_hash(form.required("hash")?)?;
    state
        .handle
        .call(|reply| ControlRequest::GetTorrent { id: hash, reply })
        .await
        .map_err(|e| {
            if e.status == 404 {
                QbtError::not_found("Torrent hash was not found")
            } else {
                e.into()
            }
        })
}

pub(super) fn properties_of(d: &TorrentDetail) -> Value {
    let s = &d.summary;
    let elapsed = s.seconds_downloading + s.seconds_seeding;
    let seeding = s.progress >= 1.0;
    json!({
        "hash": s.info_hash,
        "infohash_v1": s.info_hash,
        "infohash_v2": "",
        "name": s.name,
        "save_path": s.download_dir,
        "download_path": "",
        "creation_date": -1,
        "piece_size": d.piece_length,
        "pieces_num": d.num_pieces,
        "pieces_have": d.pieces_have,
        "comment": "",
        "created_by": "",
        "total_wasted": 0,
        "total_uploaded": s.uploaded,
        "total_uploaded_session": s.uploaded,
        "total_downloaded": s.downloaded,
        "total_downloaded_session": s.downloaded,
        "up_limit": s.upload_limit.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX)),
        "dl_limit": s.download_limit.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX)),
        "time_elapsed": elapsed,
        "seeding_time": s.seconds_seeding,
        "nb_connections": s.peers,
        "nb_connections_limit": -1,
        "share_ratio": s.ratio,
        "addition_date": s.added_at,
        "completion_date": s.completed_at.map_or(-1, |t| i64::try_from(t).unwrap_or(-1)),
        "last_seen": -1,
        "dl_speed": s.download_rate,
        "dl_speed_avg": s.downloaded.checked_div(s.seconds_downloading).unwrap_or(0),
        "up_speed": s.upload_rate,
        "up_speed_avg": s.uploaded.checked_div(elapsed).unwrap_or(0),
        "eta": s.eta_secs.map_or(super::torrent_view::ETA_INFINITE, |e| i64::try_from(e).unwrap_or(super::torrent_view::ETA_INFINITE)),
        "peers": if seeding { s.peers } else { 0 },
        "peers_total": if seeding { s.peers } else { 0 },
        "seeds": if seeding { 0 } else { s.peers },
        "seeds_total": if seeding { 0 } else { s.peers },
        "reannounce": d.trackers.iter().filter_map(|t| t.next_announce_secs).min().unwrap_or(0),
        "total_size": s.total_bytes,
        "is_private": s.private,
        "isPrivate": s.private,
        "has_metadata": s.state != crate::api_types::TorrentStateName::Metadata,
    })
}

pub(super) async fn properties(State(state): State<QbtState>, form: QbtForm) -> Result<Json<Value>, QbtError> {
    Ok(Json(properties_of(&detail(&state, &form).await?)))
}

/// qBittorrent's file priorities: 0 skip, 1 normal, 6 high (7 maximal).
pub(super) fn file_priority(p: FilePriorityName) -> u8 {
    match p {
        FilePriorityName::Skip => 0,
        FilePriorityName::Low | FilePriorityName::Normal => 1,
        FilePriorityName::High => 6,
    }
}

fn file_of(f: &FileEntry, piece_length: u32, offset: u64) -> Value {
    let piece_length = u64::from(piece_length.max(1));
    let first = offset / piece_length;
    let last = (offset + f.length.max(1) - 1) / piece_length;
    json!({
        "index": f.index,
        "name": f.path,
        "size": f.length,
        "progress": f.progress,
        "priority": file_priority(f.priority),
        "is_seed": f.progress >= 1.0,
        "piece_range": [first, last],
        "availability": -1,
    })
}

pub(super) fn files_of(d: &TorrentDetail) -> Value {
    let mut offset = 0u64;
    let mut out = Vec::with_capacity(d.files.len());
    for f in &d.files {
        if !f.padding {
            out.push(file_of(f, d.piece_length, offset));
        }
        offset += f.length;
    }
    Value::Array(out)
}

pub(super) async fn files(State(state): State<QbtState>, form: QbtForm) -> Result<Json<Value>, QbtError> {
    Ok(Json(files_of(&detail(&state, &form).await?)))
}

/// qBittorrent's tracker status: 1 not contacted, 2 working, 4 not working.
fn tracker_of(t: &TrackerEntry) -> Value {
    let status = match t.status.as_str() {
        "working" => 2,
        "updating" => 3,
        "error" => 4,
        _ => 1,
    };
    json!({
        "url": t.url,
        "status": status,
        "tier": t.tier,
        "num_peers": -1,
        "num_seeds": t.seeders.map_or(-1, i64::from),
        "num_leeches": t.leechers.map_or(-1, i64::from),
        "num_downloaded": -1,
        "msg": t.last_error.clone().unwrap_or_default(),
    })
}

pub(super) async fn trackers(State(state): State<QbtState>, form: QbtForm) -> Result<Json<Value>, QbtError> {
    let d = detail(&state, &form).await?;
    Ok(Json(Value::Array(d.trackers.iter().map(tracker_of).collect())))
}
