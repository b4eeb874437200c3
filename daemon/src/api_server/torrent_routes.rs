//! `/api/v1/torrents…`: each handler makes one [`ControlRequest`] and serializes the
//! core's reply.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use base64::Engine as _;

use super::error_response::path_rejection;
use super::query_options::{add_options, delete_data, refuse_query};
use super::request_body::{body_kind, parse_json, read_limited, BodyKind};
use super::session_routes::Done;
use super::{ApiState, MAX_JSON_BODY_BYTES, MAX_TORRENT_BODY_BYTES};
use crate::api_types::{
    AddRequest, AddResponse, FileEntry, FilesPatch, PeerEntry, PieceMap, QueueMove, TorrentDetail, TorrentPatch,
    TorrentSummary, TrackerEntry,
};
use crate::control::{AddSource, ApiError, ControlRequest, TorrentAction, TorrentRef};

/// The `{id}` of a torrent route, as the user wrote it; the core resolves it.
pub(crate) struct TorrentId(pub(crate) TorrentRef);

impl<S: Send + Sync> FromRequestParts<S> for TorrentId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(path_rejection)?;
        if id.is_empty() {
            return Err(ApiError::bad_request("the torrent id in the path is empty"));
        }
        Ok(TorrentId(id))
    }
}

pub(crate) async fn list(State(state): State<ApiState>) -> Result<Json<Vec<TorrentSummary>>, ApiError> {
    state.handle.call(ControlRequest::ListTorrents).await.map(Json)
}

/// `POST /api/v1/torrents`: a raw `.torrent` (options in the query string) or an
/// [`AddRequest`] in JSON naming exactly one source.
pub(crate) async fn add(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<AddResponse>), ApiError> {
    let bytes = read_limited(&headers, body, MAX_TORRENT_BODY_BYTES).await?;
    let is_json = match body_kind(&headers) {
        BodyKind::Json => true,
        BodyKind::Torrent => false,
        // A bencoded .torrent starts with `d`; a JSON add with `{`.
        BodyKind::Unstated => bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
    };
    let (source, options) = if is_json {
        refuse_query(uri.query(), "JSON")?;
        json_add(parse_json::<AddRequest>(&bytes, "add request")?)?
    } else {
        if bytes.is_empty() {
            return Err(ApiError::invalid_torrent(
                "the request body is empty; expected a .torrent file",
            ));
        }
        (AddSource::Metainfo(bytes.to_vec()), add_options(uri.query())?)
    };
    let added = state
        .handle
        .call(|reply| ControlRequest::AddTorrent { source, options, reply })
        .await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// The source of a JSON add: exactly one of `path`, `magnet`, `metainfo_base64`
/// (decoded here, and taken out of the options the core gets).
fn json_add(mut options: AddRequest) -> Result<(AddSource, AddRequest), ApiError> {
    let given = [
        options.path.is_some(),
        options.magnet.is_some(),
        options.metainfo_base64.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count();
    if given != 1 {
        return Err(ApiError::bad_request(format!(
            "an add request names exactly one of `path`, `magnet`, `metainfo_base64`; this one names {given}"
        )));
    }
    let source = if let Some(encoded) = options.metainfo_base64.take() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|err| ApiError::bad_request(format!("field `metainfo_base64` is not base64: {err}")))?;
        AddSource::Metainfo(bytes)
    } else if let Some(path) = &options.path {
        AddSource::Path(path.clone())
    } else if let Some(magnet) = &options.magnet {
        AddSource::Magnet(magnet.clone())
    } else {
        return Err(ApiError::internal("an add request with one source lost it"));
    };
    Ok((source, options))
}

pub(crate) async fn detail(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
) -> Result<Json<TorrentDetail>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::GetTorrent { id, reply })
        .await
        .map(Json)
}

pub(crate) async fn patch(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TorrentSummary>, ApiError> {
    let bytes = read_limited(&headers, body, MAX_JSON_BODY_BYTES).await?;
    let patch: TorrentPatch = parse_json(&bytes, "torrent patch")?;
    state
        .handle
        .call(|reply| ControlRequest::PatchTorrent { id, patch, reply })
        .await
        .map(Json)
}

pub(crate) async fn remove(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
    uri: Uri,
) -> Result<Json<Done>, ApiError> {
    let delete_data = delete_data(uri.query())?;
    state
        .handle
        .call(|reply| ControlRequest::RemoveTorrent { id, delete_data, reply })
        .await?;
    Ok(Json(Done { ok: true }))
}

pub(crate) async fn action(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
    action: TorrentAction,
) -> Result<Json<TorrentSummary>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Action { id, action, reply })
        .await
        .map(Json)
}

pub(crate) async fn move_in_queue(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Vec<TorrentSummary>>, ApiError> {
    let bytes = read_limited(&headers, body, MAX_JSON_BODY_BYTES).await?;
    let to: QueueMove = parse_json(&bytes, "queue move")?;
    state
        .handle
        .call(|reply| ControlRequest::MoveInQueue { id, to, reply })
        .await
        .map(Json)
}

pub(crate) async fn files(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
) -> Result<Json<Vec<FileEntry>>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Files { id, reply })
        .await
        .map(Json)
}

pub(crate) async fn patch_files(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Vec<FileEntry>>, ApiError> {
    let bytes = read_limited(&headers, body, MAX_JSON_BODY_BYTES).await?;
    let patch: FilesPatch = parse_json(&bytes, "files patch")?;
    state
        .handle
        .call(|reply| ControlRequest::PatchFiles { id, patch, reply })
        .await
        .map(Json)
}

pub(crate) async fn peers(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
) -> Result<Json<Vec<PeerEntry>>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Peers { id, reply })
        .await
        .map(Json)
}

pub(crate) async fn trackers(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
) -> Result<Json<Vec<TrackerEntry>>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Trackers { id, reply })
        .await
        .map(Json)
}

pub(crate) async fn pieces(
    State(state): State<ApiState>,
    TorrentId(id): TorrentId,
) -> Result<Json<PieceMap>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Pieces { id, reply })
        .await
        .map(Json)
}
