//! `torrent-get`: the torrents `ids` selects, with the fields asked for, as objects
//! or as a table; `removed` too when `ids` is `recently-active`.

use std::time::Instant;

use futures_util::future::join_all;
use serde_json::{json, Map, Value};

use super::rpc_args::Args;
use super::rpc_error::RpcError;
use super::torrent_fields::{self, SessionDefaults, TorrentView};
use super::torrent_ids::{pick, selection, Selection};
use super::RpcService;
use crate::api_types::{TorrentDetail, TorrentSummary};
use crate::control::ControlRequest;

/// The torrents `ids` selects, from a fresh list; with `recently-active`, also the
/// ids removed in the last minute.
pub async fn selected(svc: &RpcService, args: &Args) -> Result<(Vec<TorrentSummary>, Option<Vec<u32>>), RpcError> {
    let which = selection(args)?;
    let all = svc.handle.call(ControlRequest::ListTorrents).await?;
    Ok(match which {
        Selection::All => (all, None),
        Selection::Some(ids) => (pick(&all, &ids).into_iter().cloned().collect(), None),
        Selection::RecentlyActive => {
            let now = Instant::now();
            let Ok(mut log) = svc.recent.lock() else {
                return Ok((all, Some(Vec::new())));
            };
            let removed = log.removed_recently(now);
            let active: Vec<TorrentSummary> = all
                .into_iter()
                .filter(|t| t.download_rate > 0 || t.upload_rate > 0 || log.changed_recently(t.id, now))
                .collect();
            (active, Some(removed))
        }
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `snake_header`: the table's header row in snake_case (a JSON-RPC call; object
/// keys are converted with the rest of the answer).
pub async fn torrent_get(svc: &RpcService, args: &Args, snake_header: bool) -> Result<Map<String, Value>, RpcError> {
    let Some(names) = args.strings("fields")? else {
        return Err(RpcError::invalid_params("no fields specified: `fields` is required"));
    };
    let table = match args.str("format")? {
        None | Some("objects") => false,
        Some("table") => true,
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "argument `format`: {other:?} is neither \"objects\" nor \"table\""
            )))
        }
    };
    let fields = torrent_fields::requested(&names);
    let (torrents, removed) = selected(svc, args).await?;
    let session = svc.handle.call(ControlRequest::GetSession).await?;
    let defaults = SessionDefaults {
        ratio_limit: session.settings.ratio_limit,
        idle_limit_secs: session.settings.idle_limit_secs,
    };
    let details: Vec<Option<TorrentDetail>> = if fields.iter().any(|(_, needs_detail)| *needs_detail) {
        // One detail per torrent, asked of the core all at once; a torrent removed
        // meanwhile simply has none.
        join_all(torrents.iter().map(|t| {
            let id = t.id.to_string();
            svc.handle.call(move |reply| ControlRequest::GetTorrent { id, reply })
        }))
        .await
        .into_iter()
        .map(Result::ok)
        .collect()
    } else {
        Vec::new()
    };
    let now_unix = unix_now();
    let view = |i: usize, summary: &TorrentSummary| -> Value {
        let v = TorrentView {
            summary,
            detail: details.get(i).and_then(Option::as_ref),
            session: defaults,
            now_unix,
        };
        if table {
            Value::Array(torrent_fields::row(&fields, &v))
        } else {
            Value::Object(torrent_fields::object(&fields, &v))
        }
    };
    let mut list: Vec<Value> = Vec::with_capacity(torrents.len() + 1);
    if table {
        let header: Vec<String> = fields
            .iter()
            .map(|(key, _)| {
                if snake_header {
                    super::key_names::snake_case(key)
                } else {
                    (*key).to_string()
                }
            })
            .collect();
        list.push(json!(header));
    }
    list.extend(torrents.iter().enumerate().map(|(i, t)| view(i, t)));
    let mut out = Map::new();
    out.insert("torrents".into(), Value::Array(list));
    if let Some(removed) = removed {
        out.insert("removed".into(), json!(removed));
    }
    Ok(out)
}
