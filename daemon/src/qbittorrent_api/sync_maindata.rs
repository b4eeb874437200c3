//! `sync/maindata?rid=N`: everything at `rid` 0 (or an unknown one), else only what
//! changed since: changed fields of changed torrents, removed torrents, categories
//! and tags when they changed, and changed `server_state` fields. The torrents come
//! from the core's change log ([`crate::core::change_log`]); the one small
//! `server_state` object is compared with the one sent at that `rid`, kept here.

use std::collections::VecDeque;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::category_routes::categories_json;
use super::error::QbtError;
use super::form::QbtForm;
use super::torrent_view::changed_object;
use super::QbtState;
use crate::control::{ControlRequest, ServerFigures, SyncDelta};

/// `server_state` objects remembered (by the `rid` they were sent with).
pub const SERVER_HISTORY: usize = 64;

/// The `server_state` objects sent lately.
#[derive(Default)]
pub struct ServerHistory {
    sent: VecDeque<(u64, Map<String, Value>)>,
}

impl ServerHistory {
    /// The fields of `now` that differ from what was first sent at `rid` (all of
    /// them when that is unknown), and remembers `now` as sent at `new_rid` if
    /// nothing was yet.
    pub fn diff(&mut self, rid: u64, new_rid: u64, now: Map<String, Value>, full: bool) -> Map<String, Value> {
        let before = if full {
            None
        } else {
            self.sent.iter().rev().find(|(r, _)| *r == rid).map(|(_, m)| m)
        };
        let out = match before {
            Some(old) => now
                .iter()
                .filter(|(k, v)| old.get(*k) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            None => now.clone(),
        };
        // The first object sent at a rid stays its reference: every client at that
        // rid has seen at least it, so a diff against it is never short (at worst a
        // field is sent again).
        if !self.sent.iter().any(|(r, _)| *r == new_rid) {
            self.sent.push_back((new_rid, now));
            while self.sent.len() > SERVER_HISTORY {
                self.sent.pop_front();
            }
        }
        out
    }
}

/// qBittorrent's `server_state` fields from the core's figures.
pub fn server_state(f: &ServerFigures) -> Map<String, Value> {
    let ratio = if f.total_downloaded == 0 {
        0.0
    } else {
        f.total_uploaded as f64 / f.total_downloaded as f64
    };
    let value = json!({
        "dl_info_speed": f.download_rate,
        "up_info_speed": f.upload_rate,
        "dl_info_data": f.session_downloaded,
        "up_info_data": f.session_uploaded,
        "alltime_dl": f.total_downloaded,
        "alltime_ul": f.total_uploaded,
        "dl_rate_limit": f.download_limit.unwrap_or(0),
        "up_rate_limit": f.upload_limit.unwrap_or(0),
        "use_alt_speed_limits": f.alt_speed_active,
        "global_ratio": format!("{ratio:.2}"),
        "total_peer_connections": f.peers,
        "connection_status": "connected",
        "dht_nodes": 0,
        "queueing": true,
        "refresh_interval": 1500,
        "use_subcategories": false,
    });
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The answer for `delta`, with `server_state` already diffed.
pub fn answer(delta: &SyncDelta, server: Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("rid".into(), json!(delta.revision));
    if delta.full_update {
        out.insert("full_update".into(), json!(true));
    }
    if !delta.torrents.is_empty() || delta.full_update {
        let torrents: Map<String, Value> = delta
            .torrents
            .iter()
            .map(|(s, mask)| {
                (
                    s.info_hash.clone(),
                    Value::Object(changed_object(s, *mask, &delta.known_categories)),
                )
            })
            .collect();
        out.insert("torrents".into(), Value::Object(torrents));
    }
    if !delta.torrents_removed.is_empty() {
        out.insert("torrents_removed".into(), json!(delta.torrents_removed));
    }
    if let Some(c) = &delta.categories {
        out.insert("categories".into(), categories_json(c));
    }
    if !delta.categories_removed.is_empty() {
        out.insert("categories_removed".into(), json!(delta.categories_removed));
    }
    if let Some(t) = &delta.tags {
        out.insert("tags".into(), json!(t));
    }
    if !delta.tags_removed.is_empty() {
        out.insert("tags_removed".into(), json!(delta.tags_removed));
    }
    if delta.full_update {
        out.insert("trackers".into(), json!({}));
    }
    if !server.is_empty() {
        out.insert("server_state".into(), Value::Object(server));
    }
    Value::Object(out)
}

pub(super) async fn maindata(State(state): State<QbtState>, form: QbtForm) -> Result<Json<Value>, QbtError> {
    // A bad `rid` is treated as 0, as qBittorrent does.
    let rid: u64 = form.number("rid").unwrap_or(None).unwrap_or(0);
    let delta = state
        .handle
        .call(|reply| ControlRequest::SyncMainData { rid, reply })
        .await?;
    let now = server_state(&delta.server);
    let server = match state.server_history.lock() {
        Ok(mut history) => history.diff(rid, delta.revision, now, delta.full_update),
        Err(_) => now,
    };
    Ok(Json(answer(&delta, server)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_state_sends_only_changed_fields_after_a_known_rid() {
        let mut h = ServerHistory::default();
        let mut f = ServerFigures::default();
        let first = h.diff(0, 5, server_state(&f), true);
        assert!(first.contains_key("dl_info_speed") && first.contains_key("connection_status"));
        assert!(h.diff(5, 5, server_state(&f), false).is_empty());
        f.download_rate = 100;
        // At the same rid (no torrent changed), against what was first sent there.
        let changed = h.diff(5, 5, server_state(&f), false);
        assert_eq!(changed.keys().collect::<Vec<_>>(), vec!["dl_info_speed"]);
        let changed = h.diff(5, 6, server_state(&f), false);
        assert_eq!(changed.keys().collect::<Vec<_>>(), vec!["dl_info_speed"]);
        assert!(h.diff(6, 6, server_state(&f), false).is_empty());
        // An unknown rid gets everything.
        assert_eq!(h.diff(999, 6, server_state(&f), false).len(), first.len());
    }

    #[test]
    fn an_empty_delta_is_a_few_bytes() {
        let delta = SyncDelta {
            revision: 42,
            ..SyncDelta::default()
        };
        let body = serde_json::to_string(&answer(&delta, Map::new())).unwrap();
        assert_eq!(body, r#"{"rid":42}"#);
    }
}
