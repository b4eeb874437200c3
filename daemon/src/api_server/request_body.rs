//! Request bodies: read within a size limit, parsed as JSON with the failing field
//! named.

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT};
use axum::http::HeaderMap;
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;

use crate::control::ApiError;

/// What a request's body is, by its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    /// `application/x-bittorrent` or `application/octet-stream`.
    Torrent,
    /// No type, or another one (curl's `-d` sends `application/x-www-form-urlencoded`).
    Unstated,
}

pub(crate) fn body_kind(headers: &HeaderMap) -> BodyKind {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return BodyKind::Unstated;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => BodyKind::Json,
        "application/x-bittorrent" | "application/octet-stream" => BodyKind::Torrent,
        _ => BodyKind::Unstated,
    }
}

/// Bytes of a refused body still read (and thrown away) so that a client which sends
/// its whole body before reading the answer gets the 413 rather than a reset
/// connection; past this the connection is closed.
pub const MAX_DRAINED_BYTES: u64 = 64 * 1024 * 1024;

/// Reads the whole body, refusing one over `limit` bytes with 413 `body_too_large`:
/// without reading it when its `Content-Length` says so and the client waits for
/// `100 Continue`; else once the bytes read pass the limit, after reading the rest
/// (up to [`MAX_DRAINED_BYTES`]).
pub(crate) async fn read_limited(headers: &HeaderMap, mut body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(declared) = declared {
        if declared > limit as u64 {
            if !expects_continue(headers) && declared <= MAX_DRAINED_BYTES {
                drain(body).await;
            }
            return Err(too_large(limit, Some(declared)));
        }
    }
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| ApiError::bad_request(format!("could not read the request body: {err}")))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if kept.len() + data.len() > limit {
            drain(body).await;
            return Err(too_large(limit, None));
        }
        kept.extend_from_slice(&data);
    }
    Ok(Bytes::from(kept))
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// Reads and discards the rest of a body, at most [`MAX_DRAINED_BYTES`].
async fn drain(mut body: Body) {
    let mut drained: u64 = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            drained += data.len() as u64;
        }
        if drained > MAX_DRAINED_BYTES {
            return;
        }
    }
}

fn too_large(limit: usize, declared: Option<u64>) -> ApiError {
    let size = match declared {
        Some(n) => format!("{n} bytes"),
        None => "more".to_string(),
    };
    ApiError::new(
        413,
        "body_too_large",
        format!("the request body is {size}; this route takes at most {limit} bytes"),
    )
}

/// Parses `body` as the JSON of `T`; a 400 `bad_json` names the field that failed
/// (`what` names the body, e.g. "torrent patch").
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad_json(format!("the {what} body is empty; it must be a JSON object")));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            bad_json(format!("{what}: {inner}"))
        } else {
            bad_json(format!("{what}: field `{path}`: {inner}"))
        }
    })?;
    deserializer.end().map_err(|err| bad_json(format!("{what}: {err}")))?;
    Ok(value)
}

fn bad_json(message: String) -> ApiError {
    ApiError::new(400, "bad_json", message)
}

#[cfg(test)]
mod tests {
    use super::parse_json;
    use crate::api_types::TorrentPatch;

    #[test]
    fn wrong_type_names_the_field() {
        let err = parse_json::<TorrentPatch>(br#"{"sequential": "yes"}"#, "torrent patch").unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.code, "bad_json");
        assert!(err.message.contains("`sequential`"), "{}", err.message);
    }

    #[test]
    fn unknown_field_is_named() {
        let err = parse_json::<TorrentPatch>(br#"{"sequentail": true}"#, "torrent patch").unwrap_err();
        assert!(err.message.contains("sequentail"), "{}", err.message);
    }

    #[test]
    fn trailing_garbage_and_empty_bodies_are_refused() {
        assert!(parse_json::<TorrentPatch>(br#"{} x"#, "torrent patch").is_err());
        let err = parse_json::<TorrentPatch>(b"  ", "torrent patch").unwrap_err();
        assert!(err.message.contains("empty"), "{}", err.message);
        assert_eq!(
            parse_json::<TorrentPatch>(br#"{"sequential": true}"#, "torrent patch")
                .unwrap()
                .sequential,
            Some(true)
        );
    }
}
