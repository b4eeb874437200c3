//! Options carried in the query string: those of a raw `.torrent` upload
//! (`download_dir`, `paused`, `sequential`, `label`…, `peer`…) and `delete_data` of a
//! removal. Repeated keys make lists, which axum's `Query` cannot express.

use crate::api_types::AddRequest;
use crate::control::ApiError;

const ADD_KEYS: &str = "download_dir, paused, sequential, label, peer";

/// The options of `POST /api/v1/torrents` with a `.torrent` body.
pub(crate) fn add_options(query: Option<&str>) -> Result<AddRequest, ApiError> {
    let mut options = AddRequest::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "download_dir" => options.download_dir = Some(non_empty(&key, value.into_owned())?),
            "paused" => options.paused = flag(&key, &value)?,
            "sequential" => options.sequential = flag(&key, &value)?,
            "label" => options.labels.push(non_empty(&key, value.into_owned())?),
            "peer" => options.peers.push(non_empty(&key, value.into_owned())?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`; a .torrent upload takes {ADD_KEYS}"
                )))
            }
        }
    }
    Ok(options)
}

/// `delete_data` of `DELETE /api/v1/torrents/{id}` (default false).
pub(crate) fn delete_data(query: Option<&str>) -> Result<bool, ApiError> {
    let mut delete = false;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "delete_data" => delete = flag(&key, &value)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`; removing a torrent takes delete_data"
                )))
            }
        }
    }
    Ok(delete)
}

/// A request with options only in its JSON body must not carry a query too (they
/// would be silently ignored).
pub(crate) fn refuse_query(query: Option<&str>, body_kind: &str) -> Result<(), ApiError> {
    match query {
        Some(q) if !q.is_empty() => Err(ApiError::bad_request(format!(
            "a {body_kind} body takes its options in the body, not in the query string (`{q}`)"
        ))),
        _ => Ok(()),
    }
}

/// `true`/`1`/bare key → true, `false`/`0` → false.
fn flag(key: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(ApiError::bad_request(format!(
            "query parameter `{key}`: `{other}` is not true or false"
        ))),
    }
}

fn non_empty(key: &str, value: String) -> Result<String, ApiError> {
    if value.is_empty() {
        Err(ApiError::bad_request(format!("query parameter `{key}` is empty")))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::{add_options, delete_data};

    #[test]
    fn repeated_labels_and_peers_make_lists() {
        let options = add_options(Some(
            "download_dir=%2Fsrv%2Fdl&paused=true&sequential&label=a&label=b%20c&peer=127.0.0.1:6881",
        ))
        .unwrap();
        assert_eq!(options.download_dir.as_deref(), Some("/srv/dl"));
        assert!(options.paused);
        assert!(options.sequential);
        assert_eq!(options.labels, vec!["a".to_string(), "b c".to_string()]);
        assert_eq!(options.peers, vec!["127.0.0.1:6881".to_string()]);
        assert_eq!(add_options(None).unwrap(), Default::default());
    }

    #[test]
    fn unknown_keys_and_bad_flags_are_named() {
        let err = add_options(Some("labels=x")).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("`labels`"), "{}", err.message);
        let err = add_options(Some("paused=maybe")).unwrap_err();
        assert!(err.message.contains("`paused`"), "{}", err.message);
        let err = add_options(Some("label=")).unwrap_err();
        assert!(err.message.contains("`label`"), "{}", err.message);
    }

    #[test]
    fn delete_data_defaults_to_false() {
        assert!(!delete_data(None).unwrap());
        assert!(delete_data(Some("delete_data=true")).unwrap());
        assert!(!delete_data(Some("delete_data=0")).unwrap());
        assert!(delete_data(Some("force=1")).is_err());
    }
}
