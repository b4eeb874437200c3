//! The methods that act on the torrents `ids` selects: start, stop, verify,
//! reannounce, remove, move the data, and the queue moves.

use serde_json::{Map, Value};

use super::rpc_args::Args;
use super::rpc_error::{RpcCode, RpcError};
use super::torrent_get::selected;
use super::RpcService;
use crate::api_types::{QueueMove, TorrentPatch, TorrentSummary};
use crate::control::{ControlRequest, TorrentAction};

/// `torrent-start`, `-start-now`, `-stop`, `-verify`, `-reannounce`. A reannounce
/// of a torrent that is not running is nothing to do, as in Transmission.
pub async fn action(svc: &RpcService, args: &Args, action: TorrentAction) -> Result<Map<String, Value>, RpcError> {
    let (torrents, _) = selected(svc, args).await?;
    for t in torrents {
        let id = t.id.to_string();
        match svc
            .handle
            .call(|reply| ControlRequest::Action { id, action, reply })
            .await
        {
            Ok(_) => {}
            Err(e) if action == TorrentAction::Reannounce && e.code == "conflict" => {}
            // Removed meanwhile: nothing left to act on.
            Err(e) if e.code == "not_found" => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Map::new())
}

/// `torrent-remove`, with `delete-local-data` (default false). Answers once the
/// torrents are gone (and their data, when asked).
pub async fn remove(svc: &RpcService, args: &Args) -> Result<Map<String, Value>, RpcError> {
    let delete_data = args.bool("delete_local_data")?.unwrap_or(false);
    let (torrents, _) = selected(svc, args).await?;
    for t in torrents {
        let id = t.id.to_string();
        match svc
            .handle
            .call(|reply| ControlRequest::RemoveTorrent { id, delete_data, reply })
            .await
        {
            Ok(()) => {}
            Err(e) if e.code == "not_found" => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Map::new())
}

/// `torrent-set-location`: with `move: true` the data moves to `location` and the
/// torrent goes on from there. Without it Transmission would look for the data
/// already there, which ccbt cannot do: refused, naming the argument.
pub async fn set_location(svc: &RpcService, args: &Args) -> Result<Map<String, Value>, RpcError> {
    let Some(location) = args.str("location")?.map(str::to_string) else {
        return Err(RpcError::invalid_params("argument `location` is required"));
    };
    if !std::path::Path::new(&location).is_absolute() {
        return Err(RpcError::new(
            RpcCode::PathNotAbsolute,
            format!("argument `location`: {location:?} is not an absolute path"),
        ));
    }
    if !args.bool("move")?.unwrap_or(false) {
        return Err(RpcError::invalid_params(
            "argument `move`: ccbt only moves the data to the new location (send `move: true`); it cannot \
             switch a torrent to data that is already there",
        ));
    }
    let (torrents, _) = selected(svc, args).await?;
    for t in torrents {
        if t.download_dir == location {
            continue;
        }
        let id = t.id.to_string();
        let patch = TorrentPatch {
            move_to: Some(location.clone()),
            ..TorrentPatch::default()
        };
        svc.handle
            .call(|reply| ControlRequest::PatchTorrent { id, patch, reply })
            .await?;
    }
    Ok(Map::new())
}

/// The order queue moves go in so the selected torrents keep their relative order:
/// the last first when each goes to the top or down, the first first otherwise.
fn move_order(mut torrents: Vec<TorrentSummary>, to: QueueMove) -> Vec<TorrentSummary> {
    torrents.retain(|t| t.queue_position.is_some());
    torrents.sort_by_key(|t| t.queue_position);
    if matches!(to, QueueMove::Top | QueueMove::Down) {
        torrents.reverse();
    }
    torrents
}

/// `queue-move-top/up/down/bottom`; torrents not in the queue (stopped) stay out of it.
pub async fn queue_move(svc: &RpcService, args: &Args, to: QueueMove) -> Result<Map<String, Value>, RpcError> {
    let (torrents, _) = selected(svc, args).await?;
    for t in move_order(torrents, to) {
        let id = t.id.to_string();
        match svc
            .handle
            .call(|reply| ControlRequest::MoveInQueue { id, to, reply })
            .await
        {
            Ok(_) => {}
            Err(e) if e.code == "not_found" || e.code == "conflict" => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Map::new())
}
