//! `GET /api/v1/torrents/changes?since=REV`: the torrents that changed since a
//! revision, read from the core's change log (the record behind qBittorrent's
//! `sync/maindata`), so a dashboard follows every torrent without a full list each
//! second.

use axum::extract::State;
use axum::http::Uri;
use axum::Json;

use super::ApiState;
use crate::api_types::TorrentChanges;
use crate::control::{ApiError, ControlRequest};

pub(crate) async fn changes(State(state): State<ApiState>, uri: Uri) -> Result<Json<TorrentChanges>, ApiError> {
    let since = since(uri.query())?;
    let delta = state
        .handle
        .call(|reply| ControlRequest::SyncMainData { rid: since, reply })
        .await?;
    Ok(Json(TorrentChanges {
        revision: delta.revision,
        full: delta.full_update,
        torrents: delta.torrents.into_iter().map(|(summary, _)| summary).collect(),
        removed: delta.torrents_removed,
    }))
}

/// `since` (default 0: everything); any other parameter is refused by name.
fn since(query: Option<&str>) -> Result<u64, ApiError> {
    let mut since = 0;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "since" => {
                since = value.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "query parameter `since`: `{value}` is not a revision (a whole number)"
                    ))
                })?
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`; torrent changes take since"
                )))
            }
        }
    }
    Ok(since)
}

#[cfg(test)]
mod tests {
    use super::since;

    #[test]
    fn since_defaults_to_zero_and_names_bad_values() {
        assert_eq!(since(None).unwrap(), 0);
        assert_eq!(since(Some("since=4294967301")).unwrap(), 4_294_967_301);
        let err = since(Some("since=-1")).unwrap_err();
        assert!(err.message.contains("`since`"), "{}", err.message);
        let err = since(Some("rid=1")).unwrap_err();
        assert!(err.message.contains("`rid`"), "{}", err.message);
    }
}
