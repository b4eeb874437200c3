//! `torrent-add`: a `.torrent` as `metainfo` (base64) or `filename` (a path on the
//! daemon's machine, or a magnet link); answered with `torrent-added`, or with
//! `torrent-duplicate` (still a success) when the torrent is already there.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::rpc_args::Args;
use super::rpc_error::{RpcCode, RpcError};
use super::RpcService;
use crate::api_types::{AddRequest, FilePriorityName, FilesPatch, TorrentSummary};
use crate::control::{AddSource, ControlRequest};

/// Largest `metainfo` taken, decoded (the native API's limit for a `.torrent`).
pub const MAX_METAINFO_BYTES: usize = crate::api_server::MAX_TORRENT_BODY_BYTES;

/// The `.torrent` of `metainfo`: base64 with or without padding, line breaks
/// allowed (transmission-remote 3.00 wraps its base64 at 72 columns).
fn decode_metainfo(encoded: &str) -> Result<Vec<u8>, RpcError> {
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() / 4 * 3 > MAX_METAINFO_BYTES + 3 {
        return Err(RpcError::new(
            RpcCode::CorruptTorrent,
            format!("argument `metainfo`: more than {MAX_METAINFO_BYTES} bytes once decoded"),
        ));
    }
    let engine = base64::engine::general_purpose::STANDARD;
    engine
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.trim_end_matches('=')))
        .map_err(|e| {
            RpcError::new(
                RpcCode::CorruptTorrent,
                format!("argument `metainfo` is not base64: {e}"),
            )
        })
}

fn source(args: &Args) -> Result<AddSource, RpcError> {
    if let Some(encoded) = args.str("metainfo")?.filter(|s| !s.is_empty()) {
        return decode_metainfo(encoded).map(AddSource::Metainfo);
    }
    let Some(filename) = args.str("filename")?.filter(|s| !s.is_empty()) else {
        return Err(RpcError::invalid_params("no filename or metainfo specified"));
    };
    let lower = filename.to_ascii_lowercase();
    if lower.starts_with("magnet:") {
        return Ok(AddSource::Magnet(filename.to_string()));
    }
    if ["http://", "https://", "ftp://", "sftp://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
    {
        return Err(RpcError::new(
            RpcCode::HttpError,
            format!(
                "argument `filename`: ccbt does not download .torrent files from URLs ({filename}); send its \
                 contents as `metainfo` or a magnet link"
            ),
        ));
    }
    Ok(AddSource::Path(filename.to_string()))
}

/// The info-hash of what was being added, to find the torrent it duplicates.
fn info_hash_of(source: &AddSource) -> Option<String> {
    match source {
        AddSource::Metainfo(bytes) => ccbt_engine::metainfo::Metainfo::from_bytes(bytes)
            .ok()
            .map(|m| m.info_hash.to_hex()),
        AddSource::Path(path) => {
            let bytes = std::fs::read(path).ok()?;
            ccbt_engine::metainfo::Metainfo::from_bytes(&bytes)
                .ok()
                .map(|m| m.info_hash.to_hex())
        }
        AddSource::Magnet(link) => ccbt_engine::magnet::MagnetLink::parse(link)
            .ok()
            .map(|m| m.info_hash.to_hex()),
    }
}

fn brief(id: u32, name: &str, hash: &str) -> Value {
    json!({"id": id, "name": name, "hashString": hash})
}

pub async fn torrent_add(svc: &RpcService, args: &Args) -> Result<Map<String, Value>, RpcError> {
    let source = source(args)?;
    let download_dir = args.str("download_dir")?.map(str::to_string);
    if let Some(dir) = &download_dir {
        if !std::path::Path::new(dir).is_absolute() {
            return Err(RpcError::new(
                RpcCode::PathNotAbsolute,
                "download directory path is not absolute",
            ));
        }
    }
    let options = AddRequest {
        download_dir,
        paused: args.bool("paused")?.unwrap_or(false),
        labels: args.strings("labels")?.unwrap_or_default(),
        skip_files: args.indexes("files_unwanted")?.unwrap_or_default(),
        ..AddRequest::default()
    };
    let priorities = [
        ("priority_high", FilePriorityName::High),
        ("priority_low", FilePriorityName::Low),
    ]
    .into_iter()
    .map(|(key, p)| args.indexes(key).map(|files| (p, files)))
    .collect::<Result<Vec<_>, _>>()?;
    let source_copy = source.clone();
    let added = svc
        .handle
        .call(|reply| ControlRequest::AddTorrent { source, options, reply })
        .await;
    let mut out = Map::new();
    match added {
        Ok(added) => {
            for (priority, files) in priorities {
                let Some(files) = files.filter(|f| !f.is_empty()) else {
                    continue;
                };
                let id = added.id.to_string();
                let patch = FilesPatch { files, priority };
                svc.handle
                    .call(|reply| ControlRequest::PatchFiles { id, patch, reply })
                    .await?;
            }
            out.insert("torrent-added".into(), brief(added.id, &added.name, &added.info_hash));
        }
        Err(e) if e.code == "duplicate" => {
            let existing: Option<TorrentSummary> = match info_hash_of(&source_copy) {
                Some(hash) => svc
                    .handle
                    .call(|reply| ControlRequest::GetTorrent { id: hash, reply })
                    .await
                    .ok()
                    .map(|d| d.summary),
                None => None,
            };
            let Some(t) = existing else { return Err(e.into()) };
            out.insert("torrent-duplicate".into(), brief(t.id, &t.name, &t.info_hash));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metainfo_base64_may_be_wrapped_or_unpadded() {
        assert_eq!(decode_metainfo("ZDE6YWkxZWU=").unwrap(), b"d1:ai1ee");
        assert_eq!(decode_metainfo("ZDE6YWkx\nZWU=\n").unwrap(), b"d1:ai1ee");
        assert_eq!(decode_metainfo("ZDE6YWkxZWU").unwrap(), b"d1:ai1ee");
        let e = decode_metainfo("!!!").unwrap_err();
        assert_eq!(e.code, RpcCode::CorruptTorrent);
    }

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => Args::new(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn filename_is_a_path_a_magnet_or_a_refused_url() {
        assert!(
            matches!(source(&args(json!({"filename": "/x/a.torrent"}))), Ok(AddSource::Path(p)) if p == "/x/a.torrent")
        );
        assert!(matches!(
            source(&args(json!({"filename": "magnet:?xt=urn:btih:00"}))),
            Ok(AddSource::Magnet(_))
        ));
        let e = source(&args(json!({"filename": "https://example.org/a.torrent"}))).unwrap_err();
        assert_eq!(e.code, RpcCode::HttpError);
        let e = source(&args(json!({}))).unwrap_err();
        assert_eq!(e.message, "no filename or metainfo specified");
    }
}
